#include "command.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "log.h"
#include "virt.h"

static void reply(const struct command_sink *sink, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(const struct command_sink *sink, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = NULL;
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	sink->reply(sink->data, n < 0 ? "error out of memory" : line);
	free(line);
}

static const char *active_name(const struct command *cmd)
{
	return cmd->config(cmd->data)->target[router_active(cmd->router)].name;
}

static const char *switch_error(const struct command *cmd, int rc)
{
	switch (-rc) {
	case ENOENT:
		return "no such target";
	case ENODEV:
		return "its virtual devices could not be created (see the log)";
	case EHOSTDOWN:
	case ENOTCONN:
		if (cmd->virt && virt_refusal(cmd->virt))
			return virt_refusal(cmd->virt);
		return "its domain is not running";
	default:
		return strerror(-rc);
	}
}

void command_switch_reply(const struct command *cmd, int rc, const char *why, char *buf, size_t len)
{
	if (rc == 0 || rc == -EALREADY)
		snprintf(buf, len, "ok %s", active_name(cmd));
	else
		snprintf(buf, len, "error cannot switch: %s (active: %s)", why ? why : switch_error(cmd, rc),
			 active_name(cmd));
}

/* status, list: the report as one JSON object. */
static void report(const struct command *cmd, enum proto_cmd what, const struct command_sink *sink)
{
	struct report_view v;
	struct json j;
	cmd->view(cmd->data, &v);
	json_init(&j);
	if (what == PROTO_LIST)
		report_list(&v, &j);
	else
		report_status(&v, &j);
	if (json_text(&j))
		reply(sink, "ok %s", json_text(&j));
	else
		reply(sink, "error out of memory");
	json_finish(&j);
}

static void reload(const struct command *cmd, const struct command_sink *sink)
{
	char err[CONFIG_ERR_MAX];
	if (cmd->reload(cmd->data, err, sizeof(err)) < 0) {
		log_warn("reload refused, keeping the running configuration: %s", err);
		reply(sink, "error %s", err);
	} else {
		reply(sink, "ok reloaded");
	}
}

/* switch, toggle, next, prev. */
static void switch_to(const struct command *cmd, const struct proto_request *req, uint64_t now,
		      const struct command_sink *sink)
{
	int rc;
	if (req->cmd == PROTO_SWITCH) {
		int t = config_target_index(cmd->config(cmd->data), req->arg);
		if (t < 0) {
			reply(sink, "error no target named '%s'", req->arg);
			return;
		}
		rc = router_switch(cmd->router, t, SWITCH_COMMAND, now);
	} else if (req->cmd == PROTO_TOGGLE) {
		rc = router_toggle(cmd->router, SWITCH_COMMAND, now);
	} else {
		rc = router_cycle(cmd->router, req->cmd == PROTO_NEXT ? 1 : -1, SWITCH_COMMAND, now);
	}
	if (rc == 0 && cmd->virt && virt_attaching(cmd->virt)) {
		/* A usb target: the reply says whether its devices got attached. */
		uint64_t ticket = sink->defer ? sink->defer(sink->data) : 0;
		if (ticket) {
			virt_set_ticket(cmd->virt, ticket);
			return;
		}
	}
	char line[COMMAND_SWITCH_REPLY_MAX];
	command_switch_reply(cmd, rc, NULL, line, sizeof(line));
	sink->reply(sink->data, line);
}

int command_run(const struct command *cmd, const struct proto_request *req, const struct command_perms *perms,
		const struct command_sink *sink)
{
	if (perms->allowed && !perms->allowed(req->cmd)) {
		reply(sink, "error '%s' %s", proto_cmd_name(req->cmd), perms->refusal);
		return -EPERM;
	}
	uint64_t now = cmd->clock(cmd->data);
	switch (req->cmd) {
	case PROTO_SWITCH:
	case PROTO_TOGGLE:
	case PROTO_NEXT:
	case PROTO_PREV:
		switch_to(cmd, req, now, sink);
		break;
	case PROTO_RELEASE:
		router_release(cmd->router, SWITCH_EMERGENCY, now);
		reply(sink, "ok released");
		break;
	case PROTO_STATUS:
	case PROTO_LIST:
		report(cmd, req->cmd, sink);
		break;
	case PROTO_RELOAD:
		reload(cmd, sink);
		break;
	case PROTO_SUBSCRIBE:
		sink->subscribe(sink->data);
		reply(sink, "ok subscribed %s", active_name(cmd));
		/* What a status bar needs from the start; later changes come as
		 * they happen (daemon.c, out_locked). */
		if (router_is_locked(cmd->router))
			reply(sink, "event lock on");
		break;
	case PROTO_LOCK:
	case PROTO_UNLOCK:
		router_lock(cmd->router, req->cmd == PROTO_LOCK);
		reply(sink, "ok %s", req->cmd == PROTO_LOCK ? "locked" : "unlocked");
		break;
	case PROTO_MONITOR:
		if (!sink->monitor) {
			reply(sink, "error 'monitor' is not available here");
			break;
		}
		sink->monitor(sink->data);
		reply(sink, "ok monitoring");
		break;
	case PROTO_PING:
		reply(sink, "ok pong");
		break;
	case PROTO_VERSION:
		reply(sink, "ok %s", KVMSWITCH_VERSION);
		break;
	}
	return 0;
}
