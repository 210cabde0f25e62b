/* libFuzzer harness for the framer (core/framer.h): a stream of frames, cut
 * into reads at random points, with SYN_DROPPED and grab edges in between.
 *
 * Checked against a plain model of the rules (frames in equal frames out):
 *  - every frame that comes out is one that went in, whole, in order, and
 *    exactly the frames the rules keep come out (none lost, none invented,
 *    none twice): every frame except the partial frame before a drop, the
 *    frame being queued at it, and what follows the last whole frame of the
 *    read with the drop;
 *  - dropped() comes once per SYN_DROPPED, after the frames before it;
 *  - a frame's stamp comes out as it went in, or a microsecond later per
 *    edge it met (edges are at growing stamps);
 *  - out_types names every event type of the frames handed over.
 *
 * Input: byte 0 seeds nothing; then ops:
 *   0-3   a frame: (b >> 2) & 7 events (plus its SYN_REPORT), stamped at
 *         the stream's clock, which moves on when b & 32 (else the frame
 *         shares the previous stamp)
 *   4     a SYN_DROPPED into the stream
 *   5     a read: the next byte * 2 events (at most the space), drained
 *         when the byte is odd and the read empties what is written
 *   6     an edge at the current stamp: mode and m from the next byte
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/framer.h"

#define STREAM_MAX 4096
#define FRAMES_MAX 1024

static void die(const char *what)
{
	fprintf(stderr, "fuzz_framer: %s\n", what);
	abort();
}

/* The stream written by the "device": events, and for each event the frame
 * it belongs to (-1: a SYN_DROPPED). */
static struct input_event stream[STREAM_MAX];
static int frame_of[STREAM_MAX];
static size_t n_stream, read_pos;
static int n_frames;
static size_t frame_len[FRAMES_MAX], frame_start[FRAMES_MAX];
static int64_t frame_stamp[FRAMES_MAX];

/* What the model expects, in order, and what came out. */
static int expect[FRAMES_MAX], n_expect;
static int got[FRAMES_MAX], n_got;
static int drops_expected, drops_got;
static bool saw_drop_in_read;

/* Model state across reads: the frame being assembled and whether we are
 * skipping the frame queued at a drop. */
static int model_cur = -1;
static size_t model_cur_len;
static bool model_skip;

/* Stamps an edge was set at: only frames stamped there may move. */
static int64_t edges[STREAM_MAX];
static int n_edges;

static bool is_edge(int64_t t)
{
	for (int i = 0; i < n_edges; i++)
		if (edges[i] == t)
			return true;
	return false;
}

static void on_frames(void *data, const struct input_event *ev, size_t n)
{
	const struct framer *f = data;
	for (size_t i = 0; i < n; i++)
		if (!(f->out_types & 1u << (ev[i].type & 31)))
			die("out_types lacks a type of the frames handed over");
	size_t k = 0;
	while (k < n) {
		/* A frame's events carry its id in MSC_SCAN (first event). */
		if (ev[k].type != EV_MSC || ev[k].code != MSC_SCAN)
			die("a frame does not start with its id");
		int id = ev[k].value;
		if (id < 0 || id >= n_frames)
			die("a frame that was never written");
		if (n - k < frame_len[id])
			die("a frame cut short");
		int64_t t = framer_stamp_us(&ev[k]);
		for (size_t j = 0; j < frame_len[id]; j++) {
			if (framer_stamp_us(&ev[k + j]) != t)
				die("a frame with two stamps");
			const struct input_event *src = &stream[frame_start[id] + j];
			if (src->type != ev[k + j].type || src->code != ev[k + j].code || src->value != ev[k + j].value)
				die("a frame's events changed");
		}
		/* Moved on by a microsecond per edge it met (edges at
		 * consecutive microseconds may move a frame twice). */
		for (int64_t u = frame_stamp[id]; u < t; u++)
			if (!is_edge(u))
				die("a stamp moved without an edge");
		if (t < frame_stamp[id])
			die("a stamp moved back");
		if (ev[k + frame_len[id] - 1].type != EV_SYN || ev[k + frame_len[id] - 1].code != SYN_REPORT)
			die("a frame without its SYN_REPORT");
		if (n_got >= FRAMES_MAX)
			die("too many frames");
		got[n_got++] = id;
		k += frame_len[id];
	}
}

static void on_dropped(void *data, const struct input_event *drop)
{
	drops_got++;
}

/* The model of one read of stream[from, to). */
static void model_read(size_t from, size_t to)
{
	bool dropped = false;
	for (size_t i = from; i < to; i++) {
		const struct input_event *e = &stream[i];
		if (frame_of[i] < 0) {
			drops_expected++;
			dropped = true;
			model_cur = -1; /* the partial frame is void */
			model_skip = true;
			continue;
		}
		if (model_skip) {
			if (e->type == EV_SYN && e->code == SYN_REPORT)
				model_skip = false;
			continue;
		}
		if (model_cur != frame_of[i]) {
			model_cur = frame_of[i];
			model_cur_len = 0;
		}
		model_cur_len++;
		if (e->type == EV_SYN && e->code == SYN_REPORT) {
			expect[n_expect++] = model_cur;
			model_cur = -1;
		}
	}
	if (dropped) {
		/* What follows the last whole frame is void: a resync follows. */
		model_cur = -1;
		model_skip = false;
	}
	saw_drop_in_read = dropped;
}

/* After a read with a SYN_DROPPED the shell resyncs, and libevdev drains
 * the kernel's queue: the rest of a frame the read ended in is gone. */
static void drain_after_drop(void)
{
	if (!saw_drop_in_read)
		return;
	saw_drop_in_read = false;
	while (read_pos < n_stream && read_pos > 0 && frame_of[read_pos] >= 0 &&
	       frame_of[read_pos] == frame_of[read_pos - 1])
		read_pos++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct framer f;
	framer_init(&f);
	n_stream = read_pos = 0;
	n_frames = n_expect = n_got = drops_expected = drops_got = n_edges = 0;
	model_cur = -1;
	model_skip = false;
	int64_t clock = 1000;
	const struct framer_out out = { &f, on_frames, on_dropped };
	const uint8_t *p = data, *end = data + size;
	if (p < end)
		p++;
	while (p < end) {
		uint8_t b = *p++, op = b & 7;
		if (op <= 3) {
			size_t len = 1 + ((b >> 2) & 7) + 1;
			if (n_frames >= FRAMES_MAX || n_stream + len > STREAM_MAX)
				break;
			if (b & 32)
				clock += 1 + (b >> 6);
			int id = n_frames++;
			frame_len[id] = len;
			frame_start[id] = n_stream;
			frame_stamp[id] = clock;
			for (size_t j = 0; j < len; j++) {
				struct input_event e;
				if (j == 0)
					e = (struct input_event){ .type = EV_MSC, .code = MSC_SCAN, .value = id };
				else if (j + 1 == len)
					e = (struct input_event){ .type = EV_SYN, .code = SYN_REPORT };
				else /* motion, and now and then a key (out_types) */
					e = (struct input_event){ .type = (j + b) % 3 ? EV_REL : EV_KEY,
								  .code = REL_X,
								  .value = (int)(j + b) };
				framer_set_stamp_us(&e, clock);
				stream[n_stream] = e;
				frame_of[n_stream++] = id;
			}
		} else if (op == 4) {
			if (n_stream >= STREAM_MAX)
				break;
			struct input_event e = { .type = EV_SYN, .code = SYN_DROPPED };
			framer_set_stamp_us(&e, clock);
			stream[n_stream] = e;
			frame_of[n_stream++] = -1;
		} else if (op == 5 || op == 6) {
			uint8_t arg = p < end ? *p++ : 0;
			if (op == 6) {
				/* Grab changes follow each other: their edges are
				 * at growing stamps (the shell spins past one). */
				if (n_edges && edges[n_edges - 1] >= clock)
					continue;
				enum framer_edge mode = arg & 1 ? FRAMER_EDGE_BUMP_LAST : FRAMER_EDGE_KEEP_FIRST;
				framer_set_edge(&f, mode, clock, (arg >> 1) & 3);
				if (n_edges < STREAM_MAX)
					edges[n_edges++] = clock;
				continue;
			}
			size_t space;
			struct input_event *dst = framer_space(&f, &space);
			size_t want = (size_t)arg * 2, avail = n_stream - read_pos;
			size_t n = want < space ? want : space;
			if (n > avail)
				n = avail;
			bool drained = (arg & 1) && n == avail && n < space;
			memcpy(dst, stream + read_pos, n * sizeof(*dst));
			model_read(read_pos, read_pos + n);
			read_pos += n;
			framer_feed(&f, n, drained, &out);
			drain_after_drop();
		}
	}
	/* Read the rest, then an empty read that says the queue is empty. */
	while (read_pos < n_stream) {
		size_t space;
		struct input_event *dst = framer_space(&f, &space);
		size_t n = n_stream - read_pos < space ? n_stream - read_pos : space;
		memcpy(dst, stream + read_pos, n * sizeof(*dst));
		model_read(read_pos, read_pos + n);
		read_pos += n;
		framer_feed(&f, n, read_pos == n_stream, &out);
		drain_after_drop();
	}
	framer_feed(&f, 0, true, &out);
	if (drops_got != drops_expected)
		die("dropped() does not match the SYN_DROPPEDs");
	if (n_got != n_expect)
		die("a different number of frames came out");
	for (int i = 0; i < n_got; i++)
		if (got[i] != expect[i])
			die("frames out of order, lost or invented");
	return 0;
}
