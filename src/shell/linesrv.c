#include "linesrv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"

#define READ_SLICES 16 /* recv()s per connection and round: others get their turn */

struct linesrv_conn {
	struct linesrv *srv;
	int fd;
	bool closing;    /* reads no more: closed once its replies are out */
	bool held;       /* ...but not while a reply is owed */
	bool dead;       /* freed by sweep() */
	bool discarding; /* an over-long line: bytes up to its newline are dropped */
	uint32_t events; /* what epoll watches for it */
	uint64_t deadline;
	struct buf out;
	size_t in_len;
	char *in; /* max_line bytes, after the caller's data */
	struct linesrv_conn *next;
	max_align_t data[]; /* the caller's (linesrv_add) */
};

struct linesrv {
	struct linesrv_ops ops;
	struct linesrv_limits lim;
	int epfd;
	struct linesrv_conn *conns;
	unsigned n_live, n_dead;
	uint64_t now;
};

struct linesrv *linesrv_create(const struct linesrv_ops *ops, const struct linesrv_limits *lim)
{
	struct linesrv *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ops = *ops;
	s->lim = *lim;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

static void conn_free(struct linesrv_conn *c)
{
	epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	explicit_bzero(c->in, c->srv->lim.max_line); /* the listener's: a MAC */
	buf_finish(&c->out);
	free(c);
}

/* Frees the dead: only where no callback of this round holds one. */
static void sweep(struct linesrv *s)
{
	for (struct linesrv_conn **pp = &s->conns; s->n_dead && *pp;) {
		struct linesrv_conn *c = *pp;
		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		conn_free(c);
		s->n_dead--;
	}
}

void linesrv_destroy(struct linesrv *s)
{
	if (!s)
		return;
	while (s->conns) {
		struct linesrv_conn *c = s->conns;
		s->conns = c->next;
		conn_free(c);
	}
	close(s->epfd);
	free(s);
}

int linesrv_fd(const struct linesrv *s)
{
	return s->epfd;
}

int linesrv_listen(struct linesrv *s, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void linesrv_unlisten(struct linesrv *s, int fd)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
}

struct linesrv_conn *linesrv_add(struct linesrv *s, int fd, size_t data_size)
{
	size_t align = sizeof(max_align_t);
	size_t data = (data_size + align - 1) / align * align;
	struct linesrv_conn *c = calloc(1, sizeof(*c) + data + s->lim.max_line);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (!c || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		close(fd);
		return NULL;
	}
	c->srv = s;
	c->fd = fd;
	c->events = EPOLLIN;
	c->in = (char *)c->data + data;
	c->deadline = s->lim.idle_ms ? s->now + s->lim.idle_ms : UINT64_MAX;
	buf_init(&c->out);
	c->next = s->conns;
	s->conns = c;
	s->n_live++;
	return c;
}

void linesrv_refuse(int fd, const char *line)
{
	ssize_t w = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w; /* it is refused either way */
	close(fd);
}

void linesrv_kill(struct linesrv_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	shutdown(c->fd, SHUT_RDWR);
	c->srv->n_live--;
	c->srv->n_dead++;
}

void linesrv_kill_all(struct linesrv *s)
{
	for (struct linesrv_conn *c = s->conns; c; c = c->next)
		linesrv_kill(c);
}

static struct linesrv_conn *live_from(struct linesrv_conn *c)
{
	while (c && c->dead)
		c = c->next;
	return c;
}

struct linesrv_conn *linesrv_first(struct linesrv *s)
{
	return live_from(s->conns);
}

struct linesrv_conn *linesrv_next(struct linesrv_conn *c)
{
	return live_from(c->next);
}

unsigned linesrv_count(const struct linesrv *s)
{
	return s->n_live;
}

void *linesrv_data(struct linesrv_conn *c)
{
	return c->data;
}

bool linesrv_reading(const struct linesrv_conn *c)
{
	return !c->closing && !c->dead;
}

void linesrv_set_deadline(struct linesrv_conn *c, uint64_t when)
{
	c->deadline = when;
}

void linesrv_hold(struct linesrv_conn *c, bool hold)
{
	c->held = hold;
}

/* Watches for input while it reads, for room to write while replies wait. */
static void conn_watch(struct linesrv_conn *c)
{
	uint32_t want = (c->closing ? 0 : EPOLLIN) | (c->out.len ? EPOLLOUT : 0);
	if (want == c->events)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = c };
	epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = want;
}

void linesrv_flush(struct linesrv_conn *c)
{
	if (c->dead)
		return;
	while (c->out.len) {
		ssize_t w = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w < 0) {
			linesrv_kill(c);
			return;
		}
		buf_consume(&c->out, (size_t)w);
	}
	if (c->closing && !c->held && !c->out.len) {
		linesrv_kill(c); /* said all it had to say */
		return;
	}
	conn_watch(c);
}

void linesrv_close(struct linesrv_conn *c)
{
	c->closing = true;
	linesrv_flush(c);
}

void linesrv_reply(struct linesrv_conn *c, const char *fmt, ...)
{
	if (c->dead)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *line = NULL;
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0) {
		linesrv_kill(c);
		return;
	}
	/* One reply is one line. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n] = '\n';
	if (c->out.len + (size_t)n + 1 > c->srv->lim.max_out || buf_append(&c->out, line, (size_t)n + 1) < 0)
		linesrv_kill(c); /* it does not read: stop talking to it */
	free(line);
}

/* Reads what the connection sent and hands on its lines. */
static void conn_read(struct linesrv *s, struct linesrv_conn *c)
{
	char buf[4096];
	for (int slice = 0; slice < READ_SLICES && linesrv_reading(c); slice++) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0) {
			/* Half-closed (echo status | socat ...): answer, then close. */
			c->closing = true;
			return;
		}
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				linesrv_kill(c);
			return;
		}
		if (s->lim.idle_ms && c->deadline != UINT64_MAX)
			c->deadline = s->now + s->lim.idle_ms;
		for (ssize_t i = 0; i < r && linesrv_reading(c); i++) {
			char ch = buf[i];
			if (c->discarding) {
				c->discarding = ch != '\n';
			} else if (ch == '\n') {
				size_t len = c->in_len;
				c->in_len = 0;
				s->ops.line(s->ops.data, c, c->in, len);
			} else if (c->in_len == s->lim.max_line) {
				c->in_len = 0;
				c->discarding = true;
				s->ops.overlong(s->ops.data, c);
			} else {
				c->in[c->in_len++] = ch;
			}
		}
	}
}

void linesrv_dispatch(struct linesrv *s, uint64_t now_ms)
{
	struct epoll_event ev[32];
	s->now = now_ms;
	sweep(s); /* those killed since the last round: their events are stale */
	int n = epoll_wait(s->epfd, ev, 32, 0);
	for (int i = 0; i < n; i++) {
		struct linesrv_conn *c = ev[i].data.ptr;
		if (!c) {
			s->ops.accept(s->ops.data);
			continue;
		}
		if (c->dead) /* killed earlier in this round */
			continue;
		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			conn_read(s, c);
		linesrv_flush(c);
		/* Owed a deferred reply but gone for good: nothing can reach it. */
		if (c->held && (ev[i].events & (EPOLLHUP | EPOLLERR)))
			linesrv_kill(c);
	}
	sweep(s);
}

void linesrv_tick(struct linesrv *s, uint64_t now_ms)
{
	s->now = now_ms;
	for (struct linesrv_conn *c = s->conns; c; c = c->next) {
		if (c->dead || now_ms < c->deadline)
			continue;
		if (c->closing || !s->ops.timeout)
			linesrv_kill(c);
		else
			s->ops.timeout(s->ops.data, c);
	}
	sweep(s);
}

uint64_t linesrv_next_deadline(const struct linesrv *s)
{
	uint64_t when = UINT64_MAX;
	for (const struct linesrv_conn *c = s->conns; c; c = c->next)
		if (!c->dead && c->deadline < when)
			when = c->deadline;
	return when;
}
