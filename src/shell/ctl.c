#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "command.h"
#include "linesrv.h"
#include "log.h"

/* A client's state beyond its connection (linesrv_data). */
struct ctl_client {
	struct ctl *ctl;
	bool subscribed;
	bool monitoring; /* gets the input events (monitor) */
	uid_t uid;       /* SO_PEERCRED at accept */
	uint64_t ticket; /* a deferred reply is owed (sink_defer), or 0 */
};

struct ctl {
	int fd;    /* listening socket */
	int spare; /* an fd kept for accept() to shed a client when out of fds */
	char *path;
	dev_t dev; /* the socket file we made, so we remove only that one */
	ino_t ino;
	const struct command *cmd;
	struct linesrv *srv;
	uint64_t last_ticket;
};

/* The daemon's own user may run every command. */
static const struct command_perms local_perms = { NULL, NULL };

/* Root (when the daemon runs as another user) may run every command but
 * monitor, which shows what is typed: for the daemon's own user only
 * (docs/SECURITY.md). */
static bool not_monitor(enum proto_cmd cmd)
{
	return cmd != PROTO_MONITOR;
}

static const struct command_perms root_perms = { not_monitor, "is only for the daemon's own user: it shows what is typed" };

int ctl_default_path(char *buf, size_t len, char *err, size_t errlen)
{
	const char *env = getenv("KVMSWITCH_SOCKET");
	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return 0;
	}
	const char *rt = getenv("XDG_RUNTIME_DIR");
	if ((!rt || !*rt) && geteuid() == 0) {
		/* root without a session (sudo, a system service): the system
		 * unit's path, so `sudo kvmswitch status` finds `sudo kvmswitch run`. */
		snprintf(buf, len, "%s", CTL_ROOT_PATH);
		return 0;
	}
	if (!rt || !*rt) {
		snprintf(err, errlen,
			 "XDG_RUNTIME_DIR is not set; set KVMSWITCH_SOCKET to the control socket's path");
		return -1;
	}
	snprintf(buf, len, "%s/kvmswitch.sock", rt);
	return 0;
}

static void on_accept(void *data);
static void on_line(void *data, struct linesrv_conn *conn, const char *line, size_t len);
static void on_overlong(void *data, struct linesrv_conn *conn);

static struct ctl *ctl_new(int fd, const char *path, const struct command *cmd)
{
	static const struct linesrv_limits lim = { PROTO_LINE_MAX - 1, CTL_OUT_MAX, CTL_IDLE_MS };
	struct ctl *ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return NULL;
	const struct linesrv_ops ops = { ctl, on_accept, on_line, on_overlong, NULL };
	ctl->fd = fd;
	ctl->cmd = cmd;
	ctl->path = strdup(path);
	ctl->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ctl->srv = linesrv_create(&ops, &lim);
	if (!ctl->path || !ctl->srv || linesrv_listen(ctl->srv, fd) < 0) {
		int e = errno;
		linesrv_destroy(ctl->srv);
		if (ctl->spare >= 0)
			close(ctl->spare);
		free(ctl->path);
		free(ctl);
		errno = e;
		return NULL;
	}
	return ctl;
}

struct ctl *ctl_create(const char *path, const struct command *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	/* Is someone listening there? Then it is not ours to take. Only a
	 * refused connection means its daemon is gone: a full backlog (a live
	 * but stopped daemon) or a socket we may not use is not stale. */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			close(fd);
			errno = EEXIST;
			return NULL;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			close(fd);
			return NULL;
		}
		int rc = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		int e = errno;
		close(probe);
		if (rc == 0 || e != ECONNREFUSED) {
			close(fd);
			errno = rc == 0 || e == EAGAIN || e == EINPROGRESS ? EADDRINUSE : e;
			return NULL;
		}
		unlink(path); /* stale: its daemon is gone */
	}
	/* No moment where the socket exists with looser permissions. */
	mode_t old = umask(0077);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0 && errno == ENOENT && strcmp(path, CTL_ROOT_PATH) == 0) {
		/* Outside systemd nobody made root's runtime directory. */
		if (mkdir("/run/kvmswitch", 0700) == 0 || errno == EEXIST)
			rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	umask(old);
	if (rc < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	if (chmod(path, 0600) < 0 || lstat(path, &st) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		errno = e;
		return NULL;
	}
	struct ctl *ctl = ctl_new(fd, path, cmd);
	if (!ctl) {
		int e = errno;
		close(fd);
		unlink(path);
		errno = e;
		return NULL;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	return ctl;
}

void ctl_destroy(struct ctl *ctl, bool unlink_path)
{
	if (!ctl)
		return;
	linesrv_destroy(ctl->srv);
	close(ctl->fd);
	if (ctl->spare >= 0)
		close(ctl->spare);
	/* Only the socket we made: another daemon may have replaced it. */
	struct stat st;
	if (unlink_path && ctl->ino && lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

int ctl_fd(const struct ctl *ctl)
{
	return linesrv_fd(ctl->srv);
}

unsigned ctl_client_count(const struct ctl *ctl)
{
	return linesrv_count(ctl->srv);
}

static void on_accept(void *data)
{
	struct ctl *ctl = data;
	for (;;) {
		int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if ((errno == EMFILE || errno == ENFILE) && ctl->spare >= 0) {
				/* Out of fds: the pending client would wake us
				 * forever. Use the spare fd to take it and shed it. */
				log_warn("control socket: out of file descriptors; closing a new client");
				close(ctl->spare);
				fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC);
				if (fd >= 0)
					close(fd);
				ctl->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				log_warn("control socket: accept: %s", strerror(errno));
			return;
		}
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    (cred.uid != getuid() && cred.uid != 0)) {
			linesrv_refuse(fd, "error permission denied: only the daemon's user may use this socket\n");
			log_warn("control socket: refused a client of uid %d", len == sizeof(cred) ? (int)cred.uid : -1);
			continue;
		}
		if (linesrv_count(ctl->srv) >= CTL_MAX_CLIENTS) {
			linesrv_refuse(fd, "error too many clients\n");
			continue;
		}
		struct linesrv_conn *conn = linesrv_add(ctl->srv, fd, sizeof(struct ctl_client));
		if (conn) {
			struct ctl_client *c = linesrv_data(conn);
			c->ctl = ctl;
			c->uid = cred.uid;
		}
	}
}

/* ---- the reply sink of a client's requests (command.h) ---- */

static void sink_reply(void *data, const char *line)
{
	linesrv_reply(data, "%s", line);
}

static uint64_t sink_defer(void *data)
{
	struct linesrv_conn *conn = data;
	struct ctl_client *c = linesrv_data(conn);
	if (c->ticket)
		return 0; /* already owed one: this reply comes now */
	c->ticket = ++c->ctl->last_ticket;
	linesrv_hold(conn, true);
	return c->ticket;
}

static void sink_subscribe(void *data)
{
	struct linesrv_conn *conn = data;
	struct ctl_client *c = linesrv_data(conn);
	c->subscribed = true;
	linesrv_set_deadline(conn, UINT64_MAX); /* never idle */
}

static void sink_monitor(void *data)
{
	struct linesrv_conn *conn = data;
	struct ctl_client *c = linesrv_data(conn);
	c->monitoring = true;
	linesrv_set_deadline(conn, UINT64_MAX); /* never idle */
}

static void on_line(void *data, struct linesrv_conn *conn, const char *line, size_t len)
{
	struct ctl *ctl = data;
	struct ctl_client *c = linesrv_data(conn);
	struct proto_request req;
	char err[256];
	if (proto_parse(line, len, &req, err, sizeof(err)) < 0) {
		linesrv_reply(conn, "error %s", err);
		return;
	}
	bool owner = c->uid == getuid();
	const struct command_sink sink = { conn, sink_reply, sink_defer, sink_subscribe, owner ? sink_monitor : NULL };
	command_run(ctl->cmd, &req, owner ? &local_perms : &root_perms, &sink);
}

static void on_overlong(void *data, struct linesrv_conn *conn)
{
	linesrv_reply(conn, "error request longer than %d bytes", PROTO_LINE_MAX - 1);
}

void ctl_dispatch(struct ctl *ctl, uint64_t now)
{
	linesrv_dispatch(ctl->srv, now);
}

void ctl_tick(struct ctl *ctl, uint64_t now)
{
	linesrv_tick(ctl->srv, now);
}

/* A line to every client still reading that asked for it: the subscribers,
 * or the monitor clients. */
static void send_all(struct ctl *ctl, bool monitors, const char *line)
{
	for (struct linesrv_conn *conn = linesrv_first(ctl->srv); conn; conn = linesrv_next(conn)) {
		struct ctl_client *c = linesrv_data(conn);
		if (!(monitors ? c->monitoring : c->subscribed) || !linesrv_reading(conn))
			continue;
		linesrv_reply(conn, "%s", line);
		linesrv_flush(conn);
	}
}

void ctl_broadcast(struct ctl *ctl, const char *line)
{
	send_all(ctl, false, line);
}

unsigned ctl_monitors(struct ctl *ctl)
{
	unsigned n = 0;
	for (struct linesrv_conn *conn = linesrv_first(ctl->srv); conn; conn = linesrv_next(conn))
		n += ((struct ctl_client *)linesrv_data(conn))->monitoring && linesrv_reading(conn);
	return n;
}

void ctl_monitor_send(struct ctl *ctl, const char *line)
{
	send_all(ctl, true, line);
}

/* The client that is owed the reply with this ticket, or NULL. */
static struct linesrv_conn *owed(struct ctl *ctl, uint64_t ticket)
{
	for (struct linesrv_conn *conn = linesrv_first(ctl->srv); ticket && conn; conn = linesrv_next(conn))
		if (((struct ctl_client *)linesrv_data(conn))->ticket == ticket)
			return conn;
	return NULL;
}

void ctl_reply_ticket(struct ctl *ctl, uint64_t ticket, const char *fmt, ...)
{
	struct linesrv_conn *conn = owed(ctl, ticket);
	if (!conn)
		return; /* it has gone */
	struct ctl_client *c = linesrv_data(conn);
	c->ticket = 0;
	linesrv_hold(conn, false);
	va_list ap;
	va_start(ap, fmt);
	char *line = NULL;
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		linesrv_kill(conn);
	else
		linesrv_reply(conn, "%s", line);
	free(line);
	linesrv_flush(conn);
}
