/* The control protocol: one request per line, one reply line per request,
 * "ok[ TEXT]" or "error TEXT". Pure: parsing and formatting only. */
#ifndef KVMSWITCH_CORE_PROTO_H
#define KVMSWITCH_CORE_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#define PROTO_LINE_MAX 1024 /* longest request line, newline included */
#define PROTO_ARG_MAX 64

enum proto_cmd {
	PROTO_SWITCH,    /* switch NAME */
	PROTO_TOGGLE,    /* toggle */
	PROTO_NEXT,      /* next */
	PROTO_PREV,      /* prev */
	PROTO_STATUS,    /* status: ok JSON */
	PROTO_LIST,      /* list: ok JSON */
	PROTO_RELEASE,   /* release: emergency, everything to the host */
	PROTO_RELOAD,    /* reload the config file */
	PROTO_SUBSCRIBE, /* then "event ..." lines */
	PROTO_PING,
	PROTO_VERSION,
	PROTO_LOCK,    /* lock: the hotkeys stop switching (not the emergency chord) */
	PROTO_UNLOCK,  /* unlock */
	PROTO_MONITOR, /* then "event input {JSON}" per input event: the daemon's own uid only */
};

struct proto_request {
	enum proto_cmd cmd;
	char arg[PROTO_ARG_MAX];
};

/* Parses one line (without its newline). Returns 0, or -1 with a message for
 * an "error" reply in err. */
int proto_parse(const char *line, size_t len, struct proto_request *req, char *err, size_t errlen);

/* Writes the request line for a command (with its newline) into buf. */
int proto_format(const struct proto_request *req, char *buf, size_t len);

const char *proto_cmd_name(enum proto_cmd cmd);
/* Parses a command name as the CLI takes it ("switch", "status", ...). */
int proto_cmd_from_name(const char *name, enum proto_cmd *cmd);
bool proto_cmd_takes_arg(enum proto_cmd cmd);

#endif
