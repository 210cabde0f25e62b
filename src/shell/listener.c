#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ratelimit.h"
#include "command.h"
#include "linesrv.h"
#include "log.h"
#include "netauth.h"

#define LIMITED_LOG_MS 10000 /* one "rate limited" warning per this */

/* A connection's state beyond its line server's (linesrv_data). */
struct lconn {
	uint8_t key[RATELIMIT_KEY_MAX]; /* the source, for its bucket */
	size_t key_len;
	char peer[80];
	char challenge[AUTH_CHALLENGE_MAX];
};

struct listener {
	const struct command *cmd;
	struct linesrv *srv;
	int fd; /* listening socket, or -1 when off */
	char *address;
	unsigned char *secret;
	size_t secret_len;
	struct ratelimit rl;
	uint64_t now;
	uint64_t limited_logged;
	unsigned long limited;
};

/* Over the network only a switch: switch, toggle, next, prev. */
static const struct command_perms network_perms = {
	auth_command_allowed, "is not allowed over the network (switch, toggle, next, prev)"
};

static void on_accept(void *data);
static void on_line(void *data, struct linesrv_conn *conn, const char *line, size_t len);
static void on_overlong(void *data, struct linesrv_conn *conn);
static void on_timeout(void *data, struct linesrv_conn *conn);

struct listener *listener_create(const struct command *cmd)
{
	/* A response line, then one reply line: nothing piles up. */
	static const struct linesrv_limits lim = { AUTH_RESPONSE_MAX - 1, 4096, 0 };
	struct listener *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	const struct linesrv_ops ops = { l, on_accept, on_line, on_overlong, on_timeout };
	l->cmd = cmd;
	l->fd = -1;
	l->srv = linesrv_create(&ops, &lim);
	if (!l->srv || netauth_init() < 0) {
		linesrv_destroy(l->srv);
		free(l);
		return NULL;
	}
	ratelimit_init(&l->rl, 10);
	return l;
}

int listener_fd(const struct listener *l)
{
	return linesrv_fd(l->srv);
}

static void close_listening(struct listener *l)
{
	linesrv_kill_all(l->srv);
	if (l->fd >= 0) {
		linesrv_unlisten(l->srv, l->fd);
		close(l->fd);
		l->fd = -1;
	}
}

void listener_destroy(struct listener *l)
{
	if (!l)
		return;
	close_listening(l);
	linesrv_destroy(l->srv);
	free(l->address);
	netauth_secret_free(l->secret, l->secret_len);
	free(l);
}

static int open_listening(const char *address, int *out, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	if (netauth_parse_address(address, true, &sa, &salen, err, errlen) < 0)
		return -1;
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s%s", address, strerror(errno),
			 sa.ss_family == AF_VSOCK && errno == EAFNOSUPPORT ? " (is the vhost_vsock module loaded?)" : "");
		return -1;
	}
	int one = 1;
	if (sa.ss_family != AF_VSOCK) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* The libvirt bridge may get its address after we start. */
		if (sa.ss_family == AF_INET)
			setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
#ifdef IPV6_FREEBIND
		else
			setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
#endif
	}
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot listen on %s: %s", address, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	*out = fd;
	return 0;
}

int listener_configure(struct listener *l, const struct listener_conf *conf, char *err, size_t errlen)
{
	char why[CONFIG_ERR_MAX];
	if (!conf->enabled) {
		if (l->fd >= 0)
			log_info("listener on %s stopped", l->address);
		close_listening(l);
		netauth_secret_free(l->secret, l->secret_len);
		l->secret = NULL;
		free(l->address);
		l->address = NULL;
		return 0;
	}
	unsigned char *secret;
	size_t secret_len;
	if (netauth_read_secret(conf->secret_file, &secret, &secret_len, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "[listener]: %s", why);
		return -1;
	}
	bool same = l->fd >= 0 && l->address && !strcmp(l->address, conf->address);
	if (!same) {
		char *addr = strdup(conf->address);
		int fd = -1;
		int rc = addr ? open_listening(addr, &fd, why, sizeof(why)) : -1;
		if (rc < 0 && addr && errno == EADDRINUSE && l->fd >= 0) {
			/* The port we hold ourselves on another address. */
			close_listening(l);
			rc = open_listening(addr, &fd, why, sizeof(why));
		}
		if (rc == 0 && linesrv_listen(l->srv, fd) < 0) {
			snprintf(why, sizeof(why), "cannot watch the socket: %s", strerror(errno));
			close(fd);
			rc = -1;
		}
		if (rc < 0) {
			snprintf(err, errlen, "[listener]: %s", addr ? why : "out of memory");
			free(addr);
			netauth_secret_free(secret, secret_len);
			return -1;
		}
		close_listening(l);
		l->fd = fd;
		free(l->address);
		l->address = addr;
		ratelimit_init(&l->rl, conf->rate_per_minute);
		log_info("listener on %s (rate limit %u per minute per source)", addr, conf->rate_per_minute);
	} else {
		ratelimit_set_rate(&l->rl, conf->rate_per_minute);
	}
	netauth_secret_free(l->secret, l->secret_len);
	l->secret = secret;
	l->secret_len = secret_len;
	return 0;
}

/* The source of a connection: its bucket key and a printable name. */
static void peer_identity(const struct sockaddr_storage *sa, struct lconn *c)
{
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			c->key[0] = 4;
			memcpy(c->key + 1, s6->sin6_addr.s6_addr + 12, 4);
			c->key_len = 5;
			inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, c->peer, sizeof(c->peer));
		} else {
			c->key[0] = 6;
			memcpy(c->key + 1, &s6->sin6_addr, 16);
			c->key_len = 17;
			inet_ntop(AF_INET6, &s6->sin6_addr, c->peer, sizeof(c->peer));
		}
	} else if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		c->key[0] = 4;
		memcpy(c->key + 1, &s4->sin_addr, 4);
		c->key_len = 5;
		inet_ntop(AF_INET, &s4->sin_addr, c->peer, sizeof(c->peer));
	} else if (sa->ss_family == AF_VSOCK) {
		const struct sockaddr_vm *vm = (const struct sockaddr_vm *)sa;
		c->key[0] = 'v';
		memcpy(c->key + 1, &vm->svm_cid, 4);
		c->key_len = 5;
		snprintf(c->peer, sizeof(c->peer), "vsock CID %u", vm->svm_cid);
	} else {
		c->key[0] = '?';
		c->key_len = 1;
		snprintf(c->peer, sizeof(c->peer), "(unknown)");
	}
}

static void on_accept(void *data)
{
	struct listener *l = data;
	if (l->fd < 0)
		return;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		int fd = accept4(l->fd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_warn("listener: accept: %s", strerror(errno));
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("listener: accept: %s", strerror(errno));
			return;
		}
		struct lconn who = { 0 };
		peer_identity(&sa, &who);
		/* Every connection costs a token; a good one gets it back. */
		if (!ratelimit_take(&l->rl, who.key, who.key_len, l->now)) {
			linesrv_refuse(fd, "error rate limited: too many attempts; try again later\n");
			l->limited++;
			if (l->now - l->limited_logged >= LIMITED_LOG_MS || !l->limited_logged) {
				log_warn("listener: %s is rate limited (%lu refused so far)", who.peer, l->limited);
				l->limited_logged = l->now;
			}
			continue;
		}
		if (linesrv_count(l->srv) >= LISTENER_MAX_CONNS) {
			linesrv_refuse(fd, "error busy\n");
			continue;
		}
		struct linesrv_conn *conn = linesrv_add(l->srv, fd, sizeof(struct lconn));
		if (!conn)
			continue;
		struct lconn *c = linesrv_data(conn);
		*c = who;
		uint8_t nonce[AUTH_NONCE_BYTES];
		randombytes_buf(nonce, sizeof(nonce));
		auth_challenge_format(nonce, c->challenge);
		linesrv_set_deadline(conn, l->now + LISTENER_TIMEOUT_MS);
		linesrv_reply(conn, "%s", c->challenge);
		linesrv_flush(conn);
		log_debug("listener: connection from %s", c->peer);
	}
}

/* ---- the reply sink of an authenticated command (command.h) ---- */

struct answer {
	char line[512];
};

static void sink_reply(void *data, const char *line)
{
	struct answer *a = data;
	snprintf(a->line, sizeof(a->line), "%s", line);
}

/* One line, then the connection is done. */
static void finish(struct linesrv_conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finish(struct linesrv_conn *conn, const char *fmt, ...)
{
	char line[511];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	linesrv_reply(conn, "%s", line);
	linesrv_close(conn);
}

static void on_line(void *data, struct linesrv_conn *conn, const char *line, size_t len)
{
	struct listener *l = data;
	struct lconn *c = linesrv_data(conn);
	uint8_t mac[AUTH_MAC_BYTES], want[AUTH_MAC_BYTES];
	const char *cmd;
	size_t cmd_len;
	char err[256];
	if (auth_response_parse(line, len, mac, &cmd, &cmd_len, err, sizeof(err)) < 0) {
		log_warn("listener: bad response from %s", c->peer);
		finish(conn, "error %s", err);
		return;
	}
	char *msg;
	size_t msg_len;
	if (auth_message(c->challenge, cmd, cmd_len, &msg, &msg_len) < 0) {
		finish(conn, "error out of memory");
		return;
	}
	int rc = netauth_mac(l->secret, l->secret_len, msg, msg_len, want);
	free(msg);
	if (rc < 0 || sodium_memcmp(mac, want, sizeof(mac)) != 0) {
		log_warn("listener: authentication failed from %s", c->peer);
		finish(conn, "error authentication failed");
		return;
	}
	/* Authenticated: this attempt does not count against the source. */
	ratelimit_refund(&l->rl, c->key, c->key_len, l->now);
	struct proto_request req;
	if (proto_parse(cmd, cmd_len, &req, err, sizeof(err)) < 0) {
		finish(conn, "error %s", err);
		return;
	}
	/* Answered at once: no deferral (a usb target's attach is not awaited). */
	struct answer a = { "error internal: no reply" };
	const struct command_sink sink = { &a, sink_reply, NULL, NULL, NULL };
	if (command_run(l->cmd, &req, &network_perms, &sink) < 0)
		log_warn("listener: %s sent '%s', which is not allowed over the network", c->peer,
			 proto_cmd_name(req.cmd));
	else
		log_info("listener: %s: %s%s%s -> %s", c->peer, proto_cmd_name(req.cmd), req.arg[0] ? " " : "",
			 req.arg, a.line);
	finish(conn, "%s", a.line);
}

static void on_overlong(void *data, struct linesrv_conn *conn)
{
	finish(conn, "error response longer than %d bytes", AUTH_RESPONSE_MAX - 1);
}

static void on_timeout(void *data, struct linesrv_conn *conn)
{
	log_debug("listener: %s timed out", ((struct lconn *)linesrv_data(conn))->peer);
	finish(conn, "error timed out");
}

void listener_dispatch(struct listener *l, uint64_t now_ms)
{
	l->now = now_ms;
	linesrv_dispatch(l->srv, now_ms);
}

void listener_tick(struct listener *l, uint64_t now_ms)
{
	l->now = now_ms;
	linesrv_tick(l->srv, now_ms);
}

uint64_t listener_next_deadline(const struct listener *l)
{
	return linesrv_next_deadline(l->srv);
}
