/* Splitting what read() returns from an evdev node into whole frames. Pure:
 * the shell reads into the framer's buffer (framer_space) and hands over the
 * count (framer_feed); the framer decides what is a frame, what waits for
 * the next read, and what a SYN_DROPPED voids.
 *
 * The rules (docs/DESIGN.md, "Frames"):
 *  - A frame is the events up to and including a SYN_REPORT. Complete frames
 *    go out in order, as few calls as possible (one per read when nothing
 *    interrupts them); a partial frame at the end waits for the next read.
 *  - A frame longer than the whole buffer goes out in pieces.
 *  - At a SYN_DROPPED the complete frames before it stand, the partial frame
 *    before it is void, and so is the frame the kernel was queueing at the
 *    drop (up to the next SYN_REPORT). The complete frames after that stand
 *    too; a partial one after them is void (the shell resyncs from the
 *    kernel's state right after this read).
 *  - Around a grab change, frames stamped in the very microsecond of the
 *    change may belong to either side; framer_set_edge says which (see
 *    there), and the framer moves the later side's frames one microsecond on,
 *    so that comparing a frame's stamp with the change's instant is exact. */
#ifndef KVMSWITCH_CORE_FRAMER_H
#define KVMSWITCH_CORE_FRAMER_H

#include <linux/input.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAMER_MAX 256 /* events per read(), and the longest whole frame */

enum framer_edge {
	FRAMER_EDGE_NONE,
	/* A grab: of the frames stamped exactly at the edge, the first `m`
	 * reached the host too (they came before the grab); the rest did not
	 * and are moved to edge + 1 µs. */
	FRAMER_EDGE_KEEP_FIRST,
	/* An ungrab: of the frames stamped exactly at the edge, the last `m`
	 * reached the host too (they came after the ungrab) and are moved to
	 * edge + 1 µs; the earlier ones stay. The framer holds frames stamped at
	 * the edge until it has seen them all (a later stamp, or a read that
	 * emptied the kernel's queue). */
	FRAMER_EDGE_BUMP_LAST,
};

/* Grab changes whose edge frames may still be unread. */
#define FRAMER_EDGES 4

struct framer_edge_at {
	enum framer_edge mode;
	int64_t us;
	unsigned m; /* frames at the edge on the side named by `mode` */
};

struct framer {
	size_t n;    /* events held: frames held at an edge, then a partial frame */
	size_t held; /* of those, events in frames held at an edge */
	/* Edges in force, oldest first (their stamps only grow), and those set
	 * since the last feed. */
	struct framer_edge_at edge[FRAMER_EDGES], pend[FRAMER_EDGES];
	unsigned n_edge, n_pend;
	unsigned edge_seen; /* KEEP_FIRST: frames at edge[0] seen so far */
	uint64_t bumped;    /* frames moved by an edge (a statistic) */
	/* While out->frames runs: the event types in the frames it is given,
	 * at least (bit 1 << (type & 31); all bits when not counted), so that
	 * a caller may skip looking for a type that is not there. */
	uint32_t out_types;
	uint32_t partial_types; /* the same for the partial frame kept, or all bits */
	struct input_event buf[FRAMER_MAX];
};

struct framer_out {
	void *data;
	/* Whole frames, each ending in SYN_REPORT, in order. */
	void (*frames)(void *data, const struct input_event *ev, size_t n);
	/* A SYN_DROPPED: every frame before it went out already; the frames
	 * after it follow. `drop` is the SYN_DROPPED event (its stamp is the
	 * stamp of the event that overflowed the kernel's queue). */
	void (*dropped)(void *data, const struct input_event *drop);
};

static inline int64_t framer_stamp_us(const struct input_event *e)
{
	return (int64_t)e->input_event_sec * 1000000 + (int64_t)e->input_event_usec;
}

static inline void framer_set_stamp_us(struct input_event *e, int64_t us)
{
	e->input_event_sec = us / 1000000;
	e->input_event_usec = us % 1000000;
}

void framer_init(struct framer *f);

/* Where the next read() goes: at most *space events. */
static inline struct input_event *framer_space(struct framer *f, size_t *space)
{
	*space = FRAMER_MAX - f->n;
	return f->buf + f->n;
}

/* `n` events were read into framer_space. `drained`: the read returned less
 * than it asked for, so the kernel's queue was empty (every frame stamped up
 * to now has been read). Returns true if a SYN_DROPPED was met: the caller
 * resyncs from the device's state now. */
bool framer_feed(struct framer *f, size_t n, bool drained, const struct framer_out *out);

/* The tie rule for the frames stamped exactly `edge_us` that are read from
 * now on (see enum framer_edge). Takes effect at the next framer_feed (it may
 * be called from within an output callback), after the edges set before it
 * (a grab taken back at once sets two). */
void framer_set_edge(struct framer *f, enum framer_edge mode, int64_t edge_us, unsigned m);

#endif
