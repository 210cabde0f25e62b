#include "keynames.h"

#include <ctype.h>
#include <libevdev/libevdev.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xkbcommon/xkbcommon.h>

#include "log.h"

struct keynames {
	struct xkb_rule_names names;
	char *layout, *variant, *model, *options;
	struct xkb_context *ctx;
	struct xkb_keymap *keymap;
	bool keymap_failed;
	char xkb_error[256]; /* libxkbcommon's first error message, for one clear line */
};

/* QEMU qcode names (qapi/ui.json QKeyCode) that differ from evdev's. */
static const struct {
	const char *name;
	uint16_t code;
} qcodes[] = {
	{ "shift", KEY_LEFTSHIFT },
	{ "shift_r", KEY_RIGHTSHIFT },
	{ "alt", KEY_LEFTALT },
	{ "alt_r", KEY_RIGHTALT },
	{ "ctrl", KEY_LEFTCTRL },
	{ "ctrl_r", KEY_RIGHTCTRL },
	{ "meta_l", KEY_LEFTMETA },
	{ "meta_r", KEY_RIGHTMETA },
	{ "ret", KEY_ENTER },
	{ "spc", KEY_SPACE },
	{ "caps_lock", KEY_CAPSLOCK },
	{ "num_lock", KEY_NUMLOCK },
	{ "scroll_lock", KEY_SCROLLLOCK },
	{ "grave_accent", KEY_GRAVE },
	{ "bracket_left", KEY_LEFTBRACE },
	{ "bracket_right", KEY_RIGHTBRACE },
	{ "less", KEY_102ND },
	{ "pgup", KEY_PAGEUP },
	{ "pgdn", KEY_PAGEDOWN },
	{ "kp_divide", KEY_KPSLASH },
	{ "kp_multiply", KEY_KPASTERISK },
	{ "kp_subtract", KEY_KPMINUS },
	{ "kp_add", KEY_KPPLUS },
	{ "kp_enter", KEY_KPENTER },
	{ "kp_decimal", KEY_KPDOT },
	{ "kp_equals", KEY_KPEQUAL },
	{ "kp_comma", KEY_KPCOMMA },
	{ "kp_0", KEY_KP0 },
	{ "kp_1", KEY_KP1 },
	{ "kp_2", KEY_KP2 },
	{ "kp_3", KEY_KP3 },
	{ "kp_4", KEY_KP4 },
	{ "kp_5", KEY_KP5 },
	{ "kp_6", KEY_KP6 },
	{ "kp_7", KEY_KP7 },
	{ "kp_8", KEY_KP8 },
	{ "kp_9", KEY_KP9 },
	{ "asterisk", KEY_KPASTERISK },
	{ "lf", KEY_LINEFEED },
	{ "audiomute", KEY_MUTE },
	{ "audionext", KEY_NEXTSONG },
	{ "audioprev", KEY_PREVIOUSSONG },
	{ "audiostop", KEY_STOPCD },
	{ "audioplay", KEY_PLAYPAUSE },
	{ "ac_home", KEY_HOMEPAGE },
	{ "ac_back", KEY_BACK },
	{ "ac_forward", KEY_FORWARD },
	{ "ac_refresh", KEY_REFRESH },
	{ "ac_bookmarks", KEY_BOOKMARKS },
};

struct keynames *keynames_create(const char *layout, const char *variant, const char *model,
				 const char *options)
{
	struct keynames *kn = calloc(1, sizeof(*kn));
	if (!kn)
		return NULL;
	kn->layout = layout ? strdup(layout) : NULL;
	kn->variant = variant ? strdup(variant) : NULL;
	kn->model = model ? strdup(model) : NULL;
	kn->options = options ? strdup(options) : NULL;
	kn->names = (struct xkb_rule_names){ .layout = kn->layout, .variant = kn->variant,
					     .model = kn->model, .options = kn->options };
	return kn;
}

void keynames_destroy(struct keynames *kn)
{
	if (!kn)
		return;
	xkb_keymap_unref(kn->keymap);
	xkb_context_unref(kn->ctx);
	free(kn->layout);
	free(kn->variant);
	free(kn->model);
	free(kn->options);
	free(kn);
}

static int evdev_lookup(const char *name, uint16_t *code)
{
	char up[96];
	size_t n = strlen(name);
	if (n + 5 > sizeof(up))
		return -1;
	for (size_t i = 0; i <= n; i++)
		up[i] = (char)toupper((unsigned char)name[i]);
	int c = libevdev_event_code_from_name(EV_KEY, up);
	if (c < 0 && strncmp(up, "KEY_", 4) != 0 && strncmp(up, "BTN_", 4) != 0) {
		char pre[100];
		snprintf(pre, sizeof(pre), "KEY_%s", up);
		c = libevdev_event_code_from_name(EV_KEY, pre);
		if (c < 0) {
			snprintf(pre, sizeof(pre), "BTN_%s", up);
			c = libevdev_event_code_from_name(EV_KEY, pre);
		}
	}
	if (c < 0)
		return -1;
	*code = (uint16_t)c;
	return 0;
}

/* libxkbcommon logs a dozen lines to stderr for a bad layout: keep the
 * first error, which names what it could not find, and print nothing. */
static void xkb_log(struct xkb_context *ctx, enum xkb_log_level level, const char *fmt, va_list ap)
{
	struct keynames *kn = xkb_context_get_user_data(ctx);
	if (level > XKB_LOG_LEVEL_ERROR || kn->xkb_error[0])
		return;
	vsnprintf(kn->xkb_error, sizeof(kn->xkb_error), fmt, ap);
	size_t n = strlen(kn->xkb_error);
	while (n && (kn->xkb_error[n - 1] == '\n' || kn->xkb_error[n - 1] == ' '))
		kn->xkb_error[--n] = '\0';
}

static struct xkb_keymap *keymap(struct keynames *kn)
{
	if (kn->keymap || kn->keymap_failed)
		return kn->keymap;
	kn->ctx = xkb_context_new(XKB_CONTEXT_NO_FLAGS);
	if (kn->ctx) {
		xkb_context_set_user_data(kn->ctx, kn);
		xkb_context_set_log_fn(kn->ctx, xkb_log);
		xkb_context_set_log_level(kn->ctx, XKB_LOG_LEVEL_ERROR);
		kn->keymap = xkb_keymap_new_from_names(kn->ctx, &kn->names, XKB_KEYMAP_COMPILE_NO_FLAGS);
	}
	if (!kn->keymap) {
		kn->keymap_failed = true;
		if (!kn->xkb_error[0])
			snprintf(kn->xkb_error, sizeof(kn->xkb_error), "%s",
				 kn->ctx ? "libxkbcommon cannot compile it" : "cannot create an XKB context");
	}
	return kn->keymap;
}

int keynames_compile(struct keynames *kn, char *err, size_t errlen)
{
	if (keymap(kn))
		return 0;
	snprintf(err, errlen, "%s", kn->xkb_error);
	return -1;
}

/* Every key that produces the keysym on the first layout, at any level. */
static int keysym_lookup(struct keynames *kn, const char *name, uint16_t *codes, size_t max)
{
	xkb_keysym_t sym = xkb_keysym_from_name(name, XKB_KEYSYM_NO_FLAGS);
	if (sym == XKB_KEY_NoSymbol)
		sym = xkb_keysym_from_name(name, XKB_KEYSYM_CASE_INSENSITIVE);
	if (sym == XKB_KEY_NoSymbol)
		return 0;
	bool failed_before = kn->keymap_failed;
	struct xkb_keymap *km = keymap(kn);
	if (!km) {
		if (!failed_before)
			log_warn("cannot compile the XKB keymap (layout '%s': %s); keysym names in hotkeys will not "
				 "resolve (is xkb-data installed?)",
				 kn->layout ? kn->layout : "default", kn->xkb_error);
		return 0;
	}
	size_t n = 0;
	for (xkb_keycode_t kc = xkb_keymap_min_keycode(km); kc <= xkb_keymap_max_keycode(km) && n < max; kc++) {
		if (kc < 8 || kc - 8 >= KEY_CNT)
			continue;
		xkb_level_index_t levels = xkb_keymap_num_levels_for_key(km, kc, 0);
		bool found = false;
		for (xkb_level_index_t l = 0; l < levels && !found; l++) {
			const xkb_keysym_t *syms;
			int ns = xkb_keymap_key_get_syms_by_level(km, kc, 0, l, &syms);
			for (int i = 0; i < ns; i++)
				found |= syms[i] == sym;
		}
		if (found)
			codes[n++] = (uint16_t)(kc - 8);
	}
	return (int)n;
}

static int resolve(void *data, const char *name, uint16_t *codes, size_t max)
{
	struct keynames *kn = data;
	bool prefixed = !strncasecmp(name, "KEY_", 4) || !strncasecmp(name, "BTN_", 4);
	bool mixed = false;
	for (const char *p = name; *p; p++)
		mixed |= isupper((unsigned char)*p) != 0;
	if (max == 0)
		return 0;
	if (prefixed)
		return evdev_lookup(name, &codes[0]) == 0 ? 1 : 0;
	/* Mixed case reads as an XKB keysym (Scroll_Lock, Pause, F12);
	 * lower case as an evdev name (scrolllock), then a QEMU qcode (ctrl_r). */
	if (mixed) {
		int n = keysym_lookup(kn, name, codes, max);
		if (n > 0)
			return n;
		return evdev_lookup(name, &codes[0]) == 0 ? 1 : 0;
	}
	if (evdev_lookup(name, &codes[0]) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(qcodes) / sizeof(qcodes[0]); i++) {
		if (strcmp(qcodes[i].name, name) == 0) {
			codes[0] = qcodes[i].code;
			return 1;
		}
	}
	return keysym_lookup(kn, name, codes, max);
}

struct keyname_resolver keynames_resolver(struct keynames *kn)
{
	return (struct keyname_resolver){ kn, resolve };
}

const char *keynames_config_name(unsigned code, char *buf, size_t len)
{
	const char *n = libevdev_event_code_get_name(EV_KEY, code);
	if (!n || len == 0)
		return NULL;
	if (strncmp(n, "KEY_", 4) != 0) {
		snprintf(buf, len, "%s", n);
		return buf;
	}
	size_t i = 0;
	for (n += 4; n[i] && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)n[i]);
	buf[i] = '\0';
	return buf;
}

/* Does `name` resolve to exactly `code` (or, for a keysym, include it)? */
static bool names_code(struct keynames *kn, const char *name, unsigned code, bool exactly)
{
	uint16_t codes[CHORD_MAX_ALTS];
	int n = resolve(kn, name, codes, CHORD_MAX_ALTS);
	if (exactly)
		return n == 1 && codes[0] == code;
	for (int i = 0; i < n; i++)
		if (codes[i] == code)
			return true;
	return false;
}

void keynames_list(struct keynames *kn, FILE *out)
{
	struct xkb_keymap *km = keymap(kn);
	fprintf(out, "# Key names for chords (hotkey, emergency, lock, a target's hotkey), host-keys and shared-keys.\n");
	fprintf(out, "# %-22s %-14s XKB keysyms (layout %s)\n", "NAME", "QEMU",
		km ? kn->layout ? kn->layout : "the default" : "none: the keymap did not compile");
	for (unsigned code = 1; code < KEY_CNT; code++) {
		char name[64];
		if ((!key_is_keyboard(code) && !key_is_mouse_button(code)) || code == KEY_MAX ||
		    !keynames_config_name(code, name, sizeof(name)) || !names_code(kn, name, code, true))
			continue;
		const char *q = "-";
		for (size_t i = 0; i < sizeof(qcodes) / sizeof(qcodes[0]); i++)
			if (qcodes[i].code == code) {
				q = qcodes[i].name;
				break;
			}
		/* The keysyms on the key, in the first layout: those with a
		 * capital are read as keysyms (a lower-case one as an evdev name). */
		char syms_text[256] = "";
		size_t off = 0;
		xkb_keycode_t kc = code + 8;
		for (xkb_level_index_t l = 0; km && l < xkb_keymap_num_levels_for_key(km, kc, 0); l++) {
			const xkb_keysym_t *syms;
			int ns = xkb_keymap_key_get_syms_by_level(km, kc, 0, l, &syms);
			for (int k = 0; k < ns && off + 66 < sizeof(syms_text); k++) {
				char sym[64], word[66];
				bool mixed = false;
				if (xkb_keysym_get_name(syms[k], sym, sizeof(sym)) <= 0)
					continue;
				for (const char *p = sym; *p; p++)
					mixed |= isupper((unsigned char)*p) != 0;
				snprintf(word, sizeof(word), " %s ", sym);
				char padded[sizeof(syms_text) + 2];
				snprintf(padded, sizeof(padded), "%s ", syms_text);
				if (mixed && !strstr(padded, word) && names_code(kn, sym, code, false))
					off += (size_t)snprintf(syms_text + off, sizeof(syms_text) - off, " %s", sym);
			}
		}
		if (*syms_text)
			fprintf(out, "%-24s %-14s%s\n", name, q, syms_text);
		else if (strcmp(q, "-"))
			fprintf(out, "%-24s %s\n", name, q);
		else
			fprintf(out, "%s\n", name);
	}
	fprintf(out, "# Also: QEMU's grab-toggle values as whole chords (ctrl-ctrl, alt-alt, shift-shift, meta-meta,\n"
		     "# scrolllock, ctrl-scrolllock), every KEY_* or BTN_* name in full, and any keysym of the layout.\n"
		     "# `kvmswitch monitor` shows the name of each key as it is pressed.\n");
}
