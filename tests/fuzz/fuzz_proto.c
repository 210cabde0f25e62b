/* libFuzzer harness for the control protocol: proto_parse() on any bytes as
 * one request line. Checked besides memory safety: an error leaves a
 * one-line message without control characters (it is sent back to the
 * client); a request that parses formats (proto_format) to a line that
 * parses back to the same request. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/proto.h"

static void check_text(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	if (n == 0 || n >= max)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request req, back;
	char err[256] = "", line[PROTO_LINE_MAX + 64];
	if (proto_parse((const char *)data, size, &req, err, sizeof(err)) < 0) {
		check_text(err, sizeof(err));
		return 0;
	}
	if (strnlen(req.arg, sizeof(req.arg)) >= sizeof(req.arg))
		abort();
	if (proto_cmd_takes_arg(req.cmd) ? !req.arg[0] : req.arg[0] != '\0')
		abort();
	int n = proto_format(&req, line, sizeof(line));
	if (n <= 0 || line[n - 1] != '\n')
		abort();
	if (proto_parse(line, (size_t)n - 1, &back, err, sizeof(err)) < 0 || back.cmd != req.cmd ||
	    strcmp(back.arg, req.arg) != 0) {
		fprintf(stderr, "'%.*s' does not round-trip\n", n - 1, line);
		abort();
	}
	return 0;
}
