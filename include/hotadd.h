/* A target's virtual devices added to a running QEMU as input-linux objects
 * (QMP object-add), the same way whether kvmswitch talks QMP on the QEMU's
 * own socket (qmplink.c, `qmp = PATH`) or through libvirt's monitor
 * passthrough (virt_hotplug.c, `libvirt-hotplug = yes`).
 *
 * Each device is one object with a stable id, kvmswitch-TARGET-KIND, so
 * adding it again (after kvmswitch or QEMU restarted) is idempotent: when
 * QEMU already has the id, kvmswitch asks the object's evdev path; an object
 * that reads kvmswitch's device as it is now (adopted from systemd's fd
 * store: the same device QEMU has open) is kept, any other is deleted and
 * added again. The options are those `kvmswitch libvirt-xml` recommends:
 * the keyboard gets repeat, grab_all and kvmswitch's grab toggle.
 *
 * The messages are built and read with json-c; this header names none of
 * its types. */
#ifndef KVMSWITCH_HOTADD_H
#define KVMSWITCH_HOTADD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/keys.h"

#define HOTADD_ID_MAX 64
#define HOTADD_NODE_MAX 64
#define HOTADD_TEXT_MAX 300

/* One QMP line as kvmswitch reads it. */
enum qmp_kind {
	QMP_JUNK,     /* not a JSON object, or none of the below */
	QMP_GREETING, /* {"QMP": {...}} */
	QMP_RETURN,   /* {"return": ..., "id": ...} */
	QMP_ERROR,    /* {"error": {"class", "desc"}, "id": ...} */
	QMP_EVENT,    /* {"event": ...} */
};

struct qmp_msg {
	enum qmp_kind kind;
	char tag[32];                 /* the "id" we gave the command, "" */
	char error[HOTADD_TEXT_MAX];  /* QMP_ERROR: "desc" */
	char value[HOTADD_NODE_MAX];  /* QMP_RETURN: a string returned ("" else) */
};

/* Reads one line (without its newline). Anything that is not a JSON object
 * is QMP_JUNK; nothing in the line makes kvmswitch do more than read it. */
void qmp_msg_parse(const char *line, size_t len, struct qmp_msg *m);

/* {"execute":"qmp_capabilities","id":TAG}, newline-terminated, malloc'd
 * (NULL: out of memory). */
char *qmp_msg_capabilities(const char *tag);

enum hotadd_state {
	HA_ADD,     /* object-add */
	HA_QUERY,   /* the id exists: qom-get its evdev */
	HA_DELETE,  /* it reads something else: object-del, then HA_ADD again */
	HA_DONE,    /* QEMU has the object reading our node */
	HA_FAILED,  /* error says why; tried again when QEMU (re)starts */
	HA_REMOVE,  /* object-del for good (the target or kvmswitch goes) */
	HA_REMOVED, /* gone from QEMU (or it never had it) */
};

/* One device's object in one QEMU. */
struct hotadd {
	char id[HOTADD_ID_MAX];     /* kvmswitch-TARGET-KIND */
	char node[HOTADD_NODE_MAX]; /* /dev/input/eventN */
	enum vkind kind;
	char toggle[24];            /* the keyboard's grab-toggle */
	bool adopted;               /* the node is the device QEMU may already hold */
	enum hotadd_state state;
	bool retried;               /* deleted and added once already */
	char error[HOTADD_TEXT_MAX];
};

/* Starts adding target `target`'s device of `kind` at node (HA_ADD). toggle:
 * virtxml_grab_toggle's choice, or NULL for the fallback. */
void hotadd_init(struct hotadd *h, const char *target, enum vkind kind, const char *node, const char *toggle,
		 bool adopted);
/* Starts removing it (HA_REMOVE). */
void hotadd_remove(struct hotadd *h);
/* The command for the current state, newline-terminated and with "id": tag
 * if tag is not NULL, malloc'd; NULL if there is nothing to send (done,
 * failed, removed) or no memory. */
char *hotadd_command(const struct hotadd *h, const char *tag);
/* The reply to that command: moves to the next state. */
void hotadd_reply(struct hotadd *h, const struct qmp_msg *m);
/* Nothing more to send. */
bool hotadd_settled(const struct hotadd *h);

#endif
