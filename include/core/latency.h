/* Latency of a hop: a fixed-size log-scale histogram of durations (ns),
 * since start and over the last minute. Pure: the shell passes every time in.
 * Recording touches no memory but the struct: no allocation, no syscall.
 *
 * Buckets: values below 16 ns have one each; above, every power of two is
 * cut into 16 equal buckets, so a bucket is at most 1/16 (6.25 %) of the
 * values it holds wide. Values of 2^35 ns (34 s) and more share the last
 * bucket. A percentile is the nearest-rank one (the smallest recorded value
 * with at least p of all values at or below it), reported as the highest
 * value of its bucket but never above the largest value recorded: it is at
 * most 6.25 % above the exact one, never below it. */
#ifndef KVMSWITCH_CORE_LATENCY_H
#define KVMSWITCH_CORE_LATENCY_H

#include <stdbool.h>
#include <stdint.h>

#define LATENCY_SUB_BITS 4
#define LATENCY_SUB (1u << LATENCY_SUB_BITS) /* buckets per power of two */
#define LATENCY_TOP_EXP 35                   /* 2^35 ns and more: the last bucket */
#define LATENCY_BUCKETS (LATENCY_SUB + (LATENCY_TOP_EXP - LATENCY_SUB_BITS) * LATENCY_SUB)

/* The last minute: six slots of ten seconds, the current one and the five
 * before it (so 50 to 60 s of history). */
#define LATENCY_SLOTS 6
#define LATENCY_SLOT_NS (10ull * 1000000000ull)

struct latency_slot {
	uint64_t epoch; /* now_ns / LATENCY_SLOT_NS when it was filled; UINT64_MAX:
			   empty */
	uint64_t count, max_ns;
	uint32_t bucket[LATENCY_BUCKETS];
};

struct latency {
	/* Slots retired: the slots hold everything since, so recording touches
	 * one slot only. */
	uint64_t count, max_ns;
	uint64_t bucket[LATENCY_BUCKETS];
	struct latency_slot slot[LATENCY_SLOTS];
	unsigned cur; /* the slot of [.., cur_until) */
	uint64_t cur_until;
};

struct latency_summary {
	uint64_t count;
	uint64_t p50_ns, p99_ns, p999_ns, max_ns;
};

/* Empties l; a zeroed struct latency is empty too. */
void latency_init(struct latency *l);
/* One duration, observed at now_ns (a monotonic clock; it selects the slot). */
void latency_record(struct latency *l, uint64_t now_ns, uint64_t value_ns);

/* Nothing recorded since latency_init. */
bool latency_empty(const struct latency *l);

/* Since latency_init. */
void latency_since_start(const struct latency *l, struct latency_summary *s);
/* The slots of the last minute as of now_ns. */
void latency_last_minute(const struct latency *l, uint64_t now_ns, struct latency_summary *s);

/* The bucket a value falls in, and the highest value of a bucket. */
unsigned latency_bucket(uint64_t value_ns);
uint64_t latency_bucket_top(unsigned bucket);

/* The nearest-rank percentile of `count` values in `bucket` (per million:
 * 990000 is p99), as above; 0 when count is 0. */
uint64_t latency_percentile(const uint64_t *bucket, uint64_t count, uint64_t max_ns, uint32_t per_million);

#endif
