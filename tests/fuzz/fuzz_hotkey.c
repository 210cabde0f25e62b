/* libFuzzer harness for the hotkey parser: hotkey_parse() on any text (up to
 * the first NUL), through the unit tests' key-name resolver. Checked besides
 * memory safety: an error leaves a message; a chord has at most
 * CHORD_MAX_KEYS keys of at most CHORD_MAX_ALTS codes, no code twice;
 * hotkey_format() of a chord without alternatives parses back to the same
 * chord; hotkey_match() fires for the chord's own keys held (the last one
 * pressed) and not when a keyboard key outside it is held too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hotkey.h"
#include "test.h"

static const char *code_name(unsigned code)
{
	return test_code_name(EV_KEY, code);
}

static bool same(const struct chord *a, const struct chord *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (a->key[i].n_alt != b->key[i].n_alt)
			return false;
		for (size_t j = 0; j < a->key[i].n_alt; j++)
			if (a->key[i].alt[j] != b->key[i].alt[j])
				return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	char err[256] = "";
	struct chord c;
	if (!text)
		return 0;
	if (hotkey_parse(&c, text, &test_resolver, err, sizeof(err)) < 0) {
		if (!err[0] || strnlen(err, sizeof(err)) >= sizeof(err))
			abort();
		free(text);
		return 0;
	}
	if (c.n > CHORD_MAX_KEYS)
		abort();
	bool alts = false;
	struct keyset held = { 0 };
	for (size_t i = 0; i < c.n; i++) {
		if (c.key[i].n_alt < 1 || c.key[i].n_alt > CHORD_MAX_ALTS)
			abort();
		alts |= c.key[i].n_alt > 1;
		for (size_t j = 0; j < c.key[i].n_alt; j++) {
			unsigned code = c.key[i].alt[j];
			/* no code in two places */
			for (size_t i2 = 0; i2 < c.n; i2++)
				for (size_t j2 = 0; j2 < c.key[i2].n_alt; j2++)
					if ((i2 != i || j2 != j) && c.key[i2].alt[j2] == code)
						abort();
		}
		keyset_set(&held, c.key[i].alt[0], true);
	}
	char buf[512];
	hotkey_format(&c, buf, sizeof(buf), code_name);
	if (!alts && strlen(buf) < sizeof(buf) - 1) {
		struct chord back;
		if (hotkey_parse(&back, buf, &test_resolver, err, sizeof(err)) < 0 || !same(&c, &back)) {
			fprintf(stderr, "'%s' formats as '%s', which does not parse back (%s)\n", text, buf,
				err);
			abort();
		}
	}
	if (c.n > 0) {
		unsigned last = c.key[c.n - 1].alt[0];
		bool all_keys = true;
		for (size_t i = 0; i < c.n; i++)
			all_keys &= c.key[i].alt[0] < KEY_CNT;
		if (all_keys && !hotkey_match(&c, &held, last)) {
			fprintf(stderr, "'%s' does not match its own keys\n", text);
			abort();
		}
		/* A keyboard key outside the chord makes it an ordinary combination. */
		unsigned other = KEY_A;
		while (hotkey_contains(&c, other))
			other++;
		keyset_set(&held, other, true);
		if (hotkey_match(&c, &held, last)) {
			fprintf(stderr, "'%s' matches with another key held\n", text);
			abort();
		}
	}
	free(text);
	return 0;
}
