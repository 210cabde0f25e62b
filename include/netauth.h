/* The pieces of the network listener's authentication that the daemon's
 * listener (listener.c) and the client, `kvmswitch remote` (remote.c), share:
 * reading the secret file, the HMAC, the address syntax. The protocol's pure
 * part (challenge, response, which commands) is core/auth.h. */
#ifndef KVMSWITCH_NETAUTH_H
#define KVMSWITCH_NETAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/auth.h"

/* Initialises libsodium (again is fine). Returns 0 or -1. */
int netauth_init(void);

/* Reads a secret file: a regular file owned by us (or root), with no
 * group/other permissions, whose contents give a secret by the one rule of
 * core/auth.h (auth_secret_decode: byte-order marks, UTF-16, trailing blanks).
 * *secret is allocated with sodium_malloc; free it with netauth_secret_free. */
int netauth_read_secret(const char *path, unsigned char **secret, size_t *len, char *err, size_t errlen);
void netauth_secret_free(unsigned char *secret, size_t len);

/* HMAC-SHA256(secret, msg). Returns 0 or -1. */
int netauth_mac(const unsigned char *secret, size_t secret_len, const void *msg, size_t msg_len,
		uint8_t mac[AUTH_MAC_BYTES]);

/* "tcp:HOST:PORT" ([v6] or bare v6, IPv4, or a name) or "vsock:CID:PORT"
 * (CID a number, any, host or local) into a socket address; `passive` for
 * bind. Returns 0 or -1 with a message. */
int netauth_parse_address(const char *text, bool passive, struct sockaddr_storage *sa, socklen_t *salen,
			  char *err, size_t errlen);

#endif
