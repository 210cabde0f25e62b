#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
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

/* "30", "30s", "1.5", "2m": milliseconds, at most a day. */
static int parse_duration_ms(const char *v, uint32_t *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || errno || d < 0)
		return -1;
	if (*end == 's' && end[1] == '\0')
		;
	else if (*end == 'm' && end[1] == '\0')
		d *= 60;
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

static const struct {
	const char *name;
	enum section sec;
	int key; /* enum once_key, or -1 for repeatable keys */
} keys[] = {
	{ "hotkey", SEC_GENERAL, K_HOTKEY },
	{ "emergency", SEC_GENERAL, K_EMERGENCY },
	{ "start", SEC_GENERAL, K_START },
	{ "realtime", SEC_GENERAL, K_REALTIME },
	{ "xkb-layout", SEC_GENERAL, K_XKB_LAYOUT },
	{ "xkb-variant", SEC_GENERAL, K_XKB_VARIANT },
	{ "xkb-model", SEC_GENERAL, K_XKB_MODEL },
	{ "xkb-options", SEC_GENERAL, K_XKB_OPTIONS },
	{ "match", SEC_INPUT, -1 },
	{ "exclude", SEC_INPUT, -1 },
	{ "type", SEC_TARGET, K_TYPE },
	{ "mode", SEC_TARGET, K_MODE },
	{ "hotkey", SEC_TARGET, K_HOTKEY },
	{ "on-enter", SEC_TARGET, K_ON_ENTER },
	{ "on-leave", SEC_TARGET, K_ON_LEAVE },
	{ "domain", SEC_TARGET, K_DOMAIN },
	{ "uri", SEC_TARGET, K_URI },
	{ "libvirt-input", SEC_TARGET, K_LIBVIRT_INPUT },
	{ "usb", SEC_TARGET, -1 },
	{ "pci", SEC_TARGET, -1 },
	{ "return-after", SEC_TARGET, K_RETURN_AFTER },
	{ "enable", SEC_LISTENER, K_ENABLE },
	{ "address", SEC_LISTENER, K_ADDRESS },
	{ "secret-file", SEC_LISTENER, K_SECRET_FILE },
	{ "rate-limit", SEC_LISTENER, K_RATE_LIMIT },
};

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
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", tname);
		t->type = strcmp(tname, "host") == 0 ? TARGET_HOST : TARGET_EVDEV;
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
		}
		break;
	case SEC_INPUT:
		if (strcmp(key, "match") == 0)
			return add_rule(p, &cfg->match, &cfg->n_match, val);
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
			return set_string(p, &cfg->listener.address, val);
		}
		case K_SECRET_FILE:
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
			return *val ? set_string(p, &t->on_enter, val) : 0;
		case K_ON_LEAVE:
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
					    "'return-after' must be seconds (e.g. 30, 1.5 or 2m, at most a day), not '%s'",
					    val);
			return 0;
		}
		break;
	case SEC_NONE:
		break;
	}
	return fail(p, p->line, "internal error: unhandled key '%s'", key);
}

/* Which keys a target of each type may carry; the line of the first offender. */
static int check_target(struct parser *p, const struct target_conf *t, const int *lines)
{
	static const struct {
		int key;
		const char *name;
		unsigned types; /* bit per enum target_type */
	} allowed[] = {
		{ K_MODE, "mode", 1u << TARGET_HOST },
		{ K_DOMAIN, "domain", 1u << TARGET_EVDEV | 1u << TARGET_USB },
		{ K_URI, "uri", 1u << TARGET_EVDEV | 1u << TARGET_USB },
		{ K_LIBVIRT_INPUT, "libvirt-input", 1u << TARGET_EVDEV },
		{ K_RETURN_AFTER, "return-after", 1u << TARGET_EVDEV | 1u << TARGET_USB },
	};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (lines[allowed[i].key] && !(allowed[i].types & (1u << t->type)))
			return fail(p, lines[allowed[i].key], "'%s' does not apply to target '%s' of type %s",
				    allowed[i].name, t->name, target_type_name(t->type));
	if (t->type != TARGET_USB && (t->n_usb || t->n_pci))
		return fail(p, t->line, "target '%s' lists usb/pci devices but is not of type usb", t->name);
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
		struct target_conf *h = &cfg->target[cfg->n_target++];
		memset(h, 0, sizeof(*h));
		snprintf(h->name, sizeof(h->name), "host");
		struct target_conf *g = &cfg->target[cfg->n_target++];
		memset(g, 0, sizeof(*g));
		snprintf(g->name, sizeof(g->name), "guest");
		g->type = TARGET_EVDEV;
	} else if (hosts == 0) {
		int clash = config_target_index(cfg, "host");
		if (clash >= 0)
			return fail(p, cfg->target[clash].line,
				    "target 'host' is not of type host, and there is no host target");
		if (cfg->n_target >= CONFIG_MAX_TARGETS)
			return fail(p, 0, "too many targets (at most %d, with the implicit host)",
				    CONFIG_MAX_TARGETS - 1);
		memmove(&cfg->target[1], &cfg->target[0], cfg->n_target * sizeof(cfg->target[0]));
		struct target_conf *h = &cfg->target[0];
		memset(h, 0, sizeof(*h));
		snprintf(h->name, sizeof(h->name), "host");
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
		if (rc < 0)
			goto fail;
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

int config_resolve_keys(struct config *cfg, const struct keyname_resolver *res, char *err, size_t errlen)
{
	struct parser p = { .cfg = cfg, .path = cfg->path, .err = err, .errlen = errlen };
	char msg[256];
	struct {
		struct hotkey_text *text;
		struct chord *chord;
		const char *what;
	} all[CONFIG_MAX_TARGETS + 2];
	size_t n = 0;
	all[n++] = (typeof(all[0])){ &cfg->hotkey_text, &cfg->hotkey, "hotkey" };
	all[n++] = (typeof(all[0])){ &cfg->emergency_text, &cfg->emergency, "emergency chord" };
	for (size_t i = 0; i < cfg->n_target; i++) {
		memset(&cfg->target[i].hotkey, 0, sizeof(cfg->target[i].hotkey));
		if (cfg->target[i].hotkey_text.text)
			all[n++] = (typeof(all[0])){ &cfg->target[i].hotkey_text, &cfg->target[i].hotkey,
						     cfg->target[i].name };
	}
	for (size_t i = 0; i < n; i++) {
		if (hotkey_parse(all[i].chord, all[i].text->text, res, msg, sizeof(msg)) < 0)
			return fail(&p, all[i].text->line, "%s", msg);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (chords_equal(all[i].chord, all[j].chord))
				return fail(&p, all[j].text->line ? all[j].text->line : all[i].text->line,
					    "the %s%s uses the same keys as the %s%s", j >= 2 ? "hotkey of target " : "",
					    all[j].what, i >= 2 ? "hotkey of target " : "", all[i].what);
	return 0;
}
