/* The control socket: a Unix stream socket speaking the line protocol of
 * core/proto.h. Private: mode 0600 and only our uid (or root) by SO_PEERCRED.
 * Non-blocking throughout; a client that sends junk, sends too much, reads
 * nothing or sits idle costs the daemon nothing but a file descriptor. */
#ifndef KVMSWITCH_CTL_H
#define KVMSWITCH_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/proto.h"

#define CTL_MAX_CLIENTS 512
#define CTL_OUT_MAX (256 * 1024) /* unread replies a client may have queued */
#define CTL_IDLE_MS (5 * 60 * 1000)

struct ctl;
struct ctl_client;

struct ctl_handler {
	void *data;
	/* A parsed request; answer with ctl_reply (exactly once). */
	void (*request)(void *data, struct ctl_client *c, const struct proto_request *req);
};

/* The default path: $KVMSWITCH_SOCKET, else $XDG_RUNTIME_DIR/kvmswitch.sock.
 * Returns 0 or -1 (no XDG_RUNTIME_DIR) with a message in err. */
int ctl_default_path(char *buf, size_t len, char *err, size_t errlen);

/* Binds the socket. A stale socket is replaced; a live one is an error
 * (-EADDRINUSE). Returns NULL with errno set. */
struct ctl *ctl_create(const char *path, const struct ctl_handler *h);
/* Takes a socket that is already listening (systemd socket activation or
 * the fd store). */
struct ctl *ctl_adopt(int fd, const char *path, const struct ctl_handler *h);
/* Closes every client; removes the socket file if `unlink_path`. */
void ctl_destroy(struct ctl *ctl, bool unlink_path);

/* An fd (epoll) that is readable when ctl_dispatch has work. */
int ctl_fd(const struct ctl *ctl);
int ctl_listen_fd(const struct ctl *ctl);
void ctl_dispatch(struct ctl *ctl, uint64_t now_ms);
/* Closes clients idle since CTL_IDLE_MS (subscribers excepted). */
void ctl_tick(struct ctl *ctl, uint64_t now_ms);

void ctl_reply(struct ctl_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The client gets ctl_broadcast lines from now on. */
void ctl_subscribe(struct ctl_client *c);
void ctl_broadcast(struct ctl *ctl, const char *line);

unsigned ctl_client_count(const struct ctl *ctl);

#endif
