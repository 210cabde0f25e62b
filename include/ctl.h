/* The control socket: a Unix stream socket speaking the line protocol of
 * core/proto.h. Private: mode 0600 and only our uid (or root) by SO_PEERCRED.
 * Its clients are a line server's (linesrv.h): non-blocking throughout, a
 * client that sends junk, sends too much, reads nothing or sits idle costs
 * the daemon nothing but a file descriptor. Each request goes to the one
 * dispatcher (command.h); this file adds subscribers and deferred replies. */
#ifndef KVMSWITCH_CTL_H
#define KVMSWITCH_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAX_CLIENTS 512
#define CTL_OUT_MAX (256 * 1024) /* unread replies a client may have queued */
#define CTL_IDLE_MS (5 * 60 * 1000)

struct ctl;
struct command;

/* root's path when it has no XDG_RUNTIME_DIR (and the system unit's). */
#define CTL_ROOT_PATH "/run/kvmswitch/kvmswitch.sock"

/* The default path: $KVMSWITCH_SOCKET, else $XDG_RUNTIME_DIR/kvmswitch.sock,
 * else for root CTL_ROOT_PATH. Returns 0 or -1 (no XDG_RUNTIME_DIR) with a
 * message in err. */
int ctl_default_path(char *buf, size_t len, char *err, size_t errlen);

/* Binds the socket; requests go to cmd (command.h) with every permission.
 * A stale socket is replaced; a live one is an error (-EADDRINUSE).
 * Returns NULL with errno set. */
struct ctl *ctl_create(const char *path, const struct command *cmd);
/* Closes every client; removes the socket file if `unlink_path`. */
void ctl_destroy(struct ctl *ctl, bool unlink_path);

/* An fd (epoll) that is readable when ctl_dispatch has work. */
int ctl_fd(const struct ctl *ctl);
void ctl_dispatch(struct ctl *ctl, uint64_t now_ms);
/* Closes clients idle since CTL_IDLE_MS (subscribers excepted). */
void ctl_tick(struct ctl *ctl, uint64_t now_ms);

/* The reply to a request that command_run deferred (a switch that waits for
 * libvirt): the ticket is the one its sink's defer gave; dropped if the
 * client has gone. A client owes at most one at a time: replies come in
 * request order only if a client waits for each before sending the next
 * (as the CLI does). */
void ctl_reply_ticket(struct ctl *ctl, uint64_t ticket, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A line to every subscribed client (command subscribe). */
void ctl_broadcast(struct ctl *ctl, const char *line);

/* Clients that asked for the input events (command monitor, the daemon's
 * own uid only), still connected; and a line to each of them alone. */
unsigned ctl_monitors(struct ctl *ctl);
void ctl_monitor_send(struct ctl *ctl, const char *line);

unsigned ctl_client_count(const struct ctl *ctl);

#endif
