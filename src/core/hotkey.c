#include "core/hotkey.h"

#include <stdio.h>
#include <string.h>

/* QEMU's grab-toggle vocabulary (input-linux "grab-toggle=", ui/input-linux.c),
 * accepted as whole values so QEMU users can keep what they know. */
static const struct {
	const char *name;
	uint16_t codes[2];
	uint8_t n;
} qemu_toggles[] = {
	{ "ctrl-ctrl", { KEY_LEFTCTRL, KEY_RIGHTCTRL }, 2 },
	{ "alt-alt", { KEY_LEFTALT, KEY_RIGHTALT }, 2 },
	{ "shift-shift", { KEY_LEFTSHIFT, KEY_RIGHTSHIFT }, 2 },
	{ "meta-meta", { KEY_LEFTMETA, KEY_RIGHTMETA }, 2 },
	{ "scrolllock", { KEY_SCROLLLOCK }, 1 },
	{ "ctrl-scrolllock", { KEY_LEFTCTRL, KEY_SCROLLLOCK }, 2 },
};

static void chord_add(struct chord *c, const uint16_t *codes, size_t n)
{
	struct chord_key *k = &c->key[c->n++];
	k->n_alt = (uint8_t)n;
	for (size_t i = 0; i < n; i++)
		k->alt[i] = codes[i];
}

int hotkey_parse(struct chord *out, const char *text, const struct keyname_resolver *res,
		 char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	while (*text == ' ' || *text == '\t')
		text++;
	size_t len = strlen(text);
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 0) {
		snprintf(err, errlen, "empty hotkey (write 'none' to disable it)");
		return -1;
	}
	if (len == 4 && strncmp(text, "none", 4) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(qemu_toggles) / sizeof(qemu_toggles[0]); i++) {
		if (strlen(qemu_toggles[i].name) == len && strncmp(text, qemu_toggles[i].name, len) == 0) {
			for (size_t j = 0; j < qemu_toggles[i].n; j++)
				chord_add(out, &qemu_toggles[i].codes[j], 1);
			return 0;
		}
	}

	const char *p = text, *end = text + len;
	while (p <= end) {
		const char *plus = memchr(p, '+', (size_t)(end - p));
		const char *stop = plus ? plus : end;
		char name[64];
		const char *a = p, *b = stop;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a == b) {
			snprintf(err, errlen, "empty key name in hotkey '%.*s'", (int)len, text);
			return -1;
		}
		if ((size_t)(b - a) >= sizeof(name)) {
			snprintf(err, errlen, "key name too long in hotkey '%.*s'", (int)len, text);
			return -1;
		}
		memcpy(name, a, (size_t)(b - a));
		name[b - a] = '\0';
		if (out->n >= CHORD_MAX_KEYS) {
			snprintf(err, errlen, "hotkey '%.*s' has more than %d keys", (int)len, text,
				 CHORD_MAX_KEYS);
			return -1;
		}
		uint16_t codes[CHORD_MAX_ALTS];
		int n = res->resolve(res->data, name, codes, CHORD_MAX_ALTS);
		if (n <= 0) {
			snprintf(err, errlen,
				 "unknown key '%s' in hotkey (use evdev names like leftctrl or "
				 "KEY_SCROLLLOCK, or XKB keysyms like Scroll_Lock)",
				 name);
			return -1;
		}
		for (int i = 0; i < n; i++) {
			if (hotkey_contains(out, codes[i])) {
				snprintf(err, errlen, "key '%s' appears twice in hotkey", name);
				return -1;
			}
		}
		chord_add(out, codes, (size_t)n);
		if (!plus)
			break;
		p = plus + 1;
	}
	return 0;
}

bool hotkey_contains(const struct chord *c, unsigned code)
{
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->key[i].n_alt; j++)
			if (c->key[i].alt[j] == code)
				return true;
	return false;
}

bool hotkey_match(const struct chord *c, const struct keyset *held, unsigned pressed)
{
	if (c->n == 0 || !hotkey_contains(c, pressed))
		return false;
	for (size_t i = 0; i < c->n; i++) {
		size_t down = 0;
		for (size_t j = 0; j < c->key[i].n_alt; j++)
			down += keyset_has(held, c->key[i].alt[j]);
		if (down == 0)
			return false;
	}
	/* No other keyboard key is held; a pointer button held outside the
	 * chord (a drag, a stuck button) does not make it ambiguous. */
	for (size_t w = 0; w < sizeof(held->bits) / sizeof(held->bits[0]); w++) {
		for (uint64_t bits = held->bits[w]; bits; bits &= bits - 1) {
			unsigned code = (unsigned)(w * 64 + (unsigned)__builtin_ctzll(bits));
			if (!hotkey_contains(c, code) && !key_is_button(code))
				return false;
		}
	}
	return true;
}

void hotkey_format(const struct chord *c, char *buf, size_t len,
		   const char *(*code_name)(unsigned code))
{
	size_t off = 0;
	if (len == 0)
		return;
	buf[0] = '\0';
	if (c->n == 0) {
		snprintf(buf, len, "none");
		return;
	}
	for (size_t i = 0; i < c->n && off < len; i++) {
		for (size_t j = 0; j < c->key[i].n_alt && off < len; j++) {
			const char *name = code_name ? code_name(c->key[i].alt[j]) : NULL;
			char num[16];
			if (!name) {
				snprintf(num, sizeof(num), "%u", c->key[i].alt[j]);
				name = num;
			}
			int w = snprintf(buf + off, len - off, "%s%s", i == 0 && j == 0 ? "" : (j ? "|" : "+"),
					 name);
			if (w < 0)
				return;
			off += (size_t)w;
		}
	}
}
