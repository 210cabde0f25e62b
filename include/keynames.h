/* Key names for hotkeys: evdev names through libevdev, QEMU's qcode names,
 * and XKB keysym names resolved with libxkbcommon for a layout. */
#ifndef KVMSWITCH_KEYNAMES_H
#define KVMSWITCH_KEYNAMES_H

#include <stdio.h>

#include "core/hotkey.h"

struct keynames;

/* Any argument may be NULL: XKB's defaults (and XKB_DEFAULT_* variables). The
 * keymap is compiled only when a keysym name is first looked up. */
struct keynames *keynames_create(const char *layout, const char *variant, const char *model,
				 const char *options);
void keynames_destroy(struct keynames *kn);
/* Compiles the keymap now (it is otherwise compiled when a keysym name is
 * first looked up). Returns 0, or -1 with libxkbcommon's first error in err
 * (nothing is printed: libxkbcommon's own log is silenced). */
int keynames_compile(struct keynames *kn, char *err, size_t errlen);
struct keyname_resolver keynames_resolver(struct keynames *kn);

/* A code's name as a chord takes it: "leftctrl" for KEY_LEFTCTRL, "BTN_SIDE"
 * for buttons (a bare "side" would be another key), into buf; NULL if the
 * code has no name. */
const char *keynames_config_name(unsigned code, char *buf, size_t len);

/* `kvmswitch keys`: every key name a chord takes, with its QEMU qcode and the
 * keysyms of the configured layout (xkb-* in the config, through kn), only
 * the names that resolve back to their key. */
void keynames_list(struct keynames *kn, FILE *out);

#endif
