/* The network listener (opt-in, [listener] in kvmswitch.conf): lets a guest
 * switch without ssh, over TCP (bind it to the libvirt bridge address) or
 * vsock. Challenge-response with a pre-shared secret (core/auth.h,
 * docs/protocol.md): the secret never crosses the wire, a nonce answers one
 * response, failed attempts cost a token of the source's bucket
 * (core/ratelimit.h), only switch, toggle, next and prev are accepted, one
 * command per connection. Non-blocking, with its own epoll fd. */
#ifndef KVMSWITCH_LISTENER_H
#define KVMSWITCH_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/auth.h"
#include "core/config.h"
#include "ctl.h"

#define LISTENER_MAX_CONNS 32
#define LISTENER_TIMEOUT_MS 5000 /* from accept to the response line */

struct listener;

/* Nothing listens until listener_configure enables it. Commands go to
 * the control socket's handler through ctl_inject. */
struct listener *listener_create(struct ctl *ctl);
void listener_destroy(struct listener *l);

/* Applies a [listener] section: off, or listening on its address with the
 * secret from its secret file (re-read every time). Returns 0, or -1 with
 * a message; then the running set-up is kept. */
int listener_configure(struct listener *l, const struct listener_conf *conf, char *err, size_t errlen);
/* The address listened on, or NULL when off. */
const char *listener_address(const struct listener *l);

int listener_fd(const struct listener *l);
void listener_dispatch(struct listener *l, uint64_t now_ms);
/* Closes connections past their time. */
void listener_tick(struct listener *l, uint64_t now_ms);
uint64_t listener_next_deadline(const struct listener *l);

/* ---- shared with `kvmswitch remote` ---- */

/* Reads a secret file: a regular file owned by us (or root), with no
 * group/other permissions, not empty (core/auth.h: auth_secret_length).
 * *secret is allocated with sodium_malloc; free it with listener_secret_free. */
int listener_read_secret(const char *path, unsigned char **secret, size_t *len, char *err, size_t errlen);
void listener_secret_free(unsigned char *secret, size_t len);

/* HMAC-SHA256(secret, msg). Returns 0 or -1. */
int listener_mac(const unsigned char *secret, size_t secret_len, const void *msg, size_t msg_len,
		 uint8_t mac[AUTH_MAC_BYTES]);

/* "tcp:HOST:PORT" ([v6] or bare v6, IPv4, or a name) or "vsock:CID:PORT"
 * (CID a number, any, host or local) into a socket address; `passive` for
 * bind. Returns 0 or -1 with a message. */
int listener_parse_address(const char *text, bool passive, struct sockaddr_storage *sa, socklen_t *salen,
			   char *err, size_t errlen);

#endif
