/* input-linux objects over QMP (hotadd.h): the messages, built and read with
 * json-c, and the steps that add or remove one device's object. */
#include "hotadd.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/virtxml.h"

/* ---- reading ---- */

/* A string member of o, copied into buf ("" if absent or not a string). */
static void member_string(struct json_object *o, const char *name, char *buf, size_t len)
{
	struct json_object *v;
	buf[0] = '\0';
	if (o && json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(v));
}

void qmp_msg_parse(const char *line, size_t len, struct qmp_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (len > (size_t)1 << 20)
		return;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
	/* One whole object, nothing but blanks after it. */
	size_t end = o && json_tokener_get_error(tok) == json_tokener_success ? json_tokener_get_parse_end(tok) : 0;
	while (end < len && (line[end] == ' ' || line[end] == '\t' || line[end] == '\r'))
		end++;
	if (o && end != len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return;
	}
	struct json_object *v;
	member_string(o, "id", m->tag, sizeof(m->tag));
	if (json_object_object_get_ex(o, "QMP", &v)) {
		m->kind = QMP_GREETING;
	} else if (json_object_object_get_ex(o, "return", &v)) {
		m->kind = QMP_RETURN;
		if (json_object_is_type(v, json_type_string))
			snprintf(m->value, sizeof(m->value), "%s", json_object_get_string(v));
	} else if (json_object_object_get_ex(o, "error", &v)) {
		m->kind = QMP_ERROR;
		member_string(v, "desc", m->error, sizeof(m->error));
		if (!m->error[0])
			snprintf(m->error, sizeof(m->error), "an error without a description");
	} else if (json_object_object_get_ex(o, "event", &v)) {
		m->kind = QMP_EVENT;
	}
	json_object_put(o);
}

/* ---- writing ---- */

/* {"execute": cmd, "arguments": args (taken), "id": tag} and a newline. */
static char *command(const char *cmd, struct json_object *args, const char *tag)
{
	struct json_object *o = json_object_new_object();
	char *out = NULL;
	if (o) {
		json_object_object_add(o, "execute", json_object_new_string(cmd));
		if (args)
			json_object_object_add(o, "arguments", args);
		if (tag)
			json_object_object_add(o, "id", json_object_new_string(tag));
		const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		if (s && asprintf(&out, "%s\n", s) < 0)
			out = NULL;
		json_object_put(o);
	} else {
		json_object_put(args);
	}
	return out;
}

char *qmp_msg_capabilities(const char *tag)
{
	return command("qmp_capabilities", NULL, tag);
}

static struct json_object *id_args(const char *id)
{
	struct json_object *a = json_object_new_object();
	if (a)
		json_object_object_add(a, "id", json_object_new_string(id));
	return a;
}

/* ---- the steps ---- */

void hotadd_init(struct hotadd *h, const char *target, enum vkind kind, const char *node, const char *toggle,
		 bool adopted)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->id, sizeof(h->id), "kvmswitch-%s-%s", target, vkind_name(kind));
	snprintf(h->node, sizeof(h->node), "%s", node);
	snprintf(h->toggle, sizeof(h->toggle), "%s", toggle ? toggle : VIRTXML_FALLBACK_TOGGLE);
	h->kind = kind;
	h->adopted = adopted;
	h->state = HA_ADD;
}

void hotadd_remove(struct hotadd *h)
{
	h->state = HA_REMOVE;
	h->error[0] = '\0';
}

bool hotadd_settled(const struct hotadd *h)
{
	return h->state == HA_DONE || h->state == HA_FAILED || h->state == HA_REMOVED;
}

char *hotadd_command(const struct hotadd *h, const char *tag)
{
	struct json_object *a;
	switch (h->state) {
	case HA_ADD:
		a = json_object_new_object();
		if (!a)
			return NULL;
		json_object_object_add(a, "qom-type", json_object_new_string("input-linux"));
		json_object_object_add(a, "id", json_object_new_string(h->id));
		json_object_object_add(a, "evdev", json_object_new_string(h->node));
		if (h->kind == VK_KEYBOARD) {
			/* As `kvmswitch libvirt-xml` writes it: repeat='on'
			 * grab='all' grabToggle=... */
			json_object_object_add(a, "repeat", json_object_new_boolean(1));
			json_object_object_add(a, "grab_all", json_object_new_boolean(1));
			json_object_object_add(a, "grab-toggle", json_object_new_string(h->toggle));
		}
		return command("object-add", a, tag);
	case HA_QUERY:
		a = json_object_new_object();
		if (!a)
			return NULL;
		char path[HOTADD_ID_MAX + 16];
		snprintf(path, sizeof(path), "/objects/%s", h->id);
		json_object_object_add(a, "path", json_object_new_string(path));
		json_object_object_add(a, "property", json_object_new_string("evdev"));
		return command("qom-get", a, tag);
	case HA_DELETE:
	case HA_REMOVE:
		return command("object-del", id_args(h->id), tag);
	case HA_DONE:
	case HA_FAILED:
	case HA_REMOVED:
		break;
	}
	return NULL;
}

void hotadd_reply(struct hotadd *h, const struct qmp_msg *m)
{
	bool ok = m->kind == QMP_RETURN;
	switch (h->state) {
	case HA_ADD:
		if (ok) {
			h->state = HA_DONE;
		} else if (strcasestr(m->error, "duplicate") && !h->retried) {
			h->state = HA_QUERY; /* from an earlier kvmswitch, or QEMU's command line */
		} else {
			h->state = HA_FAILED;
			snprintf(h->error, sizeof(h->error), "%s", m->error);
		}
		break;
	case HA_QUERY:
		/* Kept only if it reads the very device we have: one adopted
		 * from the fd store. A node of the same name that we created
		 * anew is another device; QEMU holds a dead one. */
		h->state = ok && h->adopted && !strcmp(m->value, h->node) ? HA_DONE : HA_DELETE;
		break;
	case HA_DELETE:
		h->retried = true;
		if (ok || strstr(m->error, "not found")) {
			h->state = HA_ADD;
		} else {
			h->state = HA_FAILED;
			snprintf(h->error, sizeof(h->error), "%s", m->error);
		}
		break;
	case HA_REMOVE:
		h->state = HA_REMOVED;
		if (!ok && !strstr(m->error, "not found"))
			snprintf(h->error, sizeof(h->error), "%s", m->error);
		break;
	case HA_DONE:
	case HA_FAILED:
	case HA_REMOVED:
		break;
	}
}
