/* Key names for the unit tests, from a table generated out of the kernel's
 * input-event-codes.h, and a stand-in for the shell's resolver. */
#include <ctype.h>
#include <linux/input.h>
#include <string.h>

#include "core/hotkey.h"
#include "test.h"

static const struct {
	const char *name;
	unsigned code;
} table[] = {
#include "evcodes.h"
};

static unsigned type_of(const char *name)
{
	static const struct {
		const char *prefix;
		unsigned type;
	} p[] = { { "KEY_", EV_KEY }, { "BTN_", EV_KEY }, { "REL_", EV_REL }, { "ABS_", EV_ABS },
		  { "MSC_", EV_MSC }, { "LED_", EV_LED }, { "SYN_", EV_SYN } };
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		if (strncmp(name, p[i].prefix, 4) == 0)
			return p[i].type;
	return EV_MAX + 1;
}

static int lookup(const char *upper, unsigned *type, unsigned *code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].name, upper) == 0 && type_of(upper) <= EV_MAX) {
			*type = type_of(upper);
			*code = table[i].code;
			return 0;
		}
	}
	return -1;
}

int test_code_from_name(const char *name, unsigned *type, unsigned *code)
{
	char up[80], pre[96];
	size_t n = strlen(name);
	if (n >= sizeof(up))
		return -1;
	for (size_t i = 0; i <= n; i++)
		up[i] = (char)toupper((unsigned char)name[i]);
	if (lookup(up, type, code) == 0)
		return 0;
	snprintf(pre, sizeof(pre), "KEY_%s", up);
	if (lookup(pre, type, code) == 0)
		return 0;
	snprintf(pre, sizeof(pre), "BTN_%s", up);
	return lookup(pre, type, code);
}

const char *test_code_name(unsigned type, unsigned code)
{
	static char buf[8][64];
	static int slot;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].code != code || type_of(table[i].name) != type)
			continue;
		const char *s = table[i].name;
		if (strncmp(s, "KEY_", 4) == 0)
			s += 4;
		char *out = buf[slot++ % 8];
		size_t k = 0;
		for (; s[k] && k < 63; k++)
			out[k] = (char)tolower((unsigned char)s[k]);
		out[k] = '\0';
		return out;
	}
	return NULL;
}

/* Keysym names (mixed case) as the shell resolves them through libxkbcommon
 * for a US layout, plus one that sits on two keys to exercise alternatives. */
static const struct {
	const char *name;
	uint16_t codes[2];
	int n;
} keysyms[] = {
	{ "Scroll_Lock", { KEY_SCROLLLOCK }, 1 }, { "Pause", { KEY_PAUSE }, 1 },
	{ "Control_L", { KEY_LEFTCTRL }, 1 },     { "Control_R", { KEY_RIGHTCTRL }, 1 },
	{ "F12", { KEY_F12 }, 1 },                { "Either_Ctrl", { KEY_LEFTCTRL, KEY_RIGHTCTRL }, 2 },
};

static int resolve(void *data, const char *name, uint16_t *codes, size_t max)
{
	unsigned type, code;
	bool mixed = false;
	for (const char *p = name; *p; p++)
		mixed |= isupper((unsigned char)*p) != 0;
	if (mixed && strncmp(name, "KEY_", 4) != 0 && strncmp(name, "BTN_", 4) != 0) {
		for (size_t i = 0; i < sizeof(keysyms) / sizeof(keysyms[0]); i++) {
			if (strcmp(keysyms[i].name, name) == 0) {
				int n = keysyms[i].n < (int)max ? keysyms[i].n : (int)max;
				memcpy(codes, keysyms[i].codes, (size_t)n * sizeof(*codes));
				return n;
			}
		}
	}
	if (test_code_from_name(name, &type, &code) == 0 && type == EV_KEY && max > 0) {
		codes[0] = (uint16_t)code;
		return 1;
	}
	return 0;
}

const struct keyname_resolver test_resolver = { NULL, resolve };
