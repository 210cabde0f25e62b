/* Which input devices kvmswitch takes: rules from [input] match/exclude lines
 * evaluated against a plain description of a device. Pure. */
#ifndef KVMSWITCH_CORE_MATCH_H
#define KVMSWITCH_CORE_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* What udev says a device is (ID_INPUT_* properties). */
enum devkind {
	DEVKIND_KEYBOARD = 1 << 0, /* ID_INPUT_KEYBOARD */
	DEVKIND_KEY = 1 << 1,      /* ID_INPUT_KEY */
	DEVKIND_MOUSE = 1 << 2,    /* ID_INPUT_MOUSE */
	DEVKIND_TABLET = 1 << 3,   /* ID_INPUT_TABLET */
	DEVKIND_TOUCHPAD = 1 << 4, /* ID_INPUT_TOUCHPAD */
	DEVKIND_TOUCHSCREEN = 1 << 5,
	DEVKIND_JOYSTICK = 1 << 6,
	DEVKIND_SWITCH = 1 << 7,
};

#define DEVICE_MAX_LINKS 8

struct device_desc {
	const char *node;   /* /dev/input/eventN */
	const char *name;   /* kernel device name */
	uint16_t bustype, vendor, product;
	unsigned kinds;     /* enum devkind bits */
	bool typing_keys;   /* carries keys of the KEY_ESC..KEY_KPDOT block */
	bool virtual_dev;   /* sysfs path under /devices/virtual */
	const char *links[DEVICE_MAX_LINKS]; /* /dev/input/by-id/..., by-path/... */
	size_t n_links;
};

enum match_term_type {
	MATCH_AUTO,  /* the built-in choice: keyboards, mice, keys-only devices with typing keys */
	MATCH_NAME,  /* name:"glob" */
	MATCH_ID,    /* id:VVVV:PPPP (PPPP may be *) */
	MATCH_LINK,  /* path:/dev/input/by-id/... or by-id:GLOB / by-path:GLOB */
	MATCH_KIND,  /* kind:keyboard|key|mouse|tablet|touchpad|touchscreen|joystick */
	MATCH_NODE,  /* node:/dev/input/eventN */
};

struct match_term {
	enum match_term_type type;
	char *glob;          /* NAME, LINK, NODE */
	uint16_t vendor, product;
	bool any_product;
	unsigned kinds;      /* KIND */
};

/* All terms of a rule must hold. */
struct match_rule {
	struct match_term *terms;
	size_t n_terms;
	int line;
};

/* The verdict on one device and the reason, for `kvmswitch list`. */
struct match_verdict {
	bool take;
	bool host_only; /* match_host_only: forwarded to the host, never to a VM */
	bool vetoed;    /* ours or excluded: nothing takes it */
	char reason[160];
};

/* Parses one `match =` / `exclude =` value. Returns 0 or -1 with err set. */
int match_rule_parse(struct match_rule *rule, const char *text, char *err, size_t errlen);
void match_rule_finish(struct match_rule *rule);
/* Appends a rule as match_rule_parse reads it: terms joined by a blank,
 * values quoted only where they must be. `compact` writes ids without
 * leading zeros (id:46d:c52b), so that the text is never longer than any
 * text the rule was parsed from. Returns 0 or -1 (out of memory). */
int match_rule_format(const struct match_rule *rule, bool compact, struct buf *out);

bool match_rule_test(const struct match_rule *rule, const struct device_desc *dev);

/* The built-in choice alone. */
bool match_auto(const struct device_desc *dev);

/* Our own virtual devices are never taken: virtual and named "kvmswitch ...". */
bool match_is_ours(const struct device_desc *dev);

/* Decide for one device: never ours; excluded if any exclude rule holds;
 * otherwise taken if any match rule holds (no match rules: MATCH_AUTO). */
void match_decide(const struct match_rule *match, size_t n_match, const struct match_rule *exclude,
		  size_t n_exclude, const struct device_desc *dev, struct match_verdict *out);

/* After match_decide: [input] host-only lines. A device one of them selects
 * is taken (unless it is ours or excluded) and is the host's alone. */
void match_host_only(const struct match_rule *host_only, size_t n, const struct device_desc *dev,
		     struct match_verdict *v);

/* "keyboard,mouse" for enum devkind bits ("-" for none). */
const char *match_kinds_text(unsigned kinds, char *buf, size_t len);

/* Shell-style glob (fnmatch(3)). */
bool match_glob(const char *pattern, const char *text);

#endif
