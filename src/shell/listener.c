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
#include <sys/epoll.h>
#include <unistd.h>

#include "core/ratelimit.h"
#include "log.h"
#include "netauth.h"

#define LIMITED_LOG_MS 10000 /* one "rate limited" warning per this */

struct lconn {
	int fd;
	uint8_t key[RATELIMIT_KEY_MAX]; /* the source, for its bucket */
	size_t key_len;
	char peer[80];
	char challenge[AUTH_CHALLENGE_MAX];
	uint64_t deadline;
	size_t in_len;
	char in[AUTH_RESPONSE_MAX];
	struct lconn *next;
};

struct listener {
	struct ctl *ctl;
	int epfd;
	int fd; /* listening socket, or -1 when off */
	char *address;
	unsigned char *secret;
	size_t secret_len;
	struct ratelimit rl;
	struct lconn *conns;
	unsigned n_conns;
	uint64_t now;
	uint64_t limited_logged;
	unsigned long limited, failed, accepted;
};

/* ---- the listener ---- */

struct listener *listener_create(struct ctl *ctl)
{
	struct listener *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->ctl = ctl;
	l->fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0 || netauth_init() < 0) {
		if (l->epfd >= 0)
			close(l->epfd);
		free(l);
		return NULL;
	}
	ratelimit_init(&l->rl, 10);
	return l;
}

int listener_fd(const struct listener *l)
{
	return l->epfd;
}

const char *listener_address(const struct listener *l)
{
	return l->fd >= 0 ? l->address : NULL;
}

static void conn_close(struct listener *l, struct lconn *c)
{
	for (struct lconn **pp = &l->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	sodium_memzero(c, sizeof(*c));
	free(c);
	l->n_conns--;
}

/* One line, then the connection is done. */
static void conn_finish(struct listener *l, struct lconn *c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void conn_finish(struct listener *l, struct lconn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	shutdown(c->fd, SHUT_RDWR);
	conn_close(l, c);
}

static void close_listening(struct listener *l)
{
	while (l->conns)
		conn_close(l, l->conns);
	if (l->fd >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->fd, NULL);
		close(l->fd);
		l->fd = -1;
	}
}

void listener_destroy(struct listener *l)
{
	if (!l)
		return;
	close_listening(l);
	close(l->epfd);
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
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
		if (rc == 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
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

static void accept_conns(struct listener *l)
{
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
		struct lconn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		peer_identity(&sa, c);
		/* Every connection costs a token; a good one gets it back. */
		if (!ratelimit_take(&l->rl, c->key, c->key_len, l->now)) {
			static const char msg[] = "error rate limited: too many attempts; try again later\n";
			ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			l->limited++;
			if (l->now - l->limited_logged >= LIMITED_LOG_MS || !l->limited_logged) {
				log_warn("listener: %s is rate limited (%lu refused so far)", c->peer, l->limited);
				l->limited_logged = l->now;
			}
			close(fd);
			free(c);
			continue;
		}
		if (l->n_conns >= LISTENER_MAX_CONNS) {
			static const char msg[] = "error busy\n";
			ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			close(fd);
			free(c);
			continue;
		}
		uint8_t nonce[AUTH_NONCE_BYTES];
		randombytes_buf(nonce, sizeof(nonce));
		auth_challenge_format(nonce, c->challenge);
		c->deadline = l->now + LISTENER_TIMEOUT_MS;
		char line[AUTH_CHALLENGE_MAX + 1];
		int n = snprintf(line, sizeof(line), "%s\n", c->challenge);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n ||
		    epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = l->conns;
		l->conns = c;
		l->n_conns++;
		log_debug("listener: connection from %s", c->peer);
	}
}

static void handle_response(struct listener *l, struct lconn *c, size_t len)
{
	uint8_t mac[AUTH_MAC_BYTES], want[AUTH_MAC_BYTES];
	const char *cmd;
	size_t cmd_len;
	char err[256];
	if (auth_response_parse(c->in, len, mac, &cmd, &cmd_len, err, sizeof(err)) < 0) {
		l->failed++;
		log_warn("listener: bad response from %s", c->peer);
		conn_finish(l, c, "error %s", err);
		return;
	}
	char *msg;
	size_t msg_len;
	if (auth_message(c->challenge, cmd, cmd_len, &msg, &msg_len) < 0) {
		conn_finish(l, c, "error out of memory");
		return;
	}
	int rc = netauth_mac(l->secret, l->secret_len, msg, msg_len, want);
	free(msg);
	if (rc < 0 || sodium_memcmp(mac, want, sizeof(mac)) != 0) {
		l->failed++;
		log_warn("listener: authentication failed from %s", c->peer);
		conn_finish(l, c, "error authentication failed");
		return;
	}
	/* Authenticated: this attempt does not count against the source. */
	ratelimit_refund(&l->rl, c->key, c->key_len, l->now);
	struct proto_request req;
	if (proto_parse(cmd, cmd_len, &req, err, sizeof(err)) < 0) {
		conn_finish(l, c, "error %s", err);
		return;
	}
	if (!auth_command_allowed(req.cmd)) {
		log_warn("listener: %s sent '%s', which is not allowed over the network", c->peer, proto_cmd_name(req.cmd));
		conn_finish(l, c, "error '%s' is not allowed over the network (switch, toggle, next, prev)",
			    proto_cmd_name(req.cmd));
		return;
	}
	char reply[512];
	if (ctl_inject(l->ctl, &req, reply, sizeof(reply)) < 0)
		snprintf(reply, sizeof(reply), "error out of memory");
	l->accepted++;
	log_info("listener: %s: %s%s%s -> %s", c->peer, proto_cmd_name(req.cmd), req.arg[0] ? " " : "", req.arg, reply);
	conn_finish(l, c, "%s", reply);
}

static void conn_readable(struct listener *l, struct lconn *c)
{
	for (;;) {
		if (c->in_len == sizeof(c->in)) {
			l->failed++;
			conn_finish(l, c, "error response longer than %zu bytes", sizeof(c->in) - 1);
			return;
		}
		ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			/* Gone without a full response: a failed attempt. */
			l->failed++;
			conn_close(l, c);
			return;
		}
		char *nl = memchr(c->in + c->in_len, '\n', (size_t)r);
		c->in_len += (size_t)r;
		if (nl) {
			handle_response(l, c, (size_t)(nl - c->in));
			return;
		}
	}
}

void listener_dispatch(struct listener *l, uint64_t now_ms)
{
	struct epoll_event ev[16];
	l->now = now_ms;
	int n = epoll_wait(l->epfd, ev, 16, 0);
	for (int i = 0; i < n; i++) {
		if (!ev[i].data.ptr) {
			if (l->fd >= 0)
				accept_conns(l);
			continue;
		}
		/* Still ours? (an earlier event in this batch may have closed it) */
		struct lconn *c = l->conns;
		while (c && c != ev[i].data.ptr)
			c = c->next;
		if (c)
			conn_readable(l, c);
	}
}

void listener_tick(struct listener *l, uint64_t now_ms)
{
	l->now = now_ms;
	for (struct lconn *c = l->conns, *next; c; c = next) {
		next = c->next;
		if (now_ms >= c->deadline) {
			l->failed++;
			log_debug("listener: %s timed out", c->peer);
			conn_finish(l, c, "error timed out");
		}
	}
}

uint64_t listener_next_deadline(const struct listener *l)
{
	uint64_t when = UINT64_MAX;
	for (const struct lconn *c = l->conns; c; c = c->next)
		if (c->deadline < when)
			when = c->deadline;
	return when;
}
