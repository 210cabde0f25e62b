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

static bool is_trailing_blank(unsigned c)
{
	return c == '\n' || c == '\r' || c == ' ' || c == '\t';
}

/* Appends code point c as UTF-8; false if it does not fit. */
static bool put_utf8(uint8_t *out, size_t *n, size_t max, uint32_t c)
{
	uint8_t b[4];
	size_t k;
	if (c < 0x80) {
		b[0] = (uint8_t)c;
		k = 1;
	} else if (c < 0x800) {
		b[0] = (uint8_t)(0xc0 | c >> 6);
		b[1] = (uint8_t)(0x80 | (c & 0x3f));
		k = 2;
	} else if (c < 0x10000) {
		b[0] = (uint8_t)(0xe0 | c >> 12);
		b[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		b[2] = (uint8_t)(0x80 | (c & 0x3f));
		k = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | c >> 18);
		b[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
		b[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		b[3] = (uint8_t)(0x80 | (c & 0x3f));
		k = 4;
	}
	if (*n + k > max)
		return false;
	memcpy(out + *n, b, k);
	*n += k;
	return true;
}

long auth_secret_decode(const uint8_t *data, size_t len, uint8_t *out, char *err, size_t errlen)
{
	size_t n = 0;
	bool utf16 = len >= 2 && ((data[0] == 0xff && data[1] == 0xfe) || (data[0] == 0xfe && data[1] == 0xff));
	if (len >= 4 && data[0] == 0xff && data[1] == 0xfe && data[2] == 0 && data[3] == 0) {
		snprintf(err, errlen, "it is UTF-32 text; save it as UTF-8 or UTF-16");
		return -1;
	}
	if (utf16) {
		bool le = data[0] == 0xff;
		if (len % 2) {
			snprintf(err, errlen, "it starts with a UTF-16 byte-order mark but has an odd number of bytes");
			return -1;
		}
		size_t units = len / 2 - 1;
		const uint8_t *u = data + 2;
#define UNIT(i) ((unsigned)(le ? u[2 * (i)] | u[2 * (i) + 1] << 8 : u[2 * (i)] << 8 | u[2 * (i) + 1]))
		while (units && is_trailing_blank(UNIT(units - 1)))
			units--;
		for (size_t i = 0; i < units; i++) {
			uint32_t c = UNIT(i);
			if (c >= 0xd800 && c < 0xdc00 && i + 1 < units && UNIT(i + 1) >= 0xdc00 && UNIT(i + 1) < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (UNIT(i + 1) - 0xdc00);
				i++;
			} else if (c >= 0xd800 && c < 0xe000) {
				snprintf(err, errlen, "it is not valid UTF-16 (an unpaired surrogate)");
				return -1;
			}
			if (!put_utf8(out, &n, AUTH_SECRET_MAX, c)) {
				snprintf(err, errlen, "it is longer than %d bytes", AUTH_SECRET_MAX);
				return -1;
			}
		}
#undef UNIT
	} else {
		if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) {
			data += 3;
			len -= 3;
		}
		while (len && is_trailing_blank(data[len - 1]))
			len--;
		if (len > AUTH_SECRET_MAX) {
			snprintf(err, errlen, "it is longer than %d bytes", AUTH_SECRET_MAX);
			return -1;
		}
		memcpy(out, data, len);
		n = len;
	}
	if (n == 0) {
		snprintf(err, errlen, "it is empty");
		return -1;
	}
	if (n < AUTH_SECRET_MIN) {
		snprintf(err, errlen, "it is shorter than %d bytes (make one with: head -c 32 /dev/urandom | base64)",
			 AUTH_SECRET_MIN);
		return -1;
	}
	return (long)n;
}
