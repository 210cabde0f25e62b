/* The listener's challenge-response text (core/auth.c) and its rate limiter
 * (core/ratelimit.c). The HMAC itself is libsodium's, tested end to end in
 * tests/integration/test_ctl.c against openssl. */
#include <stdlib.h>

#include "core/auth.h"
#include "core/ratelimit.h"
#include "test.h"

TEST(auth_challenge_format_and_check)
{
	uint8_t nonce[AUTH_NONCE_BYTES];
	for (int i = 0; i < AUTH_NONCE_BYTES; i++)
		nonce[i] = (uint8_t)(i * 17 + 1);
	char line[AUTH_CHALLENGE_MAX], err[256];
	auth_challenge_format(nonce, line);
	CHECK_STR(line, "kvmswitch-auth-1 0112233445566778899aabbccddeef00112233445566778899aabbccddeeff10");
	CHECK_INT(strlen(line) + 1, AUTH_CHALLENGE_MAX);
	CHECK_INT(auth_challenge_check(line, strlen(line), err, sizeof(err)), 0);
	CHECK_INT(auth_challenge_check("SSH-2.0-OpenSSH_9.2", 19, err, sizeof(err)), -1);
	CHECK_STR(err, "not a kvmswitch listener (expected 'kvmswitch-auth-1 NONCE', got 'SSH-2.0-OpenSSH_9.2')");
	CHECK_INT(auth_challenge_check("kvmswitch-auth-1 00ff", 21, err, sizeof(err)), -1);
	CHECK_STR(err, "bad challenge: the nonce is not 64 hex digits");
	line[30] = 'g';
	CHECK_INT(auth_challenge_check(line, strlen(line), err, sizeof(err)), -1);
}

TEST(auth_message_is_challenge_space_command)
{
	char *m;
	size_t n;
	CHECK_INT(auth_message("kvmswitch-auth-1 abcd", "switch host", 11, &m, &n), 0);
	CHECK_INT(n, 33);
	CHECK_STR(m, "kvmswitch-auth-1 abcd switch host");
	free(m);
}

TEST(auth_response_parse_and_format)
{
	uint8_t mac[AUTH_MAC_BYTES], back[AUTH_MAC_BYTES];
	for (int i = 0; i < AUTH_MAC_BYTES; i++)
		mac[i] = (uint8_t)(255 - i);
	char line[AUTH_RESPONSE_MAX], err[256];
	int n = auth_response_format(mac, "switch host", line, sizeof(line));
	CHECK_INT(n, 64 + 1 + 11 + 1);
	CHECK_STR(line + 64, " switch host\n");
	const char *cmd;
	size_t cmd_len;
	/* With the CR of a CRLF line end. */
	line[n - 1] = '\r';
	CHECK_INT(auth_response_parse(line, (size_t)n, back, &cmd, &cmd_len, err, sizeof(err)), 0);
	CHECK(memcmp(mac, back, sizeof(mac)) == 0);
	CHECK_INT(cmd_len, 11);
	CHECK(memcmp(cmd, "switch host", 11) == 0);
	/* Upper case hex is the same MAC. */
	for (int i = 0; i < 64; i++)
		if (line[i] >= 'a')
			line[i] = (char)(line[i] - 'a' + 'A');
	CHECK_INT(auth_response_parse(line, (size_t)n - 1, back, &cmd, &cmd_len, err, sizeof(err)), 0);
	CHECK(memcmp(mac, back, sizeof(mac)) == 0);

	static const char *const bad[] = { "", "switch host", "0123 switch host",
		"zz00000000000000000000000000000000000000000000000000000000000000 toggle",
		"0000000000000000000000000000000000000000000000000000000000000000toggle",
		"0000000000000000000000000000000000000000000000000000000000000000 " };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(auth_response_parse(bad[i], strlen(bad[i]), back, &cmd, &cmd_len, err, sizeof(err)), -1);
		CHECK_STR(err, "expected 'MAC COMMAND' (MAC: 64 hex digits)");
	}
	CHECK_INT(auth_response_format(mac, "toggle", line, 70), -1);
}

TEST(auth_only_switch_commands)
{
	CHECK(auth_command_allowed(PROTO_SWITCH));
	CHECK(auth_command_allowed(PROTO_TOGGLE));
	CHECK(auth_command_allowed(PROTO_NEXT));
	CHECK(auth_command_allowed(PROTO_PREV));
	static const enum proto_cmd no[] = { PROTO_STATUS, PROTO_LIST, PROTO_RELEASE, PROTO_RELOAD,
					     PROTO_SUBSCRIBE, PROTO_PING, PROTO_VERSION, PROTO_LOCK,
					     PROTO_UNLOCK, PROTO_MONITOR };
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK(!auth_command_allowed(no[i]));
}

/* Decodes a secret file's bytes (given with their length: they may hold
 * NULs) and checks the secret, or the error. */
static void secret_case(const char *file, int line, const char *data, size_t len, const char *want, size_t want_len,
			const char *want_err)
{
	char err[256] = "";
	uint8_t out[AUTH_SECRET_MAX];
	long n = auth_secret_decode((const uint8_t *)data, len, out, err, sizeof(err));
	if (want_err) {
		if (n >= 0)
			test_fail(file, line, "accepted (%ld bytes), expected '%s'", n, want_err);
		else if (strcmp(err, want_err) != 0)
			test_fail(file, line, "error '%s', expected '%s'", err, want_err);
	} else if (n < 0) {
		test_fail(file, line, "refused: %s", err);
	} else if ((size_t)n != want_len || memcmp(out, want, want_len) != 0) {
		test_fail(file, line, "secret of %ld bytes '%.*s', expected %zu bytes '%s'", n, (int)n, (const char *)out,
			  want_len, want);
	}
}
#define SECRET_OK(data_, want_) \
	secret_case(__FILE__, __LINE__, (data_), sizeof(data_) - 1, (want_), sizeof(want_) - 1, NULL)
#define SECRET_BAD(data_, err_) secret_case(__FILE__, __LINE__, (data_), sizeof(data_) - 1, NULL, 0, (err_))

/* The one rule of the secret file (listener, kvmswitch remote, the .ps1). */
TEST(auth_secret_file_rule)
{
	/* Trailing blanks and line ends are not part of it; leading and inner ones are. */
	SECRET_OK("0123456789abcdefXYZ\n", "0123456789abcdefXYZ");
	SECRET_OK("0123456789abcdef \r\n\t\n", "0123456789abcdef");
	SECRET_OK(" 0123456789 abcdef", " 0123456789 abcdef");
	/* No byte-order mark: the bytes as they are, any bytes. */
	SECRET_OK("\x01\x02\xff\x80\x00 0123456789abc", "\x01\x02\xff\x80\x00 0123456789abc");
	/* A UTF-8 BOM (PowerShell 5.1: Set-Content -Encoding UTF8) is dropped. */
	SECRET_OK("\xef\xbb\xbf" "0123456789abcdef\r\n", "0123456789abcdef");
	/* UTF-16LE with BOM (PowerShell 5.1: `>`, Out-File): decoded. */
	SECRET_OK("\xff\xfe" "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9\0" "a\0" "b\0" "c\0" "d\0" "e\0"
		  "f\0" "\r\0\n\0",
		  "0123456789abcdef");
	/* UTF-16BE with BOM, a non-ASCII character (UTF-8 in the secret) and a
	 * surrogate pair (U+1F511). */
	SECRET_OK("\xfe\xff" "\0000\0001\0002\0003\0004\0005\0006\0007\0008\0009\0\xe9" "\xd8\x3d\xdd\x11" "\0\n",
		  "0123456789\xc3\xa9\xf0\x9f\x94\x91");
	if (test_failed)
		return;
	SECRET_BAD("\n\n", "it is empty");
	SECRET_BAD("\xef\xbb\xbf\r\n", "it is empty");
	SECRET_BAD("\xff\xfe\r\0\n\0", "it is empty");
	SECRET_BAD("short\n", "it is shorter than 16 bytes (make one with: head -c 32 /dev/urandom | base64)");
	SECRET_BAD("\xff\xfe" "0\0" "1\0" "2", "it starts with a UTF-16 byte-order mark but has an odd number of bytes");
	SECRET_BAD("\xff\xfe" "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9\0" "\x3d\xd8" "a\0" "b\0" "c\0"
		   "d\0" "e\0",
		   "it is not valid UTF-16 (an unpaired surrogate)");
	SECRET_BAD("\xff\xfe\0\0" "0\0\0\0", "it is UTF-32 text; save it as UTF-8 or UTF-16");
	if (test_failed)
		return;
	/* At most 4096 bytes, counted after decoding. */
	char *big = malloc(2 * AUTH_SECRET_MAX + 4);
	uint8_t out[AUTH_SECRET_MAX];
	char err[256];
	memset(big, 'x', AUTH_SECRET_MAX + 1);
	CHECK_INT(auth_secret_decode((const uint8_t *)big, AUTH_SECRET_MAX, out, err, sizeof(err)), AUTH_SECRET_MAX);
	CHECK_INT(auth_secret_decode((const uint8_t *)big, AUTH_SECRET_MAX + 1, out, err, sizeof(err)), -1);
	CHECK_STR(err, "it is longer than 4096 bytes");
	big[0] = '\xff';
	big[1] = '\xfe';
	for (size_t i = 0; i < AUTH_SECRET_MAX + 1; i++) {
		big[2 + 2 * i] = 'x';
		big[3 + 2 * i] = '\0';
	}
	CHECK_INT(auth_secret_decode((const uint8_t *)big, 2 + 2 * AUTH_SECRET_MAX, out, err, sizeof(err)),
		  AUTH_SECRET_MAX);
	CHECK_INT(auth_secret_decode((const uint8_t *)big, 4 + 2 * AUTH_SECRET_MAX, out, err, sizeof(err)), -1);
	CHECK_STR(err, "it is longer than 4096 bytes");
	free(big);
}

TEST(ratelimit_bucket_refills_per_minute)
{
	struct ratelimit rl;
	ratelimit_init(&rl, 3);
	const char a[] = "10.0.0.1", b[] = "10.0.0.2";
	uint64_t t = 1000;
	CHECK_INT(ratelimit_tokens(&rl, a, 8, t), 3);
	CHECK(ratelimit_take(&rl, a, 8, t));
	CHECK(ratelimit_take(&rl, a, 8, t));
	CHECK(ratelimit_take(&rl, a, 8, t));
	CHECK(!ratelimit_take(&rl, a, 8, t));
	/* Another source has its own bucket. */
	CHECK(ratelimit_take(&rl, b, 8, t));
	/* 3 per minute: one token every 20 s. */
	CHECK(!ratelimit_take(&rl, a, 8, t + 19999));
	CHECK(ratelimit_take(&rl, a, 8, t + 20000));
	CHECK(!ratelimit_take(&rl, a, 8, t + 20000));
	/* A refund gives one back, never more than the capacity. */
	ratelimit_refund(&rl, a, 8, t + 20000);
	CHECK_INT(ratelimit_tokens(&rl, a, 8, t + 20000), 1);
	CHECK_INT(ratelimit_tokens(&rl, a, 8, t + 10 * 60000), 3);
	ratelimit_refund(&rl, a, 8, t + 10 * 60000);
	CHECK_INT(ratelimit_tokens(&rl, a, 8, t + 10 * 60000), 3);
	/* Time going backwards takes nothing and gives nothing. */
	CHECK(ratelimit_take(&rl, a, 8, t + 10 * 60000));
	CHECK_INT(ratelimit_tokens(&rl, a, 8, t), 2);
}

TEST(ratelimit_full_table_shares_an_overflow_bucket)
{
	struct ratelimit rl;
	ratelimit_init(&rl, 2);
	uint64_t t = 5000;
	/* Every slot holds a source that has spent a token. */
	for (uint32_t i = 0; i < RATELIMIT_SLOTS; i++)
		CHECK(ratelimit_take(&rl, &i, sizeof(i), t));
	/* New sources cannot push those out: they share one bucket. */
	uint32_t x = 1000, y = 1001;
	CHECK(ratelimit_take(&rl, &x, sizeof(x), t));
	CHECK(ratelimit_take(&rl, &y, sizeof(y), t));
	CHECK(!ratelimit_take(&rl, &x, sizeof(x), t));
	/* A source still in the table kept its own state. */
	uint32_t first = 0;
	CHECK(ratelimit_take(&rl, &first, sizeof(first), t));
	CHECK(!ratelimit_take(&rl, &first, sizeof(first), t));
	/* Once some bucket has refilled completely, its slot is reused. */
	t += 60000;
	CHECK(ratelimit_take(&rl, &x, sizeof(x), t));
	CHECK_INT(ratelimit_tokens(&rl, &x, sizeof(x), t), 1);
	/* Lowering the rate clips what buckets hold. */
	ratelimit_set_rate(&rl, 1);
	CHECK_INT(ratelimit_tokens(&rl, &y, sizeof(y), t), 1);
}
