/* The framer (core/framer.h): read() batches in, whole frames out. Each case
 * gives the reads as text and the exact calls the framer makes:
 *   "+a rel_x=1 ." is a frame (a key press, motion, SYN_REPORT);
 *   "@5" before an event stamps it and what follows at 5 µs;
 *   "!" is a SYN_DROPPED;
 * and the output is one "[...]" per frames() call, "DROP" per dropped(),
 * with "@T" shown where a stamp changes. */
#include <stdlib.h>

#include "core/framer.h"
#include "test.h"

static char out_text[4096];

static void put(const char *s)
{
	size_t l = strlen(out_text);
	snprintf(out_text + l, sizeof(out_text) - l, "%s%s", l ? " " : "", s);
}

static void on_frames(void *data, const struct input_event *ev, size_t n)
{
	int64_t *stamp = data;
	char buf[2048] = "[";
	for (size_t i = 0; i < n; i++) {
		char e[64];
		int64_t t = framer_stamp_us(&ev[i]);
		size_t l = strlen(buf);
		if (t != *stamp) {
			snprintf(buf + l, sizeof(buf) - l, "%s@%lld", l > 1 ? " " : "", (long long)t);
			*stamp = t;
			l = strlen(buf);
		}
		if (ev[i].type == EV_SYN && ev[i].code == SYN_REPORT)
			snprintf(e, sizeof(e), ".");
		else if (ev[i].type == EV_KEY)
			snprintf(e, sizeof(e), "%c%s", ev[i].value ? '+' : '-', test_code_name(EV_KEY, ev[i].code));
		else
			snprintf(e, sizeof(e), "%s=%d", test_code_name(ev[i].type, ev[i].code), ev[i].value);
		snprintf(buf + l, sizeof(buf) - l, "%s%s", l > 1 ? " " : "", e);
	}
	/* A long frame fills buf (snprintf cut it): no room for the "]" then. */
	size_t l = strlen(buf);
	snprintf(buf + l, sizeof(buf) - l, "]");
	put(buf);
}

static void on_dropped(void *data, const struct input_event *drop)
{
	put("DROP");
}

/* Parses "+a rel_x=1 . @5 -a . !" into events. */
static size_t parse(const char *text, struct input_event *ev, size_t max, int64_t *stamp)
{
	char copy[1024];
	size_t n = 0;
	snprintf(copy, sizeof(copy), "%s", text);
	for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok && n < max; tok = strtok_r(NULL, " ", &save)) {
		struct input_event e = { 0 };
		unsigned type, code;
		if (tok[0] == '@') {
			*stamp = atoll(tok + 1);
			continue;
		} else if (!strcmp(tok, ".")) {
			e.type = EV_SYN;
			e.code = SYN_REPORT;
		} else if (!strcmp(tok, "!")) {
			e.type = EV_SYN;
			e.code = SYN_DROPPED;
		} else if ((tok[0] == '+' || tok[0] == '-') && test_code_from_name(tok + 1, &type, &code) == 0) {
			e.type = (uint16_t)type;
			e.code = (uint16_t)code;
			e.value = tok[0] == '+';
		} else {
			char *eq = strchr(tok, '=');
			*eq = '\0';
			test_code_from_name(tok, &type, &code);
			e.type = (uint16_t)type;
			e.code = (uint16_t)code;
			e.value = atoi(eq + 1);
		}
		framer_set_stamp_us(&e, *stamp);
		ev[n++] = e;
	}
	return n;
}

struct run {
	struct framer f;
	int64_t in_stamp, out_stamp;
	struct framer_out out;
	int resyncs;
};

static struct run *run_new(void)
{
	struct run *r = calloc(1, sizeof(*r));
	framer_init(&r->f);
	r->out = (struct framer_out){ &r->out_stamp, on_frames, on_dropped };
	out_text[0] = '\0';
	return r;
}

/* One read() returning `text` (drained: the kernel's queue is empty after it).
 */
static void rd(struct run *r, const char *text, bool drained)
{
	size_t space;
	struct input_event *p = framer_space(&r->f, &space);
	size_t n = parse(text, p, space, &r->in_stamp);
	if (framer_feed(&r->f, n, drained, &r->out))
		r->resyncs++;
}

TEST(framer_whole_frames_go_out_in_one_call)
{
	struct run *r = run_new();
	rd(r, "+a . rel_x=1 rel_y=2 . -a .", true);
	CHECK_STR(out_text, "[+a . rel_x=1 rel_y=2 . -a .]");
	CHECK_INT(r->f.n, 0);
	free(r);
}

/* What the frames() calls were told of their event types, in order. */
static uint32_t types_seen[8];
static int n_types_seen;

static void on_frames_types(void *data, const struct input_event *ev, size_t n)
{
	const struct framer *f = data;
	if (n_types_seen < 8)
		types_seen[n_types_seen++] = f->out_types;
}

TEST(framer_out_types_tell_motion_from_keys)
{
	struct run *r = run_new();
	r->out = (struct framer_out){ &r->f, on_frames_types, on_dropped };
	n_types_seen = 0;
	/* Motion only: no key, no absolute axis (evdev_in skips libevdev). */
	rd(r, "rel_x=1 . rel_y=2 .", true);
	/* A key whose frame is split across two reads: named when it goes out. */
	rd(r, "rel_x=1 . +a", false);
	rd(r, "rel_x=3 .", true);
	CHECK_INT(n_types_seen, 3);
	CHECK_INT(types_seen[0], (1u << EV_REL) | (1u << EV_SYN));
	CHECK_INT(types_seen[1], (1u << EV_REL) | (1u << EV_SYN));
	CHECK_INT(types_seen[2], (1u << EV_KEY) | (1u << EV_REL) | (1u << EV_SYN));
	/* At a drop (the general path), every type is assumed: the frame
	 * before it and the one after the frame it voids. */
	rd(r, "rel_x=1 . ! rel_x=2 . rel_y=1 .", true);
	CHECK_INT(n_types_seen, 5);
	CHECK_INT(types_seen[3], UINT32_MAX);
	CHECK_INT(types_seen[4], UINT32_MAX);
	/* Then counted again. */
	rd(r, "rel_x=1 .", true);
	CHECK_INT(n_types_seen, 6);
	CHECK_INT(types_seen[5], (1u << EV_REL) | (1u << EV_SYN));
	free(r);
}

TEST(framer_partial_frame_at_the_end_waits)
{
	struct run *r = run_new();
	rd(r, "+a . rel_x=1", false);
	CHECK_STR(out_text, "[+a .]");
	CHECK_INT(r->f.n, 1);
	rd(r, "rel_y=2 . -a .", true);
	CHECK_STR(out_text, "[+a .] [rel_x=1 rel_y=2 . -a .]");
	free(r);
}

TEST(framer_frame_split_across_three_reads)
{
	struct run *r = run_new();
	rd(r, "+a +b", false);
	rd(r, "+c", false);
	CHECK_STR(out_text, "");
	rd(r, "+d . -a .", true);
	CHECK_STR(out_text, "[+a +b +c +d . -a .]");
	free(r);
}

TEST(framer_drop_in_the_middle)
{
	/* The frame before the drop stands; the partial one before it and the
	 * frame being queued at the drop are void; the frames after stand; the
	 * partial one at the end is void (a resync follows). */
	struct run *r = run_new();
	rd(r, "+a . rel_x=5 ! rel_x=7 . +b . -b . rel_x=9", false);
	CHECK_STR(out_text, "[+a .] DROP [+b . -b .]");
	CHECK_INT(r->resyncs, 1);
	CHECK_INT(r->f.n, 0);
	free(r);
}

TEST(framer_drop_at_the_end)
{
	struct run *r = run_new();
	rd(r, "+a . -a . !", false);
	CHECK_STR(out_text, "[+a . -a .] DROP");
	CHECK_INT(r->resyncs, 1);
	CHECK_INT(r->f.n, 0);
	/* Nothing is left over for the next read. */
	rd(r, "+c .", true);
	CHECK_STR(out_text, "[+a . -a .] DROP [+c .]");
	free(r);
}

TEST(framer_drop_right_after_a_partial_frame_from_the_last_read)
{
	struct run *r = run_new();
	rd(r, "+a . rel_x=1", false);
	rd(r, "! rel_x=3 . -a .", true);
	CHECK_STR(out_text, "[+a .] DROP [-a .]");
	free(r);
}

TEST(framer_frame_longer_than_the_buffer_goes_out_in_pieces)
{
	struct run *r = run_new();
	struct input_event *p;
	size_t space;
	p = framer_space(&r->f, &space);
	CHECK_INT(space, FRAMER_MAX);
	for (size_t i = 0; i < space; i++)
		p[i] = (struct input_event){ .type = EV_REL, .code = REL_X, .value = 1 };
	framer_feed(&r->f, space, false, &r->out);
	CHECK_INT(r->f.n, 0);
	CHECK(strncmp(out_text, "[rel_x=1 rel_x=1", 16) == 0);
	free(r);
}

TEST(framer_edge_keep_first)
{
	/* A grab at the 10 µs edge: of the frames stamped 10, the first two
	 * reached the host (before the grab); the third did not and moves to
	 * 11. Later stamps end the edge. */
	struct run *r = run_new();
	framer_set_edge(&r->f, FRAMER_EDGE_KEEP_FIRST, 10, 2);
	rd(r, "@9 +a . @10 -a . +b . -b . @12 +c .", true);
	CHECK_STR(out_text, "[@9 +a . @10 -a . +b . @11 -b . @12 +c .]");
	CHECK_INT(r->f.bumped, 1);
	free(r);
}

TEST(framer_edge_bump_last_waits_for_every_frame_at_the_edge)
{
	/* An ungrab at the 10 µs edge: of the frames stamped 10, the last one
	 * reached the host (after the ungrab). The framer holds them until it
	 * has seen them all: here the next read empties the queue. */
	struct run *r = run_new();
	framer_set_edge(&r->f, FRAMER_EDGE_BUMP_LAST, 10, 1);
	rd(r, "@8 +a . @10 -a . +b .", false);
	CHECK_STR(out_text, "[@8 +a .]");
	rd(r, "-b .", true);
	CHECK_STR(out_text, "[@8 +a .] [@10 -a . +b . @11 -b .]");
	CHECK_INT(r->f.bumped, 1);
	free(r);
}

TEST(framer_edge_bump_last_ends_at_a_later_stamp)
{
	struct run *r = run_new();
	framer_set_edge(&r->f, FRAMER_EDGE_BUMP_LAST, 10, 2);
	rd(r, "@10 +a . -a . +b . @14 -b .", false);
	CHECK_STR(out_text, "[@10 +a . @11 -a . +b . @14 -b .]");
	CHECK_INT(r->f.bumped, 2);
	CHECK_INT(r->f.n, 0);
	free(r);
}

TEST(framer_edge_applies_from_the_next_feed)
{
	/* Set from inside an output callback (a grab at the end of a batch):
	 * the frames of the read being handed out are older than the edge. */
	struct run *r = run_new();
	rd(r, "@10 +a .", true);
	framer_set_edge(&r->f, FRAMER_EDGE_KEEP_FIRST, 10, 0);
	rd(r, "@10 -a .", true);
	CHECK_STR(out_text, "[@10 +a .] [@11 -a .]");
	free(r);
}
