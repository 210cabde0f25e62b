/* One way in for a command. The control socket (ctl.c) and the network
 * listener (listener.c) read a request line, parse it (core/proto.h) and
 * hand it here with their own permission set and a sink for the reply;
 * command_run checks the permission, acts (the router, a reload, a report)
 * and gives exactly one reply line, at once or, for a switch that waits for
 * libvirt, later through the requester's ticket. */
#ifndef KVMSWITCH_COMMAND_H
#define KVMSWITCH_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/proto.h"
#include "core/router.h"
#include "report.h"

struct virt;

/* What a command acts on: the daemon's parts, and the daemon itself through
 * the functions (data is theirs). */
struct command {
	void *data;
	struct router *router;
	struct virt *virt; /* NULL: no libvirt worker */
	/* The configuration in force (reload replaces it). */
	const struct config *(*config)(void *data);
	/* The time now (ms); the daemon's time for what the command sets off. */
	uint64_t (*clock)(void *data);
	/* Reads the configuration file again: 0, or -1 with a message. */
	int (*reload)(void *data, char *err, size_t errlen);
	/* The daemon's state, for status and list (report.h). */
	void (*view)(void *data, struct report_view *v);
};

/* Which commands a requester may run. */
struct command_perms {
	bool (*allowed)(enum proto_cmd cmd); /* NULL: every one */
	const char *refusal;                 /* the error after "'WORD' " */
};

/* Where the reply goes. */
struct command_sink {
	void *data;
	/* The reply line, without its newline: "ok ..." or "error ...". */
	void (*reply)(void *data, const char *line);
	/* For a switch answered later (a usb target attaching): a ticket that
	 * the answer will carry (virt_hooks.answer), or 0 if this requester
	 * cannot wait; NULL: never waits. */
	uint64_t (*defer)(void *data);
	/* The requester gets the switch events from now on (NULL: it cannot,
	 * and its permissions do not allow subscribe). */
	void (*subscribe)(void *data);
	/* The requester gets the input events from now on, where each went
	 * (NULL: it cannot; its permissions do not allow monitor). */
	void (*monitor)(void *data);
};

/* Runs one request. Returns 0, or -EPERM if perms refused it (the refusal
 * is replied). */
int command_run(const struct command *cmd, const struct proto_request *req, const struct command_perms *perms,
		const struct command_sink *sink);

/* The reply to a switch that returned rc: "ok ACTIVE", or "error cannot
 * switch: WHY (active: ACTIVE)", `why` NULL for the text of rc. At most
 * COMMAND_SWITCH_REPLY_MAX bytes with its NUL. */
#define COMMAND_SWITCH_REPLY_MAX 1024
void command_switch_reply(const struct command *cmd, int rc, const char *why, char *buf, size_t len);

#endif
