/* Frames from read() batches (core/framer.h). */
#include "core/framer.h"

#include <string.h>

static bool is_report(const struct input_event *e)
{
	return e->type == EV_SYN && e->code == SYN_REPORT;
}

static bool is_drop(const struct input_event *e)
{
	return e->type == EV_SYN && e->code == SYN_DROPPED;
}

static void bump(struct framer *f, struct input_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		framer_set_stamp_us(&ev[i], framer_stamp_us(&ev[i]) + 1);
	f->bumped++;
}

/* The oldest edge is over: every frame stamped at it has been seen. */
static void edge_done(struct framer *f)
{
	memmove(f->edge, f->edge + 1, sizeof(f->edge[0]) * --f->n_edge);
	f->edge_seen = 0;
}

/* BUMP_LAST: the frames held at the oldest edge, buf[from, to), are all
 * there is: the last m of them reached the host after the ungrab. */
static void resolve_held(struct framer *f, size_t from, size_t to)
{
	size_t frames = 0;
	for (size_t i = from; i < to; i++)
		frames += is_report(&f->buf[i]);
	size_t m = f->edge[0].m, keep = frames > m ? frames - m : 0, seen = 0, start = from;
	for (size_t i = from; i < to; i++) {
		if (!is_report(&f->buf[i]))
			continue;
		if (seen++ >= keep)
			bump(f, &f->buf[start], i + 1 - start);
		start = i + 1;
	}
	edge_done(f);
}

void framer_init(struct framer *f)
{
	memset(f, 0, sizeof(*f));
}

void framer_set_edge(struct framer *f, enum framer_edge mode, int64_t edge_us, unsigned m)
{
	if (f->n_pend == FRAMER_EDGES)
		memmove(f->pend, f->pend + 1, sizeof(f->pend[0]) * --f->n_pend);
	f->pend[f->n_pend++] = (struct framer_edge_at){ mode, edge_us, m };
}

static void emit(struct framer *f, size_t from, size_t to, const struct framer_out *out)
{
	if (to > from)
		out->frames(out->data, f->buf + from, to - from);
}

/* The usual read: no grab edge to mind, nothing held at one. Whole frames
 * out, a partial one kept. Returns false (and changes nothing) for what it
 * does not handle: a SYN_DROPPED, or a buffer left full. Same rules as
 * below, fewer instructions per frame (make bench counts them). */
static bool feed_no_edge(struct framer *f, size_t n, const struct framer_out *out)
{
	struct input_event *b = f->buf;
	size_t end = f->n + n, keep_from = 0;
	uint32_t types = f->partial_types, whole = 0; /* of the frame being scanned, of those before */
	/* The partial frame kept from the last read has no SYN in it. */
	for (size_t i = f->n; i < end; i++) {
		types |= 1u << (b[i].type & 31);
		if (b[i].type != EV_SYN)
			continue;
		if (b[i].code == SYN_REPORT) {
			keep_from = i + 1;
			whole |= types;
			types = 0;
		} else if (b[i].code == SYN_DROPPED) {
			return false;
		}
	}
	if (end - keep_from == FRAMER_MAX)
		return false;
	f->out_types = whole;
	emit(f, 0, keep_from, out);
	if (end > keep_from && keep_from > 0)
		memmove(b, b + keep_from, (end - keep_from) * sizeof(*b));
	f->n = end - keep_from;
	f->partial_types = types;
	return true;
}

/* Every other read: edges, held frames, drops, a full buffer. Kept out of
 * line, so that the usual read does not pay for its registers. */
static __attribute__((noinline)) bool feed_general(struct framer *f, size_t n, bool drained,
						   const struct framer_out *out)
{
	/* Here, types are not counted. */
	f->out_types = UINT32_MAX;
	f->partial_types = UINT32_MAX;
	struct input_event *b = f->buf;
	size_t end = f->n + n;
	size_t pos = 0;         /* start of the frame being scanned */
	size_t out_from = 0;    /* frames before this went out */
	size_t hold = SIZE_MAX; /* BUMP_LAST: the first frame held at the edge */
	bool resync = false;

	/* Edges set since the last feed come after those in force. */
	for (unsigned k = 0; k < f->n_pend; k++) {
		if (f->n_edge == FRAMER_EDGES) {
			if (f->held) { /* the oldest edge's frames are decided */
				resolve_held(f, 0, f->held);
				f->held = 0;
			} else {
				edge_done(f);
			}
		}
		f->edge[f->n_edge++] = f->pend[k];
	}
	f->n_pend = 0;
	if (f->held) {
		/* Frames held at the oldest edge are still waiting: they are
		 * whole frames at the front, scanned again below. */
		hold = 0;
		pos = f->held;
	}
	f->held = 0;

	for (size_t i = pos; i < end; i++) {
		if (b[i].type != EV_SYN) /* most events: one compare */
			continue;
		if (b[i].code == SYN_DROPPED) {
			/* The frames before it stand (an edge's held frames are
			 * decided with what is known); the partial one is void,
			 * and so is the frame being queued at the drop. */
			if (hold != SIZE_MAX)
				resolve_held(f, hold, pos);
			hold = SIZE_MAX;
			f->n_edge = 0;
			f->edge_seen = 0;
			emit(f, out_from, pos, out);
			out->dropped(out->data, &b[i]);
			resync = true;
			size_t j = i + 1;
			while (j < end && !is_report(&b[j]) && !is_drop(&b[j]))
				j++;
			if (j < end && is_drop(&b[j])) {
				/* Another drop (the kernel never queues two, but
				 * the rule holds): met on the next round. */
				i = j - 1;
				pos = out_from = j;
				continue;
			}
			i = j;
			pos = out_from = j + 1 < end ? j + 1 : end;
			continue;
		}
		if (b[i].code != SYN_REPORT)
			continue;
		/* A whole frame, b[pos..i]. */
		int64_t t = framer_stamp_us(&b[i]);
		while (f->n_edge && t > f->edge[0].us) {
			if (hold != SIZE_MAX) {
				resolve_held(f, hold, pos);
				hold = SIZE_MAX;
			} else {
				edge_done(f);
			}
		}
		if (f->n_edge && t == f->edge[0].us) {
			if (f->edge[0].mode == FRAMER_EDGE_KEEP_FIRST) {
				if (f->edge_seen++ >= f->edge[0].m)
					bump(f, &b[pos], i + 1 - pos);
			} else if (hold == SIZE_MAX) {
				hold = pos;
			}
		}
		pos = i + 1;
	}

	if (hold != SIZE_MAX && (drained || resync)) {
		resolve_held(f, hold, pos);
		hold = SIZE_MAX;
	}
	size_t keep_from = hold != SIZE_MAX ? hold : pos;
	emit(f, out_from, keep_from, out);
	if (resync) {
		/* Whatever follows the last whole frame after a drop is void:
		 * the resync reads the device's state instead. */
		f->n = 0;
		f->partial_types = 0;
		return true;
	}
	if (end > keep_from && keep_from > 0) /* usually nothing is left over */
		memmove(b, b + keep_from, (end - keep_from) * sizeof(*b));
	f->n = end - keep_from;
	f->held = hold != SIZE_MAX ? pos - hold : 0;
	if (f->n == FRAMER_MAX) {
		/* Full: frames held at an edge are decided now; a single frame
		 * longer than the buffer goes out in pieces. */
		if (f->held)
			resolve_held(f, 0, f->held);
		size_t upto = f->held ? f->held : f->n;
		emit(f, 0, upto, out);
		memmove(b, b + upto, (f->n - upto) * sizeof(*b));
		f->n -= upto;
		f->held = 0;
	}
	if (f->n == 0)
		f->partial_types = 0;
	return false;
}

bool framer_feed(struct framer *f, size_t n, bool drained, const struct framer_out *out)
{
	if (f->n_pend == 0 && f->n_edge == 0 && f->held == 0 && feed_no_edge(f, n, out))
		return false;
	return feed_general(f, n, drained, out);
}
