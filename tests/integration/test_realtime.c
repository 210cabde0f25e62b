/* The hop kvmswitch measures for every forwarded frame (status "latency")
 * against a real daemon: the figures count what was forwarded and agree
 * with what a reader sees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 10000 /* ms for what must happen */

#define CFG_GUEST KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\n"

/* ---- helpers ---- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *status(struct ksd *k)
{
	char *r = ksd_request(k, "status");
	ITEST_ASSERT_MSG(strncmp(r, "ok {", 4) == 0, "bad status reply: %.200s", r);
	return r;
}

/* The text of the value after "key": in s (from `from` on), up to the next
 * ',' or '}' (quotes removed), into buf; NULL if absent. */
static const char *value_of(const char *from, const char *key, char *buf, size_t len)
{
	char pat[96];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = from ? strstr(from, pat) : NULL;
	if (!p)
		return NULL;
	p += strlen(pat);
	if (*p == '"') {
		const char *e = strchr(p + 1, '"');
		snprintf(buf, len, "%.*s", e ? (int)(e - p - 1) : 0, p + 1);
	} else {
		snprintf(buf, len, "%.*s", (int)strcspn(p, ",}"), p);
	}
	return buf;
}

/* latency.targets[target, kind].window.key from status, or -1. */
static long long lat_value(const char *s, const char *target, const char *kind, const char *window, const char *key)
{
	char pat[160], buf[64];
	snprintf(pat, sizeof(pat), "{\"target\":\"%s\",\"kind\":\"%s\",", target, kind);
	const char *o = strstr(s, pat);
	const char *w = o ? strstr(o, window) : NULL;
	const char *v = w ? value_of(w, key, buf, sizeof(buf)) : NULL;
	return v ? atoll(v) : -1;
}

static void key_reaches(struct tdev *kbd, struct treader *r, unsigned code)
{
	treader_drain(r);
	tdev_tap(kbd, code);
	ITEST_ASSERT_MSG(treader_wait_event(r, EV_KEY, code, 1, T), "the key did not reach %s", treader_devnode(r));
	ITEST_ASSERT(treader_wait_event(r, EV_KEY, code, 0, T));
}

/* ---- the hop, in status ---- */

/* 200 mouse frames and one key tap through the guest target: status counts
 * each frame once, per kind, since start and in the last minute; its
 * percentiles are ordered and no larger than the round trips a reader of
 * the guest pointer measured for the same frames (the hop ends inside
 * them, give or take the reader's own wake-up). A reload keeps them. */
ITEST_TIMEOUT(hop_figures_in_status, 180)
{
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_GUEST);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(mouse), true, T));
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, T));
	struct treader *rp = ksd_open_vdev(k, "guest", "pointer");
	struct treader *rk = ksd_open_vdev(k, "guest", "keyboard");
	char *s = status(k);
	ITEST_ASSERT_MSG(lat_value(s, "guest", "pointer", "since_start", "frames") == -1,
			 "status has hop figures before any frame: %.600s", strstr(s, "\"latency\""));
	free(s);

	enum { N = 200 };
	int64_t max_rt = 0;
	for (int i = 0; i < N; i++) {
		int64_t t0 = now_ns();
		TDEV_FRAME(mouse, { EV_REL, REL_X, i % 2 ? 1 : -1 });
		ITEST_ASSERT_MSG(treader_wait_event(rp, EV_REL, REL_X, i % 2 ? 1 : -1, T), "frame %d did not arrive", i);
		int64_t rt = now_ns() - t0;
		max_rt = rt > max_rt ? rt : max_rt;
	}
	key_reaches(kbd, rk, KEY_A);

	s = status(k);
	const char *lat = strstr(s, "\"latency\":{");
	ITEST_ASSERT_MSG(lat != NULL, "no latency in status: %.300s", s);
	itest_log("status: %.700s", lat);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "since_start", "frames"), N);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "last_minute", "frames"), N);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "keyboard", "since_start", "frames"), 2);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "tablet", "since_start", "frames"), -1);
	long long p50 = lat_value(s, "guest", "pointer", "since_start", "p50_ns");
	long long p99 = lat_value(s, "guest", "pointer", "since_start", "p99_ns");
	long long p999 = lat_value(s, "guest", "pointer", "since_start", "p999_ns");
	long long max = lat_value(s, "guest", "pointer", "since_start", "max_ns");
	itest_log("hop p50 %lld ns, p99 %lld, p99.9 %lld, max %lld; the reader's largest round trip %lld ns", p50, p99,
		  p999, max, (long long)max_rt);
	ITEST_ASSERT_GT_INT(p50, 0);
	ITEST_ASSERT_LE_INT(p50, p99);
	ITEST_ASSERT_LE_INT(p99, p999);
	ITEST_ASSERT_LE_INT(p999, max);
	ITEST_ASSERT_LE_INT(max, max_rt + 20000000);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "last_minute", "max_ns"), max);
	free(s);

	/* A reload keeps the figures of a target that stays. */
	char *r = ksd_request(k, "reload");
	ITEST_ASSERT_STR_EQ(r, "ok reloaded");
	free(r);
	s = status(k);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "since_start", "frames"), N);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "since_start", "max_ns"), max);
	free(s);
}
