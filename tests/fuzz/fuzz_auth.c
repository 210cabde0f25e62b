/* libFuzzer harness for what the network listener parses from strangers
 * (core/auth.h): the response line "MAC COMMAND" and the command in it, the
 * way listener.c takes them, plus the client's check of a challenge line and
 * the secret file's decoding. Checked besides memory safety: a response that
 * parses has its command inside the line; a command that passes is one the
 * network may send; a formatted response parses back to the same MAC and
 * command; a secret lies within its bounds, and without a byte-order mark
 * is a prefix of the file. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	char err[256];
	uint8_t mac[AUTH_MAC_BYTES];
	const char *cmd;
	size_t cmd_len;
	if (auth_response_parse(line, size, mac, &cmd, &cmd_len, err, sizeof(err)) == 0) {
		if (cmd < line || cmd + cmd_len > line + size)
			abort();
		struct proto_request req;
		if (proto_parse(cmd, cmd_len, &req, err, sizeof(err)) == 0 && auth_command_allowed(req.cmd)) {
			if (req.cmd != PROTO_SWITCH && req.cmd != PROTO_TOGGLE && req.cmd != PROTO_NEXT &&
			    req.cmd != PROTO_PREV)
				abort();
			char c[PROTO_LINE_MAX], buf[AUTH_RESPONSE_MAX + 8];
			int n = proto_format(&req, c, sizeof(c));
			if (n <= 0)
				abort();
			c[n - 1] = '\0'; /* no newline */
			int m = auth_response_format(mac, c, buf, sizeof(buf));
			uint8_t mac2[AUTH_MAC_BYTES];
			const char *cmd2;
			size_t len2;
			if (m <= 0 ||
			    auth_response_parse(buf, (size_t)m - 1, mac2, &cmd2, &len2, err, sizeof(err)) <
				    0 ||
			    memcmp(mac, mac2, sizeof(mac)) != 0 || len2 != strlen(c) ||
			    memcmp(cmd2, c, len2) != 0)
				abort();
		}
	}
	auth_challenge_check(line, size, err, sizeof(err));
	/* The secret file's rule: a secret within its bounds; without a
	 * byte-order mark, a prefix of the file. */
	uint8_t secret[AUTH_SECRET_MAX];
	long n = auth_secret_decode(data, size, secret, err, sizeof(err));
	bool bom = (size >= 2 && data[0] == 0xff && data[1] == 0xfe) || (size >= 2 && data[0] == 0xfe && data[1] == 0xff) ||
		   (size >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf);
	if (n >= 0 && (n < AUTH_SECRET_MIN || n > AUTH_SECRET_MAX))
		abort();
	if (n >= 0 && !bom && (n > (long)size || memcmp(secret, data, (size_t)n) != 0))
		abort();
	char *msg = NULL;
	size_t msg_len = 0;
	char challenge[AUTH_CHALLENGE_MAX];
	uint8_t nonce[AUTH_NONCE_BYTES] = { 0 };
	memcpy(nonce, data, size < sizeof(nonce) ? size : sizeof(nonce));
	auth_challenge_format(nonce, challenge);
	if (auth_challenge_check(challenge, strlen(challenge), err, sizeof(err)) < 0)
		abort();
	if (auth_message(challenge, line, size, &msg, &msg_len) == 0) {
		if (msg_len != strlen(challenge) + 1 + size)
			abort();
		free(msg);
	}
	return 0;
}
