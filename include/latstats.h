/* The hop kvmswitch measures for every forwarded frame: from the kernel's
 * timestamp of the source frame (CLOCK_MONOTONIC, EVIOCSCLOCKID), which the
 * router leaves in the time of the events it emits, to the return of the
 * write() that forwarded it. One histogram (core/latency.h) per target and
 * device kind; one vDSO clock read per frame, no allocation. */
#ifndef KVMSWITCH_LATSTATS_H
#define KVMSWITCH_LATSTATS_H

#include <linux/input.h>
#include <stddef.h>

#include "core/config.h"
#include "core/json.h"
#include "core/keys.h"

struct latstats;

struct latstats *latstats_create(void);
void latstats_destroy(struct latstats *s);

/* Reload: the figures of the old configuration's target i (of n_old) move
 * to map[i] (config_map_targets), or are dropped when map[i] < 0. */
void latstats_remap(struct latstats *s, const int *map, size_t n_old);

/* "latency": {...} for status: per target and kind that forwarded a frame,
 * since start and over the last minute. */
void latstats_json(const struct latstats *s, const struct config *cfg, struct json *j);

#ifndef KVMSWITCH_NO_LATSTATS
/* Right after the write() of frame ev[0..n) to target's `kind` device. A
 * frame without a source time (zero: made by kvmswitch itself, e.g. the
 * releases of a switch) is not counted. */
void latstats_record(struct latstats *s, int target, enum vkind kind, const struct input_event *ev, size_t n);
#else
/* make bench's baseline (build/bench/kvmswitch-nolatstats): no measuring. */
static inline void latstats_record(struct latstats *s, int target, enum vkind kind, const struct input_event *ev,
				   size_t n)
{
}
#endif

#endif
