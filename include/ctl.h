/* The control socket: a Unix stream socket speaking the line protocol of
 * core/proto.h. Private: mode 0600 and only our uid (or root) by SO_PEERCRED.
 * Non-blocking throughout; a client that sends junk, sends too much, reads
 * nothing or sits idle costs the daemon nothing but a file descriptor. */
#ifndef KVMSWITCH_CTL_H
#define KVMSWITCH_CTL_H

#include <stdbool.h>
#include <stddef.h>
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

/* root's path when it has no XDG_RUNTIME_DIR (and the system unit's). */
#define CTL_ROOT_PATH "/run/kvmswitch/kvmswitch.sock"

/* The default path: $KVMSWITCH_SOCKET, else $XDG_RUNTIME_DIR/kvmswitch.sock,
 * else for root CTL_ROOT_PATH. Returns 0 or -1 (no XDG_RUNTIME_DIR) with a
 * message in err. */
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
/* Instead of ctl_reply, for a request answered later (a switch that waits
 * for libvirt): returns a ticket for ctl_reply_ticket, or 0 if this client
 * cannot wait (then reply now). Replies come in request order only if a
 * client waits for each before sending the next (as the CLI does). */
uint64_t ctl_defer(struct ctl_client *c);
/* The deferred reply; dropped if the client has gone. */
void ctl_reply_ticket(struct ctl *ctl, uint64_t ticket, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The client gets ctl_broadcast lines from now on. */
void ctl_subscribe(struct ctl_client *c);
void ctl_broadcast(struct ctl *ctl, const char *line);

unsigned ctl_client_count(const struct ctl *ctl);

/* Runs one request through the handler as if a client had sent it, for the
 * network listener: the reply line (without newline) goes to `reply`.
 * Returns 0 or -ENOMEM. */
int ctl_inject(struct ctl *ctl, const struct proto_request *req, char *reply, size_t len);

#endif
