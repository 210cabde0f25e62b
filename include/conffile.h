/* Finding, reading and resolving kvmswitch.conf. */
#ifndef KVMSWITCH_CONFFILE_H
#define KVMSWITCH_CONFFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

#define CONFFILE_SYSTEM "/etc/kvmswitch/kvmswitch.conf"

/* Finds the file to read and loads it: `explicit_path` if given, else
 * $XDG_CONFIG_HOME/kvmswitch/kvmswitch.conf (~/.config/...), else the system
 * file, else the built-in defaults. Writes the path read to `path` ("" for
 * the defaults). The file is parsed and its hotkeys resolved with
 * libevdev/libxkbcommon names. Returns NULL with "FILE:LINE: message" (or
 * "FILE: reason") in err, for the caller to print or log. */
struct config *conffile_read(const char *explicit_path, char *path, size_t pathlen, char *err, size_t errlen);

#endif
