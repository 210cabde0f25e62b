/* What program a hook command (on-enter, on-leave: run with /bin/sh -c)
 * starts, where that can be told without a shell. Pure. */
#ifndef KVMSWITCH_CORE_HOOKCMD_H
#define KVMSWITCH_CORE_HOOKCMD_H

#include <stddef.h>

/* The first word of a simple command, after NAME=VALUE assignments and an
 * `exec` or `command`: "ddcutil" for "ddcutil setvcp 60 0x0f",
 * "/usr/local/bin/x" for "LANG=C exec /usr/local/bin/x". Returns 1 with the
 * word in out; 0 when the command starts with a shell builtin or keyword
 * (echo, if, ...) or with quoting, expansions or other shell syntax,
 * where only the shell can tell (nothing to check); -1 if the word does
 * not fit in out. */
int hookcmd_program(const char *cmd, char *out, size_t len);

#endif
