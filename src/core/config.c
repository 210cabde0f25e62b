#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 4096

enum section {
	SEC_NONE,
	SEC_GENERAL,
	SEC_INPUT,
	SEC_TARGET,
	SEC_LISTENER,
};

/* Keys that may be given once per section; the line where each was set. */
enum once_key {
	K_HOTKEY,
	K_EMERGENCY,
	K_START,
	K_REALTIME,
	K_XKB_LAYOUT,
	K_XKB_VARIANT,
	K_XKB_MODEL,
	K_XKB_OPTIONS,
	K_TYPE,
	K_MODE,
	K_ON_ENTER,
	K_ON_LEAVE,
	K_DOMAIN,
	K_URI,
	K_LIBVIRT_INPUT,
	K_RETURN_AFTER,
	K_ENABLE,
	K_ADDRESS,
	K_SECRET_FILE,
	K_RATE_LIMIT,
	/* game time (issue 15) */
	K_HOST_KEYS,
	K_SHARED_KEYS,
	K_LOCK,
	K_START_LOCKED,
	K_HOTKEY_ACTION,
	K_FOLLOW,
	K_QMP,
	K_LIBVIRT_HOTPLUG,
	K_COUNT,
};

struct parser {
	struct config *cfg;
	const char *path;
	int line;
	enum section sec;
	struct target_conf *target;
	int seen[K_COUNT]; /* line of the key in the current section, 0 if unset */
	int general_line, input_line, listener_line, start_line;
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, int line, const char *fmt, ...)
{
	char msg[CONFIG_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->path, line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->path, msg);
	return -1;
}

const char *hotkey_action_name(enum hotkey_action a)
{
	return a == HOTKEY_TOGGLE ? "toggle" : "cycle";
}

const char *target_type_name(enum target_type t)
{
	switch (t) {
	case TARGET_HOST:
		return "host";
	case TARGET_EVDEV:
		return "evdev";
	case TARGET_USB:
		return "usb";
	}
	return "?";
}

const char *realtime_mode_name(enum realtime_mode m)
{
	switch (m) {
	case REALTIME_AUTO:
		return "auto";
	case REALTIME_YES:
		return "yes";
	case REALTIME_NO:
		return "no";
	}
	return "?";
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* "value" -> value, for plain string settings (not commands). */
static char *unquote(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= TARGET_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static int set_string(struct parser *p, char **dst, const char *val)
{
	char *copy = strdup(val);
	if (!copy)
		return fail(p, p->line, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

/* "30", "30s", "1.5", "2m", "1h": milliseconds, at most a day. */
static int parse_duration_ms(const char *v, uint32_t *out)
{
	/* Digits and a decimal point only: strtod alone would take "nan",
	 * "inf", "0x10" and leading blanks. */
	size_t digits = strspn(v, "0123456789.");
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (digits == 0 || end != v + digits || errno || d < 0)
		return -1;
	if (*end == 's' && end[1] == '\0')
		;
	else if (*end == 'm' && end[1] == '\0')
		d *= 60;
	else if (*end == 'h' && end[1] == '\0')
		d *= 3600;
	else if (*end != '\0')
		return -1;
	if (d > 86400)
		return -1;
	*out = (uint32_t)(d * 1000 + 0.5);
	return 0;
}

static int hexval(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	if (n == 0 || n > 8)
		return -1;
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		v = v * 16 + (unsigned long)(isdigit((unsigned char)s[i]) ? s[i] - '0'
									  : tolower((unsigned char)s[i]) - 'a' + 10);
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_usb_list(struct parser *p, struct target_conf *t, char *val)
{
	for (char *save = NULL, *tok = strtok_r(val, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		struct usb_match m = { 0 };
		char *c1 = strchr(tok, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		size_t plen = c1 ? (c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1)) : 0;
		unsigned long v, pr;
		if (!c1 || hexval(tok, (size_t)(c1 - tok), 0xffff, &v) < 0 || hexval(c1 + 1, plen, 0xffff, &pr) < 0)
			return fail(p, p->line, "bad USB device '%s' (expected VID:PID or VID:PID:SERIAL, in hex)", tok);
		m.vendor = (uint16_t)v;
		m.product = (uint16_t)pr;
		if (c2) {
			if (!c2[1] || strlen(c2 + 1) >= sizeof(m.serial))
				return fail(p, p->line, "bad serial in USB device '%s'", tok);
			snprintf(m.serial, sizeof(m.serial), "%s", c2 + 1);
		}
		struct usb_match *n = realloc(t->usb, (t->n_usb + 1) * sizeof(*n));
		if (!n)
			return fail(p, p->line, "out of memory");
		t->usb = n;
		t->usb[t->n_usb++] = m;
	}
	return 0;
}

static int parse_pci_list(struct parser *p, struct target_conf *t, char *val)
{
	for (char *save = NULL, *tok = strtok_r(val, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		struct pci_addr a = { 0 };
		unsigned long dom = 0, bus, slot, fn;
		char *dot = strrchr(tok, '.');
		char *c2 = dot ? memrchr(tok, ':', (size_t)(dot - tok)) : NULL;
		char *c1 = c2 ? memrchr(tok, ':', (size_t)(c2 - tok)) : NULL;
		const char *bus_s = c1 ? c1 + 1 : tok;
		if (!dot || !c2 || (c1 && hexval(tok, (size_t)(c1 - tok), 0xffff, &dom) < 0) ||
		    hexval(bus_s, (size_t)(c2 - bus_s), 0xff, &bus) < 0 ||
		    hexval(c2 + 1, (size_t)(dot - c2 - 1), 0x1f, &slot) < 0 ||
		    hexval(dot + 1, strlen(dot + 1), 0x7, &fn) < 0)
			return fail(p, p->line, "bad PCI address '%s' (expected DDDD:BB:SS.F, e.g. 0000:11:00.3)", tok);
		a.domain = (uint16_t)dom;
		a.bus = (uint8_t)bus;
		a.slot = (uint8_t)slot;
		a.func = (uint8_t)fn;
		struct pci_addr *n = realloc(t->pci, (t->n_pci + 1) * sizeof(*n));
		if (!n)
			return fail(p, p->line, "out of memory");
		t->pci = n;
		t->pci[t->n_pci++] = a;
	}
	return 0;
}

static int add_rule(struct parser *p, struct match_rule **rules, size_t *n, const char *val)
{
	char err[256];
	struct match_rule r;
	if (match_rule_parse(&r, val, err, sizeof(err)) < 0)
		return fail(p, p->line, "%s", err);
	r.line = p->line;
	struct match_rule *nr = realloc(*rules, (*n + 1) * sizeof(*nr));
	if (!nr) {
		match_rule_finish(&r);
		return fail(p, p->line, "out of memory");
	}
	*rules = nr;
	nr[(*n)++] = r;
	return 0;
}

/* How config_print writes a key's value, and where the value lives: at
 * `off` in struct config ([general], [input]), struct target_conf ([target])
 * or struct listener_conf ([listener]). */
enum print_kind {
	P_TEXT,     /* char *, as written (hotkeys, hook commands) */
	P_STRING,   /* char *, a plain string: in quotes where it must be */
	P_NAME,     /* char [TARGET_NAME_MAX] */
	P_BOOL,     /* bool */
	P_UINT,     /* uint32_t */
	P_DURATION, /* uint32_t milliseconds */
	P_RULES,    /* struct match_rule * */
	P_TYPE,     /* enum target_type */
	P_MODE,     /* enum host_mode */
	P_INPUT,    /* enum libvirt_input */
	P_USB,      /* target_conf.usb */
	P_PCI,      /* target_conf.pci */
	P_FOLLOW,   /* enum follow */
	P_ACTION,   /* enum hotkey_action */
	P_REALTIME, /* enum realtime_mode */
};

/* A key's field (off, n_off) in its section's struct. */
#define CONF(f) offsetof(struct config, f), 0
#define TARGET(f) offsetof(struct target_conf, f), 0
#define LISTENER(f) offsetof(struct listener_conf, f), 0
#define LIST(s, f, n) offsetof(struct s, f), offsetof(struct s, n)
#define ALL_TYPES (1u << TARGET_HOST | 1u << TARGET_EVDEV | 1u << TARGET_USB)
#define VM_TYPES (1u << TARGET_EVDEV | 1u << TARGET_USB)

/* Every key: the parser looks keys up here, check_target() refuses keys a
 * target's type does not take (`types`), and config_print() writes them in
 * this order. A new key is a row here (every field: -Wextra fails the build
 * on a row without its print kind and field), its case in handle_key(), and
 * its field in tests/unit/config_eq.c, whose round trip tests then cover it
 * (unit/config_print_*, and fuzz_config on any file). */
static const struct {
	const char *name;
	enum section sec;
	int key;        /* enum once_key, or -1 for repeatable keys */
	unsigned types; /* [target] keys: the target types that take it */
	enum print_kind print;
	size_t off, n_off; /* n_off: the count of a list (P_RULES, P_USB, P_PCI) */
} keys[] = {
	{ "hotkey", SEC_GENERAL, K_HOTKEY, 0, P_TEXT, CONF(hotkey_text.text) },
	{ "emergency", SEC_GENERAL, K_EMERGENCY, 0, P_TEXT, CONF(emergency_text.text) },
	{ "start", SEC_GENERAL, K_START, 0, P_NAME, CONF(start) },
	{ "realtime", SEC_GENERAL, K_REALTIME, 0, P_REALTIME, CONF(realtime) },
	{ "xkb-layout", SEC_GENERAL, K_XKB_LAYOUT, 0, P_STRING, CONF(xkb_layout) },
	{ "xkb-variant", SEC_GENERAL, K_XKB_VARIANT, 0, P_STRING, CONF(xkb_variant) },
	{ "xkb-model", SEC_GENERAL, K_XKB_MODEL, 0, P_STRING, CONF(xkb_model) },
	{ "xkb-options", SEC_GENERAL, K_XKB_OPTIONS, 0, P_STRING, CONF(xkb_options) },
	{ "host-keys", SEC_GENERAL, K_HOST_KEYS, 0, P_TEXT, CONF(host_keys.text.text) },
	{ "shared-keys", SEC_GENERAL, K_SHARED_KEYS, 0, P_TEXT, CONF(shared_keys.text.text) },
	{ "lock", SEC_GENERAL, K_LOCK, 0, P_TEXT, CONF(lock_text.text) },
	{ "start-locked", SEC_GENERAL, K_START_LOCKED, 0, P_BOOL, CONF(start_locked) },
	{ "hotkey-action", SEC_GENERAL, K_HOTKEY_ACTION, 0, P_ACTION, CONF(hotkey_action) },
	{ "match", SEC_INPUT, -1, 0, P_RULES, LIST(config, match, n_match) },
	{ "exclude", SEC_INPUT, -1, 0, P_RULES, LIST(config, exclude, n_exclude) },
	{ "host-only", SEC_INPUT, -1, 0, P_RULES, LIST(config, host_only, n_host_only) },
	{ "type", SEC_TARGET, K_TYPE, ALL_TYPES, P_TYPE, TARGET(type) },
	{ "mode", SEC_TARGET, K_MODE, 1u << TARGET_HOST, P_MODE, TARGET(mode) },
	{ "hotkey", SEC_TARGET, K_HOTKEY, ALL_TYPES, P_TEXT, TARGET(hotkey_text.text) },
	{ "on-enter", SEC_TARGET, K_ON_ENTER, ALL_TYPES, P_TEXT, TARGET(on_enter) },
	{ "on-leave", SEC_TARGET, K_ON_LEAVE, ALL_TYPES, P_TEXT, TARGET(on_leave) },
	{ "domain", SEC_TARGET, K_DOMAIN, VM_TYPES, P_STRING, TARGET(domain) },
	{ "uri", SEC_TARGET, K_URI, VM_TYPES, P_STRING, TARGET(uri) },
	{ "libvirt-input", SEC_TARGET, K_LIBVIRT_INPUT, 1u << TARGET_EVDEV, P_INPUT,
	  TARGET(libvirt_input) },
	{ "usb", SEC_TARGET, -1, VM_TYPES, P_USB, LIST(target_conf, usb, n_usb) },
	{ "pci", SEC_TARGET, -1, VM_TYPES, P_PCI, LIST(target_conf, pci, n_pci) },
	{ "return-after", SEC_TARGET, K_RETURN_AFTER, VM_TYPES, P_DURATION, TARGET(return_after_ms) },
	{ "follow", SEC_TARGET, K_FOLLOW, VM_TYPES, P_FOLLOW, TARGET(follow) },
	{ "qmp", SEC_TARGET, K_QMP, 1u << TARGET_EVDEV, P_STRING, TARGET(qmp) },
	{ "libvirt-hotplug", SEC_TARGET, K_LIBVIRT_HOTPLUG, 1u << TARGET_EVDEV, P_BOOL, TARGET(libvirt_hotplug) },
	{ "enable", SEC_LISTENER, K_ENABLE, 0, P_BOOL, LISTENER(enabled) },
	{ "address", SEC_LISTENER, K_ADDRESS, 0, P_STRING, LISTENER(address) },
	{ "secret-file", SEC_LISTENER, K_SECRET_FILE, 0, P_STRING, LISTENER(secret_file) },
	{ "rate-limit", SEC_LISTENER, K_RATE_LIMIT, 0, P_UINT, LISTENER(rate_per_minute) },
};

/* [general] keys of game time (issue 15). Key names are resolved with the
 * chords, once the whole file is read. */
static int handle_gametime(struct parser *p, int once, const char *key, char *val)
{
	struct config *cfg = p->cfg;
	switch (once) {
	case K_HOST_KEYS:
	case K_SHARED_KEYS: {
		struct keylist *l = once == K_HOST_KEYS ? &cfg->host_keys : &cfg->shared_keys;
		if (strchr(val, '+'))
			return fail(p, p->line, "'%s' is a list of key names separated by blanks, not a chord ('+')",
				    key);
		l->text.line = p->line;
		return set_string(p, &l->text.text, val);
	}
	case K_LOCK:
		cfg->lock_text.line = p->line;
		return set_string(p, &cfg->lock_text.text, val);
	case K_START_LOCKED:
		if (parse_bool(val, &cfg->start_locked) < 0)
			return fail(p, p->line, "'start-locked' must be yes or no, not '%s'", val);
		return 0;
	case K_HOTKEY_ACTION:
		if (!strcmp(val, "cycle"))
			cfg->hotkey_action = HOTKEY_CYCLE;
		else if (!strcmp(val, "toggle"))
			cfg->hotkey_action = HOTKEY_TOGGLE;
		else
			return fail(p, p->line, "unknown hotkey-action '%s' (cycle or toggle)", val);
		return 0;
	}
	return fail(p, p->line, "internal error: unhandled key '%s'", key);
}

/* A target's defaults, the same for one of the file's and a built-in one. */
static void target_init(struct target_conf *t, const char *name, enum target_type type)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = type;
	t->follow = FOLLOW_STOP; /* back to the host when the domain stops */
}

static const char *section_label(const struct parser *p, char *buf, size_t len)
{
	switch (p->sec) {
	case SEC_GENERAL:
		return "[general]";
	case SEC_INPUT:
		return "[input]";
	case SEC_LISTENER:
		return "[listener]";
	case SEC_TARGET:
		snprintf(buf, len, "[target %s]", p->target->name);
		return buf;
	case SEC_NONE:
		break;
	}
	return "(no section)";
}

static int handle_section(struct parser *p, char *s)
{
	size_t n = strlen(s);
	if (s[n - 1] != ']')
		return fail(p, p->line, "section header without closing ']'");
	s[n - 1] = '\0';
	char *name = trim(s + 1);
	memset(p->seen, 0, sizeof(p->seen));
	p->target = NULL;
	if (strcmp(name, "general") == 0 || strcmp(name, "input") == 0 || strcmp(name, "listener") == 0) {
		int *first = name[0] == 'g' ? &p->general_line : name[0] == 'i' ? &p->input_line : &p->listener_line;
		if (*first)
			return fail(p, p->line, "section [%s] appears twice (first at line %d)", name, *first);
		*first = p->line;
		p->sec = name[0] == 'g' ? SEC_GENERAL : name[0] == 'i' ? SEC_INPUT : SEC_LISTENER;
		if (p->sec == SEC_LISTENER)
			p->cfg->listener.line = p->line;
		return 0;
	}
	if (strncmp(name, "target", 6) == 0 && (name[6] == ' ' || name[6] == '\t')) {
		char *tname = unquote(trim(name + 6));
		if (!valid_name(tname))
			return fail(p, p->line,
				    "bad target name '%s' (1-%d letters, digits, '-', '_' or '.')", tname,
				    TARGET_NAME_MAX - 1);
		int dup = config_target_index(p->cfg, tname);
		if (dup >= 0)
			return fail(p, p->line, "target '%s' is defined twice (first at line %d)", tname,
				    p->cfg->target[dup].line);
		if (p->cfg->n_target >= CONFIG_MAX_TARGETS)
			return fail(p, p->line, "too many targets (at most %d)", CONFIG_MAX_TARGETS);
		struct target_conf *t = &p->cfg->target[p->cfg->n_target++];
		target_init(t, tname, strcmp(tname, "host") == 0 ? TARGET_HOST : TARGET_EVDEV);
		t->line = p->line;
		p->target = t;
		p->sec = SEC_TARGET;
		return 0;
	}
	if (strcmp(name, "target") == 0)
		return fail(p, p->line, "section [target] needs a name: [target NAME]");
	return fail(p, p->line, "unknown section [%s] (expected [general], [input], [target NAME] or [listener])",
		    name);
}

static int guest_input_key(struct parser *p, struct target_conf *t, int key, char *val);

static int handle_key(struct parser *p, const char *key, char *val)
{
	char label[64];
	int idx = -1;
	bool known_elsewhere = false;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, key) != 0)
			continue;
		if (keys[i].sec == p->sec)
			idx = (int)i;
		else
			known_elsewhere = true;
	}
	if (p->sec == SEC_NONE)
		return fail(p, p->line, "'%s' outside of any section (start with [general])", key);
	if (idx < 0)
		return fail(p, p->line, "unknown key '%s' in %s%s", key, section_label(p, label, sizeof(label)),
			    known_elsewhere ? " (it belongs to another section)" : "");
	int once = keys[idx].key;
	if (once >= 0) {
		if (p->seen[once])
			return fail(p, p->line, "'%s' is set twice in %s (first at line %d)", key,
				    section_label(p, label, sizeof(label)), p->seen[once]);
		p->seen[once] = p->line;
	}
	if (*val == '\0' && once != K_ON_ENTER && once != K_ON_LEAVE)
		return fail(p, p->line, "'%s' needs a value", key);

	struct config *cfg = p->cfg;
	struct target_conf *t = p->target;
	switch (p->sec) {
	case SEC_GENERAL:
		if (once >= K_XKB_LAYOUT && once <= K_XKB_OPTIONS && !cfg->xkb_line)
			cfg->xkb_line = p->line;
		switch (once) {
		case K_HOTKEY:
			cfg->hotkey_text.line = p->line;
			return set_string(p, &cfg->hotkey_text.text, val);
		case K_EMERGENCY:
			cfg->emergency_text.line = p->line;
			return set_string(p, &cfg->emergency_text.text, val);
		case K_START:
			val = unquote(val);
			if (strlen(val) >= sizeof(cfg->start))
				return fail(p, p->line, "start target name too long");
			snprintf(cfg->start, sizeof(cfg->start), "%s", val);
			p->start_line = p->line;
			return 0;
		case K_REALTIME:
			if (!strcmp(val, "auto"))
				cfg->realtime = REALTIME_AUTO;
			else if (!strcmp(val, "yes"))
				cfg->realtime = REALTIME_YES;
			else if (!strcmp(val, "no"))
				cfg->realtime = REALTIME_NO;
			else
				return fail(p, p->line, "'realtime' must be auto, yes or no, not '%s'", val);
			return 0;
		case K_XKB_LAYOUT:
			return set_string(p, &cfg->xkb_layout, unquote(val));
		case K_XKB_VARIANT:
			return set_string(p, &cfg->xkb_variant, unquote(val));
		case K_XKB_MODEL:
			return set_string(p, &cfg->xkb_model, unquote(val));
		case K_XKB_OPTIONS:
			return set_string(p, &cfg->xkb_options, unquote(val));
		case K_HOST_KEYS:
		case K_SHARED_KEYS:
		case K_LOCK:
		case K_START_LOCKED:
		case K_HOTKEY_ACTION:
			return handle_gametime(p, once, key, val);
		}
		break;
	case SEC_INPUT:
		if (strcmp(key, "match") == 0)
			return add_rule(p, &cfg->match, &cfg->n_match, val);
		if (strcmp(key, "host-only") == 0)
			return add_rule(p, &cfg->host_only, &cfg->n_host_only, val);
		return add_rule(p, &cfg->exclude, &cfg->n_exclude, val);
	case SEC_LISTENER:
		switch (once) {
		case K_ENABLE:
			if (parse_bool(val, &cfg->listener.enabled) < 0)
				return fail(p, p->line, "'enable' must be yes or no, not '%s'", val);
			return 0;
		case K_ADDRESS: {
			val = unquote(val);
			const char *port = strrchr(val, ':');
			bool tcp = strncmp(val, "tcp:", 4) == 0, vsock = strncmp(val, "vsock:", 6) == 0;
			char *end;
			long pn = port ? strtol(port + 1, &end, 10) : -1;
			if ((!tcp && !vsock) || !port || port == val + (tcp ? 3 : 5) || *end || pn <= 0 ||
			    pn > (tcp ? 65535 : 0x7fffffff))
				return fail(p, p->line,
					    "bad listener address '%s' (expected tcp:ADDRESS:PORT or vsock:CID:PORT)",
					    val);
			cfg->listener.address_line = p->line;
			return set_string(p, &cfg->listener.address, val);
		}
		case K_SECRET_FILE:
			cfg->listener.secret_file_line = p->line;
			return set_string(p, &cfg->listener.secret_file, unquote(val));
		case K_RATE_LIMIT: {
			char *end;
			long n = strtol(val, &end, 10);
			if (*end || n <= 0 || n > 100000)
				return fail(p, p->line, "'rate-limit' must be a number of attempts per minute, not '%s'",
					    val);
			cfg->listener.rate_per_minute = (uint32_t)n;
			return 0;
		}
		}
		break;
	case SEC_TARGET:
		if (strcmp(key, "usb") == 0)
			return parse_usb_list(p, t, val);
		if (strcmp(key, "pci") == 0)
			return parse_pci_list(p, t, val);
		switch (once) {
		case K_TYPE:
			if (!strcmp(val, "host"))
				t->type = TARGET_HOST;
			else if (!strcmp(val, "evdev"))
				t->type = TARGET_EVDEV;
			else if (!strcmp(val, "usb"))
				t->type = TARGET_USB;
			else
				return fail(p, p->line, "unknown target type '%s' (host, evdev or usb)", val);
			return 0;
		case K_MODE:
			if (!strcmp(val, "native"))
				t->mode = HOST_NATIVE;
			else if (!strcmp(val, "virtual"))
				t->mode = HOST_VIRTUAL;
			else
				return fail(p, p->line, "unknown host mode '%s' (native or virtual)", val);
			return 0;
		case K_HOTKEY:
			t->hotkey_text.line = p->line;
			return set_string(p, &t->hotkey_text.text, val);
		case K_ON_ENTER:
			t->on_enter_line = p->line;
			return *val ? set_string(p, &t->on_enter, val) : 0;
		case K_ON_LEAVE:
			t->on_leave_line = p->line;
			return *val ? set_string(p, &t->on_leave, val) : 0;
		case K_DOMAIN:
			return set_string(p, &t->domain, unquote(val));
		case K_URI:
			return set_string(p, &t->uri, unquote(val));
		case K_LIBVIRT_INPUT:
			if (!strcmp(val, "evdev"))
				t->libvirt_input = LIBVIRT_INPUT_EVDEV;
			else if (!strcmp(val, "passthrough"))
				t->libvirt_input = LIBVIRT_INPUT_PASSTHROUGH;
			else
				return fail(p, p->line, "unknown libvirt-input '%s' (evdev or passthrough)", val);
			return 0;
		case K_RETURN_AFTER:
			if (parse_duration_ms(val, &t->return_after_ms) < 0)
				return fail(p, p->line,
					    "'return-after' must be seconds, minutes or hours (e.g. 30, 1.5, 2m or 1h, at most a day), not '%s'",
					    val);
			return 0;
		case K_FOLLOW:
		case K_QMP:
		case K_LIBVIRT_HOTPLUG:
			return guest_input_key(p, t, once, val);
		}
		break;
	case SEC_NONE:
		break;
	}
	return fail(p, p->line, "internal error: unhandled key '%s'", key);
}

/* ---- what follows the focus into a guest (issue 15): follow, qmp,
 * libvirt-hotplug, and usb/pci devices of evdev targets */

static const char *const follow_names[] = { [FOLLOW_NO] = "no", [FOLLOW_START] = "start", [FOLLOW_STOP] = "stop",
					    [FOLLOW_BOTH] = "both" };

static const char *follow_name(enum follow f)
{
	return f < sizeof(follow_names) / sizeof(follow_names[0]) ? follow_names[f] : "?";
}

static int guest_input_key(struct parser *p, struct target_conf *t, int key, char *val)
{
	if (key == K_FOLLOW) {
		for (size_t i = 0; i < sizeof(follow_names) / sizeof(follow_names[0]); i++)
			if (!strcmp(val, follow_names[i])) {
				t->follow = (enum follow)i;
				return 0;
			}
		return fail(p, p->line, "unknown follow '%s' (start, stop, both or no)", val);
	}
	if (key == K_LIBVIRT_HOTPLUG) {
		if (parse_bool(val, &t->libvirt_hotplug) < 0)
			return fail(p, p->line, "'libvirt-hotplug' must be yes or no, not '%s'", val);
		return 0;
	}
	val = unquote(val);
	if (val[0] != '/' || strlen(val) >= CONFIG_QMP_PATH_MAX)
		return fail(p, p->line, "'qmp' must be the absolute path of QEMU's QMP socket (at most %d bytes), not '%s'",
			    CONFIG_QMP_PATH_MAX - 1, val);
	return set_string(p, &t->qmp, val);
}

static int check_game_time(struct parser *p, const struct target_conf *t, const int *lines)
{
	if (t->type == TARGET_HOST && (t->n_usb || t->n_pci))
		return fail(p, t->line, "the host target '%s' cannot list usb/pci devices (they are the host's already)",
			    t->name);
	if (t->type == TARGET_EVDEV && (t->n_usb || t->n_pci) && !t->domain)
		return fail(p, t->line, "target '%s' lists usb/pci devices but has no 'domain = NAME' to attach them to",
			    t->name);
	if (lines[K_FOLLOW] && !t->domain)
		return fail(p, lines[K_FOLLOW], "'follow' needs 'domain = NAME' in target '%s'", t->name);
	if (t->type == TARGET_USB && !(t->follow & FOLLOW_STOP))
		return fail(p, lines[K_FOLLOW],
			    "usb target '%s' always comes back to the host when its domain stops (its devices leave "
			    "with it): 'follow' must be stop or both",
			    t->name);
	if (lines[K_LIBVIRT_HOTPLUG] && t->libvirt_hotplug && !t->domain)
		return fail(p, lines[K_LIBVIRT_HOTPLUG], "'libvirt-hotplug' needs 'domain = NAME' in target '%s'",
			    t->name);
	if (t->qmp && t->libvirt_hotplug)
		return fail(p, lines[K_QMP] > lines[K_LIBVIRT_HOTPLUG] ? lines[K_QMP] : lines[K_LIBVIRT_HOTPLUG],
			    "target '%s' has both 'qmp' and 'libvirt-hotplug', which both add its devices to a QEMU: "
			    "keep one",
			    t->name);
	return 0;
}

/* Which keys a target of each type may carry; the line of the first offender. */
static int check_target(struct parser *p, const struct target_conf *t, const int *lines)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].sec == SEC_TARGET && keys[i].key >= 0 && lines[keys[i].key] &&
		    !(keys[i].types & (1u << t->type)))
			return fail(p, lines[keys[i].key], "'%s' does not apply to target '%s' of type %s",
				    keys[i].name, t->name, target_type_name(t->type));
	if (check_game_time(p, t, lines) < 0)
		return -1;
	if (t->type == TARGET_USB) {
		if (!t->domain)
			return fail(p, t->line, "usb target '%s' needs 'domain = NAME'", t->name);
		if (!t->n_usb && !t->n_pci)
			return fail(p, t->line, "usb target '%s' needs 'usb = VID:PID ...' or 'pci = ADDRESS ...'",
				    t->name);
	}
	return 0;
}

static void target_finish(struct target_conf *t)
{
	free(t->hotkey_text.text);
	free(t->on_enter);
	free(t->on_leave);
	free(t->domain);
	free(t->uri);
	free(t->usb);
	free(t->pci);
	free(t->qmp);
}

void config_destroy(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->hotkey_text.text);
	free(cfg->emergency_text.text);
	free(cfg->xkb_layout);
	free(cfg->xkb_variant);
	free(cfg->xkb_model);
	free(cfg->xkb_options);
	for (size_t i = 0; i < cfg->n_match; i++)
		match_rule_finish(&cfg->match[i]);
	free(cfg->match);
	for (size_t i = 0; i < cfg->n_exclude; i++)
		match_rule_finish(&cfg->exclude[i]);
	free(cfg->exclude);
	for (size_t i = 0; i < cfg->n_target; i++)
		target_finish(&cfg->target[i]);
	free(cfg->listener.address);
	free(cfg->listener.secret_file);
	free(cfg->host_keys.text.text);
	free(cfg->shared_keys.text.text);
	for (size_t i = 0; i < cfg->n_host_only; i++)
		match_rule_finish(&cfg->host_only[i]);
	free(cfg->host_only);
	free(cfg->lock_text.text);
	free(cfg);
}

int config_target_index(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_target; i++)
		if (strcmp(cfg->target[i].name, name) == 0)
			return (int)i;
	return -1;
}

void config_map_targets(const struct config *prev, const struct config *next, int *map)
{
	for (size_t i = 0; i < prev->n_target; i++) {
		int j = config_target_index(next, prev->target[i].name);
		const struct target_conf *a = &prev->target[i], *b = j >= 0 ? &next->target[j] : NULL;
		/* A host that changes mode gains or loses its virtual devices: keys
		 * held on them must be released first, as for a vanishing target. */
		map[i] = b && b->type == a->type && (a->type != TARGET_HOST || b->mode == a->mode) ? j : -1;
	}
}

bool config_target_forwards(const struct config *cfg, int t)
{
	const struct target_conf *tc = &cfg->target[t];
	return tc->type == TARGET_EVDEV || (tc->type == TARGET_HOST && tc->mode == HOST_VIRTUAL);
}

int config_host_index(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_target; i++)
		if (cfg->target[i].type == TARGET_HOST)
			return (int)i;
	return -1;
}

static int finish(struct parser *p, int (*target_lines)[K_COUNT])
{
	struct config *cfg = p->cfg;
	int hosts = 0;
	for (size_t i = 0; i < cfg->n_target; i++) {
		if (check_target(p, &cfg->target[i], target_lines[i]) < 0)
			return -1;
		if (cfg->target[i].type == TARGET_HOST && ++hosts > 1)
			return fail(p, cfg->target[i].line, "a second host target '%s' (there is exactly one)",
				    cfg->target[i].name);
	}
	if (cfg->n_target == 0) {
		/* No targets: the built-in pair. */
		target_init(&cfg->target[cfg->n_target++], "host", TARGET_HOST);
		target_init(&cfg->target[cfg->n_target++], "guest", TARGET_EVDEV);
	} else if (hosts == 0) {
		int clash = config_target_index(cfg, "host");
		if (clash >= 0)
			return fail(p, cfg->target[clash].line,
				    "target 'host' is not of type host, and there is no host target");
		if (cfg->n_target >= CONFIG_MAX_TARGETS)
			return fail(p, 0, "too many targets (at most %d, with the implicit host)",
				    CONFIG_MAX_TARGETS - 1);
		memmove(&cfg->target[1], &cfg->target[0], cfg->n_target * sizeof(cfg->target[0]));
		target_init(&cfg->target[0], "host", TARGET_HOST);
		cfg->n_target++;
	}
	if (cfg->start[0]) {
		if (config_target_index(cfg, cfg->start) < 0)
			return fail(p, p->start_line, "start target '%s' is not defined", cfg->start);
	} else {
		snprintf(cfg->start, sizeof(cfg->start), "%s", cfg->target[config_host_index(cfg)].name);
	}
	if (cfg->listener.line) {
		if (cfg->listener.enabled && !cfg->listener.address)
			return fail(p, cfg->listener.line, "[listener] is enabled but has no 'address'");
		if (cfg->listener.enabled && !cfg->listener.secret_file)
			return fail(p, cfg->listener.line, "[listener] is enabled but has no 'secret-file'");
	}
	if (!cfg->listener.rate_per_minute)
		cfg->listener.rate_per_minute = 10;
	if (!cfg->hotkey_text.text && !(cfg->hotkey_text.text = strdup(CONFIG_DEFAULT_HOTKEY)))
		return fail(p, 0, "out of memory");
	if (!cfg->emergency_text.text && !(cfg->emergency_text.text = strdup(CONFIG_DEFAULT_EMERGENCY)))
		return fail(p, 0, "out of memory");
	for (size_t i = 0; i < cfg->n_target; i++) {
		struct target_conf *t = &cfg->target[i];
		if (t->type != TARGET_HOST && !t->uri && (t->domain || t->type == TARGET_USB) &&
		    !(t->uri = strdup(CONFIG_DEFAULT_URI)))
			return fail(p, 0, "out of memory");
	}
	return 0;
}

/* A '#' or ';' after a blank: what an end-of-line comment looks like in
 * other INI dialects. kvmswitch.conf has none (a hook's shell command may
 * hold a '#'), so a line like that which fails to parse is told why. */
static bool looks_commented(const char *s)
{
	for (const char *c = s + 1; *c; c++)
		if ((*c == '#' || *c == ';') && (c[-1] == ' ' || c[-1] == '\t'))
			return true;
	return false;
}

static void hint_eol_comment(struct parser *p)
{
	size_t n = strlen(p->err);
	snprintf(p->err + n, p->errlen - n, " (comments go on a line of their own: a '#' after a value is part of it)");
}

struct config *config_parse(const char *text, size_t len, const char *path, char *err, size_t errlen)
{
	struct parser p = { .path = path, .err = err, .errlen = errlen };
	int(*target_lines)[K_COUNT] = calloc(CONFIG_MAX_TARGETS, sizeof(*target_lines));
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg || !target_lines || !(p.cfg->path = strdup(path))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	size_t off = 0;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char buf[LINE_MAX_LEN + 1];
		p.line++;
		if (memchr(text + off, '\0', n)) {
			fail(&p, p.line, "line contains a NUL byte");
			goto fail;
		}
		if (n > LINE_MAX_LEN) {
			fail(&p, p.line, "line longer than %d bytes", LINE_MAX_LEN);
			goto fail;
		}
		memcpy(buf, text + off, n);
		buf[n] = '\0';
		off += n + (nl ? 1 : 0);
		char *s = trim(buf);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		int rc;
		bool comment_like = looks_commented(s);
		if (*s == '[') {
			/* Save the once-key lines of the target we are leaving. */
			if (p.sec == SEC_TARGET)
				memcpy(target_lines[p.target - p.cfg->target], p.seen, sizeof(p.seen));
			rc = handle_section(&p, s);
		} else {
			char *eq = strchr(s, '=');
			if (!eq) {
				fail(&p, p.line, "expected 'key = value' or '[section]'");
				goto fail;
			}
			*eq = '\0';
			char *key = trim(s);
			char *val = trim(eq + 1);
			if (*key == '\0') {
				fail(&p, p.line, "missing key before '='");
				goto fail;
			}
			rc = handle_key(&p, key, val);
		}
		if (rc < 0) {
			if (comment_like)
				hint_eol_comment(&p);
			goto fail;
		}
	}
	if (p.sec == SEC_TARGET)
		memcpy(target_lines[p.target - p.cfg->target], p.seen, sizeof(p.seen));
	if (finish(&p, target_lines) < 0)
		goto fail;
	free(target_lines);
	return p.cfg;
fail:
	free(target_lines);
	config_destroy(p.cfg);
	return NULL;
}

struct config *config_default(void)
{
	char err[CONFIG_ERR_MAX];
	return config_parse("", 0, "(built-in defaults)", err, sizeof(err));
}

/* Every code of a is in b. */
static bool chord_within(const struct chord *a, const struct chord *b)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < a->key[i].n_alt; j++)
			if (!hotkey_contains(b, a->key[i].alt[j]))
				return false;
	return true;
}

/* Both ways: leftctrl+rightctrl is within Either_Ctrl+BTN_SIDE, but they
 * are different chords. */
static bool chords_equal(const struct chord *a, const struct chord *b)
{
	return a->n && a->n == b->n && chord_within(a, b) && chord_within(b, a);
}

struct chord_text {
	struct hotkey_text *text;
	struct chord *chord;
	const char *what;
};

/* host-keys or shared-keys: blank- (or comma-) separated names, each any
 * name a chord takes. A key no chord may use (it would both switch and stay
 * on the host), and in one list only. */
static int resolve_keylist(struct parser *p, struct keylist *l, const char *what, const struct keylist *other,
			   const char *other_what, const struct chord_text *all, size_t n_all,
			   const struct keyname_resolver *res)
{
	memset(&l->keys, 0, sizeof(l->keys));
	if (!l->text.text)
		return 0;
	char *copy = strdup(l->text.text);
	if (!copy)
		return fail(p, l->text.line, "out of memory");
	int rc = 0;
	for (char *save = NULL, *tok = strtok_r(copy, " \t,", &save); tok && rc == 0;
	     tok = strtok_r(NULL, " \t,", &save)) {
		uint16_t codes[CHORD_MAX_ALTS];
		int n = strlen(tok) < 64 ? res->resolve(res->data, tok, codes, CHORD_MAX_ALTS) : 0;
		if (n <= 0) {
			rc = fail(p, l->text.line,
				  "unknown key '%s' in %s (use evdev names like volumeup or KEY_MUTE, or XKB keysyms; "
				  "`kvmswitch keys` lists them)",
				  tok, what);
			break;
		}
		for (int i = 0; i < n && rc == 0; i++) {
			unsigned c = codes[i];
			if (!key_is_keyboard(c) && !key_is_mouse_button(c))
				rc = fail(p, l->text.line, "'%s' in %s is no keyboard key or mouse button", tok, what);
			else if (other && keyset_has(&other->keys, c))
				rc = fail(p, l->text.line, "'%s' is in %s and in %s (line %d): it can be in one only",
					  tok, what, other_what, other->text.line);
			for (size_t k = 0; k < n_all && rc == 0; k++)
				if (hotkey_contains(all[k].chord, c))
					rc = fail(p, l->text.line,
						  "'%s' in %s is also a key of the %s%s%s: a key either switches or "
						  "stays with the host, not both",
						  tok, what, k >= 3 ? "hotkey of target " : "", all[k].what,
						  all[k].text->line ? "" : " (its default)");
			keyset_set(&l->keys, c, true);
		}
	}
	free(copy);
	return rc;
}

int config_resolve_keys(struct config *cfg, const struct keyname_resolver *res, char *err, size_t errlen)
{
	struct parser p = { .cfg = cfg, .path = cfg->path, .err = err, .errlen = errlen };
	char msg[256];
	struct chord_text all[CONFIG_MAX_TARGETS + 3];
	size_t n = 0;
	all[n++] = (typeof(all[0])){ &cfg->hotkey_text, &cfg->hotkey, "hotkey" };
	all[n++] = (typeof(all[0])){ &cfg->emergency_text, &cfg->emergency, "emergency chord" };
	memset(&cfg->lock, 0, sizeof(cfg->lock));
	all[n++] = (typeof(all[0])){ &cfg->lock_text, &cfg->lock, "lock chord" };
	for (size_t i = 0; i < cfg->n_target; i++) {
		memset(&cfg->target[i].hotkey, 0, sizeof(cfg->target[i].hotkey));
		if (cfg->target[i].hotkey_text.text)
			all[n++] = (typeof(all[0])){ &cfg->target[i].hotkey_text, &cfg->target[i].hotkey,
						     cfg->target[i].name };
	}
	for (size_t i = 0; i < n; i++) {
		if (all[i].text->text && hotkey_parse(all[i].chord, all[i].text->text, res, msg, sizeof(msg)) < 0) {
			fail(&p, all[i].text->line, "%s", msg);
			if (looks_commented(all[i].text->text))
				hint_eol_comment(&p);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (chords_equal(all[i].chord, all[j].chord))
				return fail(&p, all[j].text->line ? all[j].text->line : all[i].text->line,
					    "the %s%s uses the same keys as the %s%s", j >= 3 ? "hotkey of target " : "",
					    all[j].what, i >= 3 ? "hotkey of target " : "", all[i].what);
	if (resolve_keylist(&p, &cfg->host_keys, "host-keys", NULL, NULL, all, n, res) < 0 ||
	    resolve_keylist(&p, &cfg->shared_keys, "shared-keys", &cfg->host_keys, "host-keys", all, n, res) < 0)
		return -1;
	return 0;
}

/* ---- printing: the effective configuration in the file's own syntax ---- */

/* "key = value", or "key=value" where the blanks would make the line longer
 * than the parser takes (a value that filled its line). */
static void print_line(struct buf *out, const char *key, const char *value)
{
	bool spaced = strlen(key) + strlen(value) + 3 <= LINE_MAX_LEN;
	buf_printf(out, spaced ? "%s = %s\n" : "%s=%s\n", key, value);
}

/* A plain string comes back as it is unless trimming or unquote() would
 * change it: then in quotes (as it must have been written). */
static void print_string(struct buf *out, const char *key, const char *v)
{
	size_t n = strlen(v);
	bool quote = n == 0 || v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t' ||
		     v[n - 1] == '\r' || (n >= 2 && v[0] == '"' && v[n - 1] == '"');
	if (!quote) {
		print_line(out, key, v);
		return;
	}
	struct buf q;
	buf_init(&q);
	buf_printf(&q, "\"%s\"", v);
	if (!q.failed)
		print_line(out, key, q.data);
	out->failed |= q.failed;
	buf_finish(&q);
}

/* Whole seconds, or minutes, or seconds with up to three decimals: what
 * parse_duration_ms() reads back to the same milliseconds. */
static void print_duration(struct buf *out, const char *key, uint32_t ms)
{
	char v[32];
	if (ms && ms % 60000 == 0)
		snprintf(v, sizeof(v), "%um", (unsigned)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(v, sizeof(v), "%u", (unsigned)(ms / 1000));
	else {
		int n = snprintf(v, sizeof(v), "%u.%03u", (unsigned)(ms / 1000), (unsigned)(ms % 1000));
		while (v[n - 1] == '0')
			v[--n] = '\0';
	}
	print_line(out, key, v);
}

static void print_rules(struct buf *out, const char *key, const struct match_rule *rules, size_t n)
{
	if (!n)
		buf_printf(out, "# %s: none%s\n", key, strcmp(key, "match") ? "" : " (the built-in choice: auto)");
	for (size_t i = 0; i < n; i++) {
		struct buf v;
		buf_init(&v);
		match_rule_format(&rules[i], false, &v);
		if (strlen(key) + v.len + 3 > LINE_MAX_LEN) {
			/* Only a rule that filled its line: written as tightly. */
			v.len = 0;
			match_rule_format(&rules[i], true, &v);
		}
		if (!v.failed)
			print_line(out, key, v.data);
		out->failed |= v.failed;
		buf_finish(&v);
	}
}

/* One key's lines. `base` is the struct its `off` is in. */
static void print_key(struct buf *out, size_t k, const char *base)
{
	const char *key = keys[k].name;
	const void *field = base + keys[k].off;
	size_t n = keys[k].n_off ? *(const size_t *)(base + keys[k].n_off) : 0;
	char v[64];
	switch (keys[k].print) {
	case P_TEXT:
	case P_STRING: {
		const char *s = *(char *const *)field;
		if (!s)
			buf_printf(out, "# %s: not set\n", key);
		else if (keys[k].print == P_TEXT)
			print_line(out, key, s);
		else
			print_string(out, key, s);
		return;
	}
	case P_NAME:
		print_line(out, key, (const char *)field);
		return;
	case P_BOOL:
		print_line(out, key, *(const bool *)field ? "yes" : "no");
		return;
	case P_UINT:
		snprintf(v, sizeof(v), "%u", (unsigned)*(const uint32_t *)field);
		print_line(out, key, v);
		return;
	case P_DURATION:
		print_duration(out, key, *(const uint32_t *)field);
		return;
	case P_RULES:
		print_rules(out, key, *(struct match_rule *const *)field, n);
		return;
	case P_TYPE:
		print_line(out, key, target_type_name(*(const enum target_type *)field));
		return;
	case P_MODE:
		print_line(out, key, *(const enum host_mode *)field == HOST_VIRTUAL ? "virtual" : "native");
		return;
	case P_INPUT:
		print_line(out, key, *(const enum libvirt_input *)field == LIBVIRT_INPUT_PASSTHROUGH ? "passthrough" : "evdev");
		return;
	case P_USB: {
		const struct usb_match *u = *(struct usb_match *const *)field;
		if (!n)
			buf_printf(out, "# %s: none\n", key);
		for (size_t i = 0; i < n; i++)
			buf_printf(out, "%s = %04x:%04x%s%s\n", key, u[i].vendor, u[i].product, u[i].serial[0] ? ":" : "",
				   u[i].serial);
		return;
	}
	case P_FOLLOW:
		/* It takes a domain: without one, what it would be is a comment. */
		if (((const struct target_conf *)(const void *)base)->domain)
			print_line(out, key, follow_name(*(const enum follow *)field));
		else
			buf_printf(out, "# %s: %s (it needs 'domain = NAME')\n", key,
				   follow_name(*(const enum follow *)field));
		return;
	case P_ACTION:
		print_line(out, key, hotkey_action_name(*(const enum hotkey_action *)field));
		return;
	case P_REALTIME:
		print_line(out, key, realtime_mode_name(*(const enum realtime_mode *)field));
		return;
	case P_PCI: {
		const struct pci_addr *a = *(struct pci_addr *const *)field;
		if (!n)
			buf_printf(out, "# %s: none\n", key);
		for (size_t i = 0; i < n; i++)
			buf_printf(out, "%s = %04x:%02x:%02x.%x\n", key, a[i].domain, a[i].bus, a[i].slot, a[i].func);
		return;
	}
	}
}

static void print_section(struct buf *out, enum section sec, const char *base, unsigned type)
{
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (keys[k].sec == sec && (sec != SEC_TARGET || (keys[k].types & (1u << type))))
			print_key(out, k, base);
}

int config_print(const struct config *cfg, struct buf *out)
{
	buf_printf(out, "[general]\n");
	print_section(out, SEC_GENERAL, (const char *)cfg, 0);
	buf_printf(out, "\n[input]\n");
	print_section(out, SEC_INPUT, (const char *)cfg, 0);
	for (size_t t = 0; t < cfg->n_target; t++) {
		buf_printf(out, "\n[target %s]\n", cfg->target[t].name);
		print_section(out, SEC_TARGET, (const char *)&cfg->target[t], cfg->target[t].type);
	}
	buf_printf(out, "\n[listener]\n");
	print_section(out, SEC_LISTENER, (const char *)&cfg->listener, 0);
	return out->failed ? -1 : 0;
}
