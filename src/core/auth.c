#include "core/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void auth_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void auth_challenge_format(const uint8_t nonce[AUTH_NONCE_BYTES], char *buf)
{
	char hex[2 * AUTH_NONCE_BYTES + 1];
	auth_hex(nonce, AUTH_NONCE_BYTES, hex);
	snprintf(buf, AUTH_CHALLENGE_MAX, "%s %s", AUTH_PROTOCOL, hex);
}

int auth_challenge_check(const char *line, size_t len, char *err, size_t errlen)
{
	size_t plen = strlen(AUTH_PROTOCOL);
	if (len < plen + 1 || memcmp(line, AUTH_PROTOCOL, plen) != 0 || line[plen] != ' ') {
		snprintf(err, errlen, "not a kvmswitch listener (expected '%s NONCE', got '%.*s')", AUTH_PROTOCOL,
			 (int)(len > 60 ? 60 : len), line);
		return -1;
	}
	if (len != plen + 1 + 2 * AUTH_NONCE_BYTES) {
		snprintf(err, errlen, "bad challenge: the nonce is not %d hex digits", 2 * AUTH_NONCE_BYTES);
		return -1;
	}
	for (size_t i = plen + 1; i < len; i++) {
		if (hexval(line[i]) < 0) {
			snprintf(err, errlen, "bad challenge: the nonce is not %d hex digits", 2 * AUTH_NONCE_BYTES);
			return -1;
		}
	}
	return 0;
}

int auth_message(const char *challenge, const char *cmd, size_t cmd_len, char **out, size_t *out_len)
{
	size_t clen = strlen(challenge);
	char *m = malloc(clen + 1 + cmd_len + 1);
	if (!m)
		return -1;
	memcpy(m, challenge, clen);
	m[clen] = ' ';
	memcpy(m + clen + 1, cmd, cmd_len);
	m[clen + 1 + cmd_len] = '\0';
	*out = m;
	*out_len = clen + 1 + cmd_len;
	return 0;
}

int auth_response_parse(const char *line, size_t len, uint8_t mac[AUTH_MAC_BYTES], const char **cmd,
			size_t *cmd_len, char *err, size_t errlen)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (len < 2 * AUTH_MAC_BYTES + 2 || line[2 * AUTH_MAC_BYTES] != ' ') {
		snprintf(err, errlen, "expected 'MAC COMMAND' (MAC: %d hex digits)", 2 * AUTH_MAC_BYTES);
		return -1;
	}
	for (size_t i = 0; i < AUTH_MAC_BYTES; i++) {
		int hi = hexval(line[2 * i]), lo = hexval(line[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "expected 'MAC COMMAND' (MAC: %d hex digits)", 2 * AUTH_MAC_BYTES);
			return -1;
		}
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	*cmd = line + 2 * AUTH_MAC_BYTES + 1;
	*cmd_len = len - 2 * AUTH_MAC_BYTES - 1;
	return 0;
}

int auth_response_format(const uint8_t mac[AUTH_MAC_BYTES], const char *cmd, char *buf, size_t len)
{
	char hex[2 * AUTH_MAC_BYTES + 1];
	auth_hex(mac, AUTH_MAC_BYTES, hex);
	int n = snprintf(buf, len, "%s %s\n", hex, cmd);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

bool auth_command_allowed(enum proto_cmd cmd)
{
	return cmd == PROTO_SWITCH || cmd == PROTO_TOGGLE || cmd == PROTO_NEXT || cmd == PROTO_PREV;
}

long auth_secret_length(const char *data, size_t len, char *err, size_t errlen)
{
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ' ||
		       data[len - 1] == '\t'))
		len--;
	if (len == 0) {
		snprintf(err, errlen, "it is empty");
		return -1;
	}
	if (len < AUTH_SECRET_MIN) {
		snprintf(err, errlen, "it is shorter than %d bytes (make one with: head -c 32 /dev/urandom | base64)",
			 AUTH_SECRET_MIN);
		return -1;
	}
	if (len > AUTH_SECRET_MAX) {
		snprintf(err, errlen, "it is longer than %d bytes", AUTH_SECRET_MAX);
		return -1;
	}
	return (long)len;
}
