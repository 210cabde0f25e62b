/* What `kvmswitch run` needs of a configuration beyond what the parser can
 * see, which only I/O can tell: the listener's secret file (exists, mode,
 * size) and address, and the programs the hooks start. `kvmswitch check`
 * and `run` (and a reload) call the same checks, so they cannot disagree:
 * what check reports, run refuses. (The xkb-* keymap is compiled when the
 * file is read, conffile.c.) */
#ifndef KVMSWITCH_PREFLIGHT_H
#define KVMSWITCH_PREFLIGHT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/config.h"

/* Appends one line per problem, "FILE:LINE: what is wrong and what to do",
 * to out; returns how many. */
size_t preflight_check(const struct config *cfg, struct buf *out);

/* conffile_read(), then preflight_check(): the configuration run starts
 * with, or NULL with the first problem (and how many more) in err. */
struct config *preflight_read(const char *explicit_path, char *path, size_t pathlen, char *err, size_t errlen);

#endif
