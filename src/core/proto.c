#include "core/proto.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	bool arg;
} cmds[] = {
	[PROTO_SWITCH] = { "switch", true },
	[PROTO_TOGGLE] = { "toggle", false },
	[PROTO_NEXT] = { "next", false },
	[PROTO_PREV] = { "prev", false },
	[PROTO_STATUS] = { "status", false },
	[PROTO_LIST] = { "list", false },
	[PROTO_RELEASE] = { "release", false },
	[PROTO_RELOAD] = { "reload", false },
	[PROTO_SUBSCRIBE] = { "subscribe", false },
	[PROTO_PING] = { "ping", false },
	[PROTO_VERSION] = { "version", false },
	[PROTO_LOCK] = { "lock", false },
	[PROTO_UNLOCK] = { "unlock", false },
	[PROTO_MONITOR] = { "monitor", false },
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

const char *proto_cmd_name(enum proto_cmd cmd)
{
	return (size_t)cmd < N_CMDS ? cmds[cmd].name : "?";
}

bool proto_cmd_takes_arg(enum proto_cmd cmd)
{
	return (size_t)cmd < N_CMDS && cmds[cmd].arg;
}

int proto_cmd_from_name(const char *name, enum proto_cmd *cmd)
{
	for (size_t i = 0; i < N_CMDS; i++) {
		if (strcmp(cmds[i].name, name) == 0) {
			*cmd = (enum proto_cmd)i;
			return 0;
		}
	}
	return -1;
}

int proto_parse(const char *line, size_t len, struct proto_request *req, char *err, size_t errlen)
{
	size_t i = 0, w0, w1, a0, a1;
	memset(req, 0, sizeof(*req));
	if (len && line[len - 1] == '\r')
		len--;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)line[k];
		if (c < 0x20 && c != '\t') {
			snprintf(err, errlen, "control character in request");
			return -1;
		}
		if (c >= 0x7f) {
			snprintf(err, errlen, "request is not plain ASCII");
			return -1;
		}
	}
	while (i < len && isspace((unsigned char)line[i]))
		i++;
	w0 = i;
	while (i < len && !isspace((unsigned char)line[i]))
		i++;
	w1 = i;
	while (i < len && isspace((unsigned char)line[i]))
		i++;
	a0 = i;
	a1 = len;
	while (a1 > a0 && isspace((unsigned char)line[a1 - 1]))
		a1--;
	if (w0 == w1) {
		snprintf(err, errlen, "empty request");
		return -1;
	}
	char word[16];
	if (w1 - w0 >= sizeof(word)) {
		snprintf(err, errlen, "unknown command");
		return -1;
	}
	memcpy(word, line + w0, w1 - w0);
	word[w1 - w0] = '\0';
	enum proto_cmd cmd;
	if (proto_cmd_from_name(word, &cmd) < 0) {
		snprintf(err, errlen,
			 "unknown command '%s' (switch, toggle, next, prev, status, list, release, reload, subscribe, "
			 "ping, version, lock, unlock, monitor)",
			 word);
		return -1;
	}
	req->cmd = cmd;
	if (cmds[cmd].arg) {
		if (a0 == a1) {
			snprintf(err, errlen, "'%s' needs an argument", word);
			return -1;
		}
		if (a1 - a0 >= sizeof(req->arg)) {
			snprintf(err, errlen, "argument too long");
			return -1;
		}
		for (size_t k = a0; k < a1; k++) {
			if (isspace((unsigned char)line[k])) {
				snprintf(err, errlen, "'%s' takes one argument", word);
				return -1;
			}
		}
		memcpy(req->arg, line + a0, a1 - a0);
		req->arg[a1 - a0] = '\0';
	} else if (a0 != a1) {
		snprintf(err, errlen, "'%s' takes no argument", word);
		return -1;
	}
	return 0;
}

int proto_format(const struct proto_request *req, char *buf, size_t len)
{
	int n = cmds[req->cmd].arg ? snprintf(buf, len, "%s %s\n", cmds[req->cmd].name, req->arg)
				   : snprintf(buf, len, "%s\n", cmds[req->cmd].name);
	return n < 0 || (size_t)n >= len ? -1 : n;
}
