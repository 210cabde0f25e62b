#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

struct ctl_client {
	struct ctl *ctl;
	int fd;
	uid_t uid;
	bool subscribed;
	bool closing;     /* flush what is queued, then close */
	bool dead;        /* gone: freed by sweep(), after the round that may still use it */
	bool discarding;  /* an over-long line: drop bytes up to its newline */
	uint64_t ticket;  /* a deferred reply is owed (ctl_defer), or 0 */
	uint64_t last_ms;
	size_t in_len;
	char in[PROTO_LINE_MAX];
	char *out;
	size_t out_len, out_cap;
	struct ctl_client *next;
};

struct ctl {
	int fd;    /* listening socket */
	int epfd;  /* the listening socket and every client */
	int spare; /* an fd kept for accept() to shed a client when out of fds */
	char *path;
	dev_t dev; /* the socket file we made, so we remove only that one */
	ino_t ino;
	struct ctl_handler h;
	struct ctl_client *clients;
	unsigned n_clients; /* not dead */
	unsigned n_dead;
	uint64_t now;
	uint64_t last_ticket;
};

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

static int epoll_add(int epfd, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static struct ctl *ctl_new(int fd, const char *path, const struct ctl_handler *h)
{
	struct ctl *ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return NULL;
	ctl->fd = fd;
	ctl->h = *h;
	ctl->path = strdup(path);
	ctl->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!ctl->path || ctl->epfd < 0 || epoll_add(ctl->epfd, fd, EPOLLIN, NULL) < 0) {
		int e = errno;
		if (ctl->epfd >= 0)
			close(ctl->epfd);
		if (ctl->spare >= 0)
			close(ctl->spare);
		free(ctl->path);
		free(ctl);
		errno = e;
		return NULL;
	}
	return ctl;
}

struct ctl *ctl_adopt(int fd, const char *path, const struct ctl_handler *h)
{
	struct ctl *ctl = ctl_new(fd, path, h);
	struct stat st;
	if (ctl && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		ctl->dev = st.st_dev;
		ctl->ino = st.st_ino;
	}
	return ctl;
}

struct ctl *ctl_create(const char *path, const struct ctl_handler *h)
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
	struct ctl *ctl = ctl_new(fd, path, h);
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

/* Client lifetime, one rule for every path: wherever a failure is noticed
 * (a send in a broadcast or a deferred reply, a read, the idle timer) the
 * client is only marked dead; sweep() frees it once the round that may
 * still hold it is over (the end of ctl_dispatch and ctl_tick). Its socket
 * is shut down at once: the peer sees the end now, and epoll reports
 * EPOLLHUP on it, so a client killed outside ctl_dispatch (a broadcast
 * after a hotkey) wakes the next one, which frees it. */
static void client_kill(struct ctl_client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	shutdown(c->fd, SHUT_RDWR);
	c->ctl->n_clients--;
	c->ctl->n_dead++;
}

static void client_free(struct ctl *ctl, struct ctl_client *c)
{
	epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static void sweep(struct ctl *ctl)
{
	for (struct ctl_client **pp = &ctl->clients; ctl->n_dead && *pp;) {
		struct ctl_client *c = *pp;
		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		client_free(ctl, c);
		ctl->n_dead--;
	}
}

void ctl_destroy(struct ctl *ctl, bool unlink_path)
{
	if (!ctl)
		return;
	while (ctl->clients) {
		struct ctl_client *c = ctl->clients;
		ctl->clients = c->next;
		client_free(ctl, c);
	}
	close(ctl->fd);
	close(ctl->epfd);
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
	return ctl->epfd;
}

int ctl_listen_fd(const struct ctl *ctl)
{
	return ctl->fd;
}

unsigned ctl_client_count(const struct ctl *ctl)
{
	return ctl->n_clients;
}

static void want_write(struct ctl_client *c, bool on)
{
	/* A closing client is only written to (its EOF would wake us forever). */
	struct epoll_event ev = { .events = (c->closing ? 0 : EPOLLIN) | (on ? EPOLLOUT : 0), .data.ptr = c };
	epoll_ctl(c->ctl->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is queued. Returns -1 if the client is done (then the caller
 * kills it). */
static int flush_out(struct ctl_client *c)
{
	if (c->dead)
		return -1;
	while (c->out_len) {
		ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				want_write(c, true);
				return 0;
			}
			return -1;
		}
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
	want_write(c, false);
	return c->closing && !c->ticket ? -1 : 0;
}

static void queue_line(struct ctl_client *c, const char *s, size_t n)
{
	if (c->dead)
		return;
	if (c->out_len + n + 1 > CTL_OUT_MAX) {
		/* It does not read: stop talking to it. */
		c->closing = true;
		c->out_len = 0;
		return;
	}
	if (c->out_len + n + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		while (cap < c->out_len + n + 1)
			cap *= 2;
		char *o = realloc(c->out, cap);
		if (!o) {
			c->closing = true;
			return;
		}
		c->out = o;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	c->out[c->out_len++] = '\n';
}

void ctl_reply(struct ctl_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = NULL;
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0) {
		c->closing = true;
		return;
	}
	/* One reply is one line. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	queue_line(c, line, (size_t)n);
	free(line);
}

void ctl_subscribe(struct ctl_client *c)
{
	c->subscribed = true;
}

void ctl_broadcast(struct ctl *ctl, const char *line)
{
	for (struct ctl_client *c = ctl->clients; c; c = c->next) {
		if (!c->subscribed || c->closing || c->dead)
			continue;
		queue_line(c, line, strlen(line));
		if (flush_out(c) < 0)
			client_kill(c);
	}
}

static void accept_clients(struct ctl *ctl)
{
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
			static const char msg[] = "error permission denied: only the daemon's user may use this socket\n";
			ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			log_warn("control socket: refused a client of uid %d", len == sizeof(cred) ? (int)cred.uid : -1);
			close(fd);
			continue;
		}
		if (ctl->n_clients >= CTL_MAX_CLIENTS) {
			static const char msg[] = "error too many clients\n";
			ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			close(fd);
			continue;
		}
		struct ctl_client *c = calloc(1, sizeof(*c));
		if (!c || epoll_add(ctl->epfd, fd, EPOLLIN, c) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->ctl = ctl;
		c->fd = fd;
		c->uid = cred.uid;
		c->last_ms = ctl->now;
		c->next = ctl->clients;
		ctl->clients = c;
		ctl->n_clients++;
	}
}

static void handle_line(struct ctl *ctl, struct ctl_client *c, const char *line, size_t len)
{
	struct proto_request req;
	char err[256];
	if (proto_parse(line, len, &req, err, sizeof(err)) < 0) {
		ctl_reply(c, "error %s", err);
		return;
	}
	size_t before = c->out_len;
	ctl->h.request(ctl->h.data, c, &req);
	if (c->out_len == before && !c->closing && !c->ticket)
		ctl_reply(c, "error internal: no reply");
}

/* Reads what the client sent; returns -1 if it must go. */
static int client_read(struct ctl *ctl, struct ctl_client *c)
{
	char buf[4096];
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0) {
			/* Half-closed (echo status | socat ...): answer, then close. */
			c->closing = true;
			return 0;
		}
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->last_ms = ctl->now;
		for (ssize_t i = 0; i < r; i++) {
			char ch = buf[i];
			if (c->discarding) {
				if (ch == '\n')
					c->discarding = false;
				continue;
			}
			if (ch == '\n') {
				handle_line(ctl, c, c->in, c->in_len);
				c->in_len = 0;
				if (c->dead) /* a send to it failed (it subscribed and went) */
					return -1;
				if (c->closing) /* its replies overflowed */
					return 0;
				continue;
			}
			if (c->in_len + 1 >= sizeof(c->in)) {
				ctl_reply(c, "error request longer than %d bytes", PROTO_LINE_MAX - 1);
				c->in_len = 0;
				c->discarding = true;
				continue;
			}
			c->in[c->in_len++] = ch;
		}
		if (c->closing)
			return 0;
	}
	return 0; /* more next time: others get their turn */
}

void ctl_dispatch(struct ctl *ctl, uint64_t now)
{
	struct epoll_event ev[32];
	ctl->now = now;
	sweep(ctl); /* those killed since the last round: their events are stale */
	int n = epoll_wait(ctl->epfd, ev, 32, 0);
	for (int i = 0; i < n; i++) {
		struct ctl_client *c = ev[i].data.ptr;
		if (!c) {
			accept_clients(ctl);
			continue;
		}
		if (c->dead) /* killed earlier in this round */
			continue;
		int rc = 0;
		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			rc = client_read(ctl, c);
		if (rc == 0)
			rc = flush_out(c);
		/* Owed a deferred reply but gone for good: nothing can reach it. */
		if (rc == 0 && c->ticket && (ev[i].events & (EPOLLHUP | EPOLLERR)))
			rc = -1;
		if (rc < 0)
			client_kill(c);
	}
	sweep(ctl);
}

void ctl_tick(struct ctl *ctl, uint64_t now)
{
	ctl->now = now;
	for (struct ctl_client *c = ctl->clients; c; c = c->next)
		if (!c->subscribed && now - c->last_ms > CTL_IDLE_MS)
			client_kill(c);
	sweep(ctl);
}

int ctl_inject(struct ctl *ctl, const struct proto_request *req, char *reply, size_t len)
{
	struct ctl_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ctl = ctl;
	c->fd = -1;
	c->last_ms = ctl->now;
	ctl->h.request(ctl->h.data, c, req);
	const char *nl = c->out_len ? memchr(c->out, '\n', c->out_len) : NULL;
	if (nl)
		snprintf(reply, len, "%.*s", (int)(nl - c->out), c->out);
	else
		snprintf(reply, len, "error internal: no reply");
	free(c->out);
	free(c);
	return 0;
}

uint64_t ctl_defer(struct ctl_client *c)
{
	if (c->fd < 0 || c->ticket)
		return 0; /* injected (ctl_inject), or already owed one */
	c->ticket = ++c->ctl->last_ticket;
	return c->ticket;
}

void ctl_reply_ticket(struct ctl *ctl, uint64_t ticket, const char *fmt, ...)
{
	struct ctl_client *c = ctl->clients;
	while (c && (!ticket || c->ticket != ticket || c->dead))
		c = c->next;
	if (!c)
		return; /* it has gone */
	c->ticket = 0;
	va_list ap;
	va_start(ap, fmt);
	char *line = NULL;
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		c->closing = true;
	else
		ctl_reply(c, "%s", line);
	free(line);
	if (flush_out(c) < 0)
		client_kill(c);
}
