/* The network listener (opt-in, [listener] in kvmswitch.conf): lets a guest
 * switch without ssh, over TCP (bind it to the libvirt bridge address) or
 * vsock. Challenge-response with a pre-shared secret (core/auth.h,
 * docs/protocol.md): the secret never crosses the wire, a nonce answers one
 * response, failed attempts cost a token of the source's bucket
 * (core/ratelimit.h), only switch, toggle, next and prev are accepted, one
 * command per connection. Its connections are a line server's (linesrv.h);
 * an authenticated command goes to the one dispatcher (command.h) with the
 * network's permissions. The secret file, the MAC and the address syntax,
 * shared with `kvmswitch remote`, are netauth.h. */
#ifndef KVMSWITCH_LISTENER_H
#define KVMSWITCH_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define LISTENER_MAX_CONNS 32
#define LISTENER_TIMEOUT_MS 5000 /* from accept to the response line */

struct listener;
struct command;

/* Nothing listens until listener_configure enables it. Commands go to cmd. */
struct listener *listener_create(const struct command *cmd);
void listener_destroy(struct listener *l);

/* Applies a [listener] section: off, or listening on its address with the
 * secret from its secret file (re-read every time). Returns 0, or -1 with
 * a message; then the running set-up is kept. */
int listener_configure(struct listener *l, const struct listener_conf *conf, char *err, size_t errlen);

int listener_fd(const struct listener *l);
void listener_dispatch(struct listener *l, uint64_t now_ms);
/* Closes connections past their time. */
void listener_tick(struct listener *l, uint64_t now_ms);
uint64_t listener_next_deadline(const struct listener *l);

#endif
