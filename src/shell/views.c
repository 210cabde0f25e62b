/* The human views of the daemon's JSON replies: `kvmswitch status`, `list`
 * and `monitor` (views.h). `stats` has its own, stats.c. */
#include "views.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonget.h"
#include "stats.h"

/* A scalar member's value as the views show it. */
static void print_scalar(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		fputs("-", stdout);
		break;
	case json_type_boolean:
		fputs(json_object_get_boolean(v) ? "yes" : "no", stdout);
		break;
	case json_type_int:
		printf("%" PRId64, json_object_get_int64(v));
		break;
	case json_type_string:
		fputs(json_object_get_string(v), stdout);
		break;
	default:
		fputs("...", stdout);
	}
}

static bool is_one_of(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (!strcmp(key, *keys))
			return true;
	return false;
}

/* Scalar members not in `known`, as " key=value". */
static void print_extras(struct json_object *obj, const char *const *known)
{
	json_object_object_foreach(obj, key, val)
	{
		if (is_one_of(key, known) || json_object_is_type(val, json_type_object) ||
		    json_object_is_type(val, json_type_array))
			continue;
		printf("  %s=", key);
		print_scalar(val);
	}
}

/* An input's state: pending, grabbed or released. */
static const char *input_state(struct json_object *in)
{
	return jsonget_bool(in, "pending", false) ? "pending" : jsonget_bool(in, "grabbed", false) ? "grabbed" : "released";
}

/* "num lock, caps lock" for an LED bit mask (bit N: LED code N), or "off". */
static const char *leds_text(int64_t leds, char *buf, size_t len)
{
	static const char *const names[] = { "num lock", "caps lock", "scroll lock", "compose", "kana" };
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < 16 && off < len; i++) {
		if (!(leds & (1 << i)))
			continue;
		int n = i < 5 ? snprintf(buf + off, len - off, "%s%s", off ? ", " : "", names[i])
			      : snprintf(buf + off, len - off, "%sled %d", off ? ", " : "", i);
		off += n > 0 ? (size_t)n : 0;
	}
	if (!off)
		snprintf(buf, len, "off");
	return buf;
}

/* The second line of a target: its LEDs, its domain's state, and what is
 * worth knowing only when it is not zero. */
static void print_target_details(struct json_object *t)
{
	char leds[96];
	printf("%21sleds %s", "", leds_text(jsonget_int(t, "leds", 0), leds, sizeof(leds)));
	struct json_object *d = jsonget_member(t, "domain", json_type_object);
	if (d) {
		printf("; domain %s at %s: %s", jsonget_str(d, "name", "?"), jsonget_str(d, "uri", "?"), jsonget_str(d, "state", "?"));
		const char *why = jsonget_str(d, "reason", NULL);
		if (why)
			printf(" (%s)", why);
		int64_t attached = jsonget_int(d, "attached", -1);
		if (attached >= 0)
			printf(", %" PRId64 " USB/PCI device%s attached", attached, attached == 1 ? "" : "s");
	}
	int64_t held = jsonget_int(t, "held", 0), failed = jsonget_int(t, "failed_writes", 0), owed = jsonget_int(t, "owed_keys", 0);
	if (held)
		printf("; held %" PRId64, held);
	if (failed)
		printf("; failed writes %" PRId64, failed);
	if (owed)
		printf("; keys owed %" PRId64, owed);
	putchar('\n');
}

static void print_status(struct json_object *st)
{
	static const char *const top_known[] = { "version", "pid", "config", "active", "released", "locked",
						 "targets", "inputs", "counters", "latency", "realtime", NULL };
	static const char *const target_known[] = { "name", "type", "mode", "active", "held", "leds", "devices",
						    "failed_writes", "owed_keys", NULL };
	printf("active: %s%s%s\n", jsonget_str(st, "active", "?"),
	       jsonget_bool(st, "released", false) ? " (released: devices ungrabbed)" : "",
	       jsonget_bool(st, "locked", false) ? " (locked: the hotkeys do not switch)" : "");
	printf("targets:\n");
	struct json_object *ts = jsonget_member(st, "targets", json_type_array);
	for (size_t i = 0; ts && i < json_object_array_length(ts); i++) {
		struct json_object *t = json_object_array_get_idx(ts, i);
		const char *type = jsonget_str(t, "type", "?");
		const char *mode = jsonget_str(t, "mode", NULL);
		char kind[48];
		snprintf(kind, sizeof(kind), "%s%s%s%s", type, mode ? " (" : "", mode ? mode : "", mode ? ")" : "");
		struct json_object *devs = jsonget_member(t, "devices", json_type_object);
		bool any = devs && json_object_object_length(devs) > 0;
		printf("  %c %-16s %-*s", jsonget_bool(t, "active", false) ? '*' : ' ', jsonget_str(t, "name", "?"), any ? 16 : 0,
		       kind);
		if (any) {
			json_object_object_foreach(devs, dkind, dnode)
			{
				bool named = json_object_is_type(dnode, json_type_string);
				printf("  %s %s", dkind, named ? json_object_get_string(dnode) : "?");
			}
		}
		print_extras(t, target_known);
		putchar('\n');
		print_target_details(t);
	}
	struct json_object *in = jsonget_member(st, "inputs", json_type_array);
	size_t n_in = in ? json_object_array_length(in) : 0;
	printf("inputs:%s\n", n_in ? "" : " none");
	for (size_t i = 0; i < n_in; i++) {
		struct json_object *dev = json_object_array_get_idx(in, i);
		printf("    %-20s %-9s %s\n", jsonget_str(dev, "node", "?"), input_state(dev), jsonget_str(dev, "name", "?"));
	}
	struct json_object *c = jsonget_member(st, "counters", json_type_object);
	if (c && json_object_object_length(c)) {
		printf("counters:");
		int col = 9;
		size_t left = (size_t)json_object_object_length(c);
		json_object_object_foreach(c, name, val)
		{
			char item[96];
			int n = snprintf(item, sizeof(item), " %s %" PRId64 "%s", name,
					 json_object_is_type(val, json_type_int) ? json_object_get_int64(val) : 0,
					 --left ? "," : "");
			if (col + n > 78) {
				printf("\n         ");
				col = 9;
			}
			fputs(item, stdout);
			col += n;
		}
		putchar('\n');
	}
	stats_status_lines(stdout, st);
	printf("daemon: kvmswitch %s, pid %" PRId64 ", config %s", jsonget_str(st, "version", "?"), jsonget_int(st, "pid", 0),
	       jsonget_str(st, "config", "(built-in defaults)"));
	print_extras(st, top_known);
	putchar('\n');
}

static void print_list(struct json_object *l)
{
	struct json_object *outs = jsonget_member(l, "outputs", json_type_array);
	struct json_object *ins = jsonget_member(l, "inputs", json_type_array);
	printf("%-16s %-9s %-20s %s\n", "TARGET", "KIND", "NODE", "NAME");
	for (size_t i = 0; outs && i < json_object_array_length(outs); i++) {
		struct json_object *o = json_object_array_get_idx(outs, i);
		printf("%-16s %-9s %-20s %s\n", jsonget_str(o, "target", "?"), jsonget_str(o, "kind", "?"), jsonget_str(o, "node", "?"),
		       jsonget_str(o, "name", ""));
	}
	printf("\n%-26s %-20s %s\n", "INPUT", "NODE", "NAME");
	for (size_t i = 0; ins && i < json_object_array_length(ins); i++) {
		struct json_object *dev = json_object_array_get_idx(ins, i);
		printf("%-26s %-20s %s\n", input_state(dev), jsonget_str(dev, "node", "?"), jsonget_str(dev, "name", "?"));
	}
}

struct json_object *views_parse_json(const char *text, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	size_t len = strlen(text);
	struct json_object *v = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	if (e == json_tokener_success && json_tokener_get_parse_end(tok) < len) {
		snprintf(err, errlen, "text after the JSON value");
		json_object_put(v);
		v = NULL;
	} else if (e != json_tokener_success) {
		snprintf(err, errlen, "%s", e == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(e));
		json_object_put(v);
		v = NULL;
	} else if (!v) {
		snprintf(err, errlen, "not an object");
	}
	json_tokener_free(tok);
	return v;
}

int views_print_reply(const struct proto_request *req, const char *text, bool stats)
{
	char err[128];
	struct json_object *v = views_parse_json(text, err, sizeof(err));
	if (!v || !json_object_is_type(v, json_type_object)) {
		fprintf(stderr, "kvmswitch: cannot read the daemon's reply (%s): %.200s\n", v ? "not an object" : err,
			text);
		json_object_put(v);
		return -1;
	}
	if (req->cmd == PROTO_STATUS && stats)
		stats_print(stdout, v);
	else if (req->cmd == PROTO_STATUS)
		print_status(v);
	else
		print_list(v);
	json_object_put(v);
	return 0;
}

/* One line of `kvmswitch monitor`: DEVICE (NODE)  KEY down|up  -> WHERE. */
void views_print_monitor_event(const char *text)
{
	char err[128];
	struct json_object *e = views_parse_json(text, err, sizeof(err));
	if (!e || !json_object_is_type(e, json_type_object)) {
		printf("? %s\n", text);
		json_object_put(e);
		return;
	}
	char dev[160], where[160];
	snprintf(dev, sizeof(dev), "%s (%s)", jsonget_str(e, "device", "?"), jsonget_str(e, "node", "?"));
	const char *route = jsonget_str(e, "route", "?"), *target = jsonget_str(e, "target", "?");
	if (!strcmp(route, "target") && jsonget_bool(e, "shared_key", false) && strcmp(target, "host"))
		snprintf(where, sizeof(where), "host + %s (shared key)", target);
	else if (!strcmp(route, "target"))
		snprintf(where, sizeof(where), "%s%s", target,
			 jsonget_bool(e, "host_key", false)    ? " (host key)"
			 : jsonget_bool(e, "shared_key", false) ? " (shared key)"
			 : jsonget_bool(e, "host_only", false)  ? " (host-only device)"
							   : "");
	else if (!strcmp(route, "host-read"))
		snprintf(where, sizeof(where), "host (it reads the device itself)%s",
			 jsonget_bool(e, "hotkey", false) ? ", and a hotkey" : "");
	else if (!strcmp(route, "hotkey"))
		snprintf(where, sizeof(where), "nowhere: a hotkey");
	else
		snprintf(where, sizeof(where), "%s", route);
	if (!strcmp(jsonget_str(e, "type", ""), "key"))
		printf("%-40s %-20s %-4s -> %s\n", dev, jsonget_str(e, "key", "?"), jsonget_str(e, "value", "?"), where);
	else
		printf("%-40s %-25s -> %s\n", dev, "motion", where);
	json_object_put(e);
}
