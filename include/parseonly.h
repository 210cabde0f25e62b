/* KVMSWITCH_PARSE_ONLY=1: every command parses its command line as always
 * (a bad one is still exit status 2 with its usage), then returns 0 at once
 * instead of doing anything: no daemon, no socket, no file read. For
 * tests/docs-check, which runs the command lines of the documentation
 * through the real parser. Each command calls parse_only() right after its
 * arguments are checked. */
#ifndef KVMSWITCH_PARSEONLY_H
#define KVMSWITCH_PARSEONLY_H

#include <stdbool.h>

bool parse_only(void);

#endif
