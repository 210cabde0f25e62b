/* Finding, reading and resolving kvmswitch.conf. */
#ifndef KVMSWITCH_CONFFILE_H
#define KVMSWITCH_CONFFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

#define CONFFILE_SYSTEM "/etc/kvmswitch/kvmswitch.conf"

/* The file to read: `explicit_path` if given, else
 * $XDG_CONFIG_HOME/kvmswitch/kvmswitch.conf (~/.config/...), else the system
 * file. Writes "" when none exists (the built-in defaults apply). */
void conffile_find(const char *explicit_path, char *out, size_t len);

/* Reads and parses `path` ("" for the built-in defaults) and resolves its
 * hotkeys with libevdev/libxkbcommon names. Returns NULL with
 * "FILE:LINE: message" (or "FILE: reason") in err. */
struct config *conffile_load(const char *path, char *err, size_t errlen);

#endif
