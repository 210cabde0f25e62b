/* The network listener's challenge-response, as text (docs/protocol.md,
 * NETWORK LISTENER). Pure: the shell draws the nonce and computes the HMAC.
 *
 *   server: "kvmswitch-auth-1 NONCE\n"          NONCE: 64 lowercase hex digits
 *   client: "MAC COMMAND\n"                      MAC: 64 hex digits
 *   server: "ok ACTIVE\n" or "error TEXT\n", then closes
 *
 * MAC = HMAC-SHA256(secret, CHALLENGE " " COMMAND), where CHALLENGE is the
 * server's line without its newline and COMMAND the client's command exactly
 * as sent (after the MAC and one space, without the line end). The secret
 * never crosses the wire; a nonce answers one response only. */
#ifndef KVMSWITCH_CORE_AUTH_H
#define KVMSWITCH_CORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/proto.h"

#define AUTH_PROTOCOL "kvmswitch-auth-1"
#define AUTH_NONCE_BYTES 32
#define AUTH_MAC_BYTES 32
/* The challenge line without its newline, and its terminating NUL. */
#define AUTH_CHALLENGE_MAX (sizeof(AUTH_PROTOCOL) + 2 * AUTH_NONCE_BYTES + 1)
/* The longest response line, newline included. */
#define AUTH_RESPONSE_MAX (2 * AUTH_MAC_BYTES + 1 + PROTO_LINE_MAX)
#define AUTH_SECRET_MIN 16
#define AUTH_SECRET_MAX 4096

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void auth_hex(const uint8_t *in, size_t n, char *out);

/* The challenge line for a nonce, without newline, into buf
 * (AUTH_CHALLENGE_MAX bytes). */
void auth_challenge_format(const uint8_t nonce[AUTH_NONCE_BYTES], char *buf);
/* Client side: checks a received challenge line (without its newline).
 * Returns 0, or -1 with a message. */
int auth_challenge_check(const char *line, size_t len, char *err, size_t errlen);

/* The bytes the MAC covers: challenge " " command, into a malloc'd buffer
 * (*out, *out_len). Returns 0 or -1 (out of memory). */
int auth_message(const char *challenge, const char *cmd, size_t cmd_len, char **out, size_t *out_len);

/* Server side: splits a response line (without its newline; a trailing CR is
 * dropped) into the MAC and the command. Returns 0, or -1 with a message. */
int auth_response_parse(const char *line, size_t len, uint8_t mac[AUTH_MAC_BYTES], const char **cmd,
			size_t *cmd_len, char *err, size_t errlen);
/* Client side: "MAC COMMAND\n" into buf. Returns its length or -1. */
int auth_response_format(const uint8_t mac[AUTH_MAC_BYTES], const char *cmd, char *buf, size_t len);

/* The commands the network may send: switch NAME, toggle, next, prev. */
bool auth_command_allowed(enum proto_cmd cmd);

/* The secret from a secret file's bytes. One rule for every client and the
 * listener (kvmswitch-remote.ps1 follows it too; docs/protocol.md):
 *  - a UTF-8 byte-order mark (EF BB BF) at the start is not part of it;
 *  - a UTF-16 byte-order mark (FF FE little-endian, FE FF big-endian) makes
 *    the file UTF-16 text, as Windows PowerShell 5.1's `>` and Out-File write
 *    it: it is decoded, and the secret is its UTF-8 encoding (UTF-32 is
 *    refused);
 *  - trailing spaces, tabs, CRs and LFs are not part of it;
 *  - without a byte-order mark, the other bytes are the secret as they are.
 * The secret must be 16 to 4096 bytes. Writes it to out (AUTH_SECRET_MAX
 * bytes) and returns its length, or -1 with a message. */
long auth_secret_decode(const uint8_t *data, size_t len, uint8_t *out, char *err, size_t errlen);
/* The largest secret file worth reading: a 4096-byte secret as UTF-16 with
 * a byte-order mark, and some line ends. */
#define AUTH_SECRET_FILE_MAX (2 * AUTH_SECRET_MAX + 256)

#endif
