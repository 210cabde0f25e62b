/* A line server: the connections of one listening socket (the control
 * socket's clients, the network listener's), on one epoll fd, non-blocking
 * throughout. It reads lines (at most max_line bytes before the newline; a
 * longer one is reported once and discarded up to its newline), queues the
 * replies (a connection that lets more than max_out bytes of them pile up is
 * dropped), ends connections at their deadline, and frees them in one place.
 *
 * Lifetime, one rule for every path: wherever a failure is noticed (a send,
 * a read, a deadline) a connection is only marked dead (linesrv_kill) and
 * its socket shut down; it is freed by linesrv_dispatch or linesrv_tick once
 * the round that may still use it is over, never in the middle of a
 * callback. A connection killed outside those (a broadcast after a hotkey)
 * reports EPOLLHUP, which makes the next linesrv_dispatch run and free it. */
#ifndef KVMSWITCH_LINESRV_H
#define KVMSWITCH_LINESRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct linesrv;
struct linesrv_conn;

struct linesrv_ops {
	void *data;
	/* The listening socket (linesrv_listen) is readable: accept, linesrv_add. */
	void (*accept)(void *data);
	/* A complete line, without its newline (len bytes, not NUL-terminated). */
	void (*line)(void *data, struct linesrv_conn *c, const char *line, size_t len);
	/* A line went past max_line: reply, and linesrv_close if that is the end. */
	void (*overlong)(void *data, struct linesrv_conn *c);
	/* Its deadline passed while it was still reading; NULL: drop it. */
	void (*timeout)(void *data, struct linesrv_conn *c);
};

struct linesrv_limits {
	size_t max_line;  /* bytes before the newline */
	size_t max_out;   /* unsent reply bytes before a connection is dropped */
	uint64_t idle_ms; /* 0, or each read sets the deadline to now + idle_ms */
};

/* Returns NULL with errno set. */
struct linesrv *linesrv_create(const struct linesrv_ops *ops, const struct linesrv_limits *lim);
/* Closes every connection (not the listening socket). */
void linesrv_destroy(struct linesrv *s);

/* An fd (epoll) that is readable when linesrv_dispatch has work. */
int linesrv_fd(const struct linesrv *s);
/* Watches / stops watching a listening socket (ops->accept). */
int linesrv_listen(struct linesrv *s, int fd);
void linesrv_unlisten(struct linesrv *s, int fd);
void linesrv_dispatch(struct linesrv *s, uint64_t now_ms);
/* Ends connections past their deadline (ops->timeout). */
void linesrv_tick(struct linesrv *s, uint64_t now_ms);
uint64_t linesrv_next_deadline(const struct linesrv *s);

/* Serves fd (non-blocking), with a zeroed area of data_size bytes for the
 * caller (linesrv_data). Its deadline: now + idle_ms, or none. Returns NULL
 * (fd closed) if it cannot. */
struct linesrv_conn *linesrv_add(struct linesrv *s, int fd, size_t data_size);
/* Sends one line and closes fd: a connection that is not taken. */
void linesrv_refuse(int fd, const char *line);
/* Kills every connection (freed after this round). */
void linesrv_kill_all(struct linesrv *s);

/* The connections not dead, for a loop: for (c = linesrv_first(s); c; c = linesrv_next(c)). */
struct linesrv_conn *linesrv_first(struct linesrv *s);
struct linesrv_conn *linesrv_next(struct linesrv_conn *c);
unsigned linesrv_count(const struct linesrv *s);

void *linesrv_data(struct linesrv_conn *c);
/* Not closing, not dead: it still reads requests. */
bool linesrv_reading(const struct linesrv_conn *c);
/* Queues one line (a newline or CR in it becomes a space); ignored once the
 * connection is dead. Sent after the round's reading, or by linesrv_flush. */
void linesrv_reply(struct linesrv_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends what is queued now (outside linesrv_dispatch: a broadcast). */
void linesrv_flush(struct linesrv_conn *c);
/* Reads no more; closed once its replies are out and it is not held. The
 * peer shutting its sending side does the same. */
void linesrv_close(struct linesrv_conn *c);
/* A reply is still owed (a deferred one): not closed at the end of its
 * replies, until released, unless the peer is gone for good. */
void linesrv_hold(struct linesrv_conn *c, bool hold);
/* Drops it now: dead, its socket shut down; freed after this round. */
void linesrv_kill(struct linesrv_conn *c);
/* Its deadline (ms on the caller's clock); UINT64_MAX: none, not even idle. */
void linesrv_set_deadline(struct linesrv_conn *c, uint64_t when);

#endif
