/* Hotkey chords: parsing (through a key-name resolver) and matching. Pure. */
#ifndef KVMSWITCH_CORE_HOTKEY_H
#define KVMSWITCH_CORE_HOTKEY_H

#include "core/keys.h"

#define CHORD_MAX_KEYS 8
#define CHORD_MAX_ALTS 4

/* One element of a chord: any one of up to CHORD_MAX_ALTS codes satisfies it
 * (an XKB keysym can sit on more than one key). */
struct chord_key {
	uint16_t alt[CHORD_MAX_ALTS];
	uint8_t n_alt;
};

/* A chord: every element held, nothing else held. n == 0 means "none". */
struct chord {
	struct chord_key key[CHORD_MAX_KEYS];
	uint8_t n;
};

/* Resolves one key name to the EV_KEY codes it stands for. Returns the number
 * of codes written (at most max), 0 if the name is unknown. The shell provides
 * one backed by libevdev's name tables and libxkbcommon; tests provide tables. */
struct keyname_resolver {
	void *data;
	int (*resolve)(void *data, const char *name, uint16_t *codes, size_t max);
};

/* Parses "leftctrl+rightctrl", "KEY_SCROLLLOCK", "ctrl-ctrl", "Scroll_Lock",
 * "none". Returns 0, or -1 with a message in err. */
int hotkey_parse(struct chord *out, const char *text, const struct keyname_resolver *res,
		 char *err, size_t errlen);

/* True if `code` belongs to the chord. */
bool hotkey_contains(const struct chord *c, unsigned code);

/* True if pressing `pressed` (now held, included in `held`) completes the chord:
 * every element has a held code, `pressed` is one of them, and no keyboard key
 * outside the chord is held (buttons outside it do not count). */
bool hotkey_match(const struct chord *c, const struct keyset *held, unsigned pressed);

/* Writes a canonical "KEY_A+KEY_B" form (for status and logs of config, never
 * of typed input). */
void hotkey_format(const struct chord *c, char *buf, size_t len,
		   const char *(*code_name)(unsigned code));

#endif
