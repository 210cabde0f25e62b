/* The control protocol's parser and formatter (core/proto.c). */
#include "core/proto.h"
#include "test.h"

static int parse(const char *line, struct proto_request *req, char *err)
{
	return proto_parse(line, strlen(line), req, err, 256);
}

TEST(proto_parses_every_command)
{
	static const struct {
		const char *line;
		enum proto_cmd cmd;
		const char *arg;
	} cases[] = {
		{ "switch guest", PROTO_SWITCH, "guest" }, { "toggle", PROTO_TOGGLE, "" },
		{ "next", PROTO_NEXT, "" },                { "prev", PROTO_PREV, "" },
		{ "status", PROTO_STATUS, "" },            { "list", PROTO_LIST, "" },
		{ "release", PROTO_RELEASE, "" },          { "reload", PROTO_RELOAD, "" },
		{ "subscribe", PROTO_SUBSCRIBE, "" },      { "ping", PROTO_PING, "" },
		{ "version", PROTO_VERSION, "" },          { "lock", PROTO_LOCK, "" },
		{ "unlock", PROTO_UNLOCK, "" },            { "monitor", PROTO_MONITOR, "" },
		/* Spaces around, tabs between, a CR before the newline. */
		{ "  switch \t win10  ", PROTO_SWITCH, "win10" }, { "status\r", PROTO_STATUS, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proto_request req;
		char err[256] = "";
		CHECK_INT(parse(cases[i].line, &req, err), 0);
		CHECK_INT(req.cmd, cases[i].cmd);
		CHECK_STR(req.arg, cases[i].arg);
	}
}

TEST(proto_rejects_bad_requests)
{
	static const struct {
		const char *line;
		const char *err;
	} cases[] = {
		{ "", "empty request" },
		{ "   ", "empty request" },
		{ "frobnicate", "unknown command 'frobnicate' (switch, toggle, next, prev, status, list, release, reload, "
				"subscribe, ping, version, lock, unlock, monitor)" },
		{ "averyveryverylongcommandname", "unknown command" },
		{ "SWITCH guest", "unknown command 'SWITCH' (switch, toggle, next, prev, status, list, release, reload, "
				  "subscribe, ping, version, lock, unlock, monitor)" },
		{ "switch", "'switch' needs an argument" },
		{ "switch  ", "'switch' needs an argument" },
		{ "switch a b", "'switch' takes one argument" },
		{ "status now", "'status' takes no argument" },
		{ "switch \x01guest", "control character in request" },
		{ "switch g\xc3\xa4st", "request is not plain ASCII" },
		{ "switch \x7f", "request is not plain ASCII" },
		{ "switch aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "argument too long" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proto_request req;
		char err[256] = "";
		CHECK_INT(parse(cases[i].line, &req, err), -1);
		CHECK_STR(err, cases[i].err);
	}
}

TEST(proto_embedded_nul_is_rejected)
{
	struct proto_request req;
	char err[256];
	CHECK_INT(proto_parse("status\0x", 8, &req, err, sizeof(err)), -1);
	CHECK_STR(err, "control character in request");
}

TEST(proto_format_round_trips)
{
	for (int c = PROTO_SWITCH; c <= PROTO_MONITOR; c++) {
		struct proto_request req = { .cmd = (enum proto_cmd)c }, back;
		char line[PROTO_LINE_MAX], err[256];
		if (proto_cmd_takes_arg(req.cmd))
			snprintf(req.arg, sizeof(req.arg), "win-10_x");
		int n = proto_format(&req, line, sizeof(line));
		CHECK(n > 0);
		CHECK_INT(line[n - 1], '\n');
		CHECK_INT(proto_parse(line, (size_t)n - 1, &back, err, sizeof(err)), 0);
		CHECK_INT(back.cmd, req.cmd);
		CHECK_STR(back.arg, req.arg);
		enum proto_cmd named;
		CHECK_INT(proto_cmd_from_name(proto_cmd_name(req.cmd), &named), 0);
		CHECK_INT(named, req.cmd);
	}
	struct proto_request req = { .cmd = PROTO_SWITCH };
	snprintf(req.arg, sizeof(req.arg), "guest");
	char small[8];
	CHECK_INT(proto_format(&req, small, sizeof(small)), -1);
	enum proto_cmd cmd;
	CHECK_INT(proto_cmd_from_name("nope", &cmd), -1);
	CHECK_STR(proto_cmd_name((enum proto_cmd)99), "?");
}
