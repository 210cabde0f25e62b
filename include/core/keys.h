/* Key and event classification shared by the core modules. Pure. */
#ifndef KVMSWITCH_CORE_KEYS_H
#define KVMSWITCH_CORE_KEYS_H

#include <linux/input.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kinds of virtual device a target owns. */
enum vkind {
	VK_KEYBOARD = 0,
	VK_POINTER,
	VK_TABLET,
	VK_COUNT,
};

const char *vkind_name(enum vkind kind);

/* A fixed-size bit set over EV_KEY codes. */
struct keyset {
	uint64_t bits[(KEY_CNT + 63) / 64];
};

static inline void keyset_set(struct keyset *s, unsigned code, bool on)
{
	if (code >= KEY_CNT)
		return;
	if (on)
		s->bits[code / 64] |= UINT64_C(1) << (code % 64);
	else
		s->bits[code / 64] &= ~(UINT64_C(1) << (code % 64));
}

static inline bool keyset_has(const struct keyset *s, unsigned code)
{
	return code < KEY_CNT && (s->bits[code / 64] >> (code % 64)) & 1;
}

bool keyset_empty(const struct keyset *s);
size_t keyset_count(const struct keyset *s);

/* Pointer buttons (BTN_LEFT..BTN_TASK). */
static inline bool key_is_mouse_button(unsigned code)
{
	return code >= BTN_MOUSE && code < BTN_JOYSTICK;
}

/* Buttons of the 0x100-0x15f block: misc, mouse, joystick, gamepad, digitizer. */
static inline bool key_is_button(unsigned code)
{
	return code >= BTN_MISC && code < KEY_OK;
}

/* Digitizer buttons (BTN_TOOL_PEN..BTN_STYLUS3 region). */
static inline bool key_is_digitizer(unsigned code)
{
	return code >= BTN_DIGI && code < BTN_WHEEL;
}

/* Keys a keyboard target device carries: every code outside the button block. */
static inline bool key_is_keyboard(unsigned code)
{
	return code > 0 && code < KEY_CNT && !key_is_button(code);
}

#endif
