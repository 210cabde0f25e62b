#include "latstats.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/latency.h"

struct latstats {
	/* Zeroed: empty. Pages of targets that never forward stay untouched. */
	struct latency (*lat)[VK_COUNT]; /* [CONFIG_MAX_TARGETS] */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct latstats *latstats_create(void)
{
	struct latstats *s = calloc(1, sizeof(*s));
	if (s && !(s->lat = calloc(CONFIG_MAX_TARGETS, sizeof(*s->lat)))) {
		free(s);
		return NULL;
	}
	return s;
}

void latstats_destroy(struct latstats *s)
{
	if (s)
		free(s->lat);
	free(s);
}

void latstats_remap(struct latstats *s, const int *map, size_t n_old)
{
	struct latency(*lat)[VK_COUNT] = calloc(CONFIG_MAX_TARGETS, sizeof(*lat));
	if (!lat) {
		/* Out of memory: the figures start again. */
		memset(s->lat, 0, CONFIG_MAX_TARGETS * sizeof(*s->lat));
		return;
	}
	for (size_t t = 0; t < n_old && t < CONFIG_MAX_TARGETS; t++)
		for (int k = 0; k < VK_COUNT; k++)
			if (map[t] >= 0 && map[t] < CONFIG_MAX_TARGETS && !latency_empty(&s->lat[t][k]))
				lat[map[t]][k] = s->lat[t][k];
	free(s->lat);
	s->lat = lat;
}

#ifndef KVMSWITCH_NO_LATSTATS
/* The hot path, kept short: callgrind counts what it adds per frame (make
 * bench). out_emit passes a valid target and kind. */
void latstats_record(struct latstats *s, int target, enum vkind kind, const struct input_event *ev, size_t n)
{
	const struct input_event *last = &ev[n - 1];
	uint64_t src = (uint64_t)last->input_event_sec * 1000000000u + (uint64_t)last->input_event_usec * 1000u;
	uint64_t now = now_ns();
	/* No source time, or one from another clock (a source without
	 * EVIOCSCLOCKID stamps CLOCK_REALTIME, far ahead of CLOCK_MONOTONIC). */
	if (src - 1 < now)
		latency_record(&s->lat[target][kind], now, now - src);
}
#endif

static void summary_json(struct json *j, const char *key, const struct latency_summary *m)
{
	json_key(j, key);
	json_object_begin(j);
	json_key(j, "frames");
	json_uint(j, m->count);
	json_key(j, "p50_ns");
	json_uint(j, m->p50_ns);
	json_key(j, "p99_ns");
	json_uint(j, m->p99_ns);
	json_key(j, "p999_ns");
	json_uint(j, m->p999_ns);
	json_key(j, "max_ns");
	json_uint(j, m->max_ns);
	json_object_end(j);
}

void latstats_json(const struct latstats *s, const struct config *cfg, struct json *j)
{
	uint64_t now = now_ns();
	json_key(j, "latency");
	json_object_begin(j);
	json_key(j, "hop");
	json_string(j, "source frame's kernel timestamp to the return of the write() that forwarded it");
	json_key(j, "window_s");
	json_uint(j, LATENCY_SLOTS * LATENCY_SLOT_NS / 1000000000u);
	json_key(j, "targets");
	json_array_begin(j);
	for (size_t t = 0; s && t < cfg->n_target && t < CONFIG_MAX_TARGETS; t++) {
		for (int k = 0; k < VK_COUNT; k++) {
			const struct latency *l = &s->lat[t][k];
			if (latency_empty(l))
				continue;
			struct latency_summary all, minute;
			latency_since_start(l, &all);
			latency_last_minute(l, now, &minute);
			json_object_begin(j);
			json_key(j, "target");
			json_string(j, cfg->target[t].name);
			json_key(j, "kind");
			json_string(j, vkind_name((enum vkind)k));
			summary_json(j, "since_start", &all);
			summary_json(j, "last_minute", &minute);
			json_object_end(j);
		}
	}
	json_array_end(j);
	json_object_end(j);
}
