#include <stdlib.h>

#include "core/latency.h"
#include "test.h"

#define MS 1000000ull
#define S 1000000000ull

/* Exact below 32 ns, then 16 buckets per power of two. */
TEST(latency_bucket_edges)
{
	CHECK_INT(latency_bucket(0), 0);
	CHECK_INT(latency_bucket(15), 15);
	CHECK_INT(latency_bucket(16), 16);
	CHECK_INT(latency_bucket(31), 31);
	CHECK_INT(latency_bucket(32), 32);
	CHECK_INT(latency_bucket(33), 32);
	CHECK_INT(latency_bucket(34), 33);
	CHECK_INT(latency_bucket_top(32), 33);
	CHECK_INT(latency_bucket_top(33), 35);
	/* 1 ms = 2^19 + 476576: e = 19, bucket width 2^15, sub 14. */
	CHECK_INT(latency_bucket(1000000), 16 + 15 * 16 + 14);
	CHECK_INT(latency_bucket_top(16 + 15 * 16 + 14), 1015807);
	/* 2^35 ns and more share the last bucket. */
	CHECK_INT(latency_bucket((1ull << 35) - 1), LATENCY_BUCKETS - 1);
	CHECK_INT(latency_bucket(1ull << 35), LATENCY_BUCKETS - 1);
	CHECK_INT(latency_bucket(UINT64_MAX), LATENCY_BUCKETS - 1);
	CHECK_INT(latency_bucket_top(LATENCY_BUCKETS - 1), (1ull << 35) - 1);
}

/* Every value lies in its bucket, whose top is at most 1/16 above it; the
 * buckets follow each other without gap or overlap. */
TEST(latency_buckets_cover_with_bounded_error)
{
	for (unsigned b = 1; b < LATENCY_BUCKETS; b++) {
		CHECK_INT(latency_bucket(latency_bucket_top(b - 1) + 1), b);
		CHECK_INT(latency_bucket(latency_bucket_top(b)), b);
	}
	for (uint64_t v = 1; v < (1ull << 35); v = v * 21 / 20 + 1) {
		uint64_t top = latency_bucket_top(latency_bucket(v));
		CHECK(top >= v);
		CHECK((top - v) * 16 <= v);
	}
}

/* 1000 hops of 1, 2, ..., 1000 µs recorded in one second: the exact
 * nearest-rank p50 is 500 µs, p99 990 µs, p99.9 999 µs. */
TEST(latency_percentiles_of_a_known_input)
{
	struct latency *l = malloc(sizeof(*l));
	CHECK(l);
	latency_init(l);
	for (uint64_t i = 1; i <= 1000; i++)
		latency_record(l, 100 * S + i * MS, i * 1000);
	struct latency_summary s;
	latency_since_start(l, &s);
	CHECK_INT(s.count, 1000);
	CHECK_INT(s.max_ns, 1000000);
	/* 500000 is in [491520, 507903]: its top. */
	CHECK_INT(s.p50_ns, 507903);
	/* 990000 and 999000 are in [983040, 1015807], with the maximum:
	 * never above the largest value recorded. */
	CHECK_INT(s.p99_ns, 1000000);
	CHECK_INT(s.p999_ns, 1000000);
	free(l);
}

/* Nearest rank on a small set: 10 values, 9 of 10 µs and one of 5 ms.
 * p50 and p99 differ: p99 needs ceil(9.9) = 10 values, the slow one. */
TEST(latency_percentiles_nearest_rank)
{
	struct latency *l = malloc(sizeof(*l));
	CHECK(l);
	latency_init(l);
	for (int i = 0; i < 9; i++)
		latency_record(l, 1 * S, 10000);
	latency_record(l, 1 * S, 5 * MS);
	struct latency_summary s;
	latency_since_start(l, &s);
	CHECK_INT(s.count, 10);
	/* 10000 = 2^13 + 1808: width 2^9, sub 3: [9728, 10239]. */
	CHECK_INT(s.p50_ns, 10239);
	CHECK_INT(s.p99_ns, 5 * MS);
	CHECK_INT(s.p999_ns, 5 * MS);
	CHECK_INT(s.max_ns, 5 * MS);
	/* With 100 values, p99 is the 99th: the fast ones. */
	for (int i = 0; i < 90; i++)
		latency_record(l, 1 * S, 10000);
	latency_since_start(l, &s);
	CHECK_INT(s.count, 100);
	CHECK_INT(s.p99_ns, 10239);
	CHECK_INT(s.p999_ns, 5 * MS);
	free(l);
}

TEST(latency_empty_and_huge)
{
	struct latency *l = malloc(sizeof(*l));
	CHECK(l);
	latency_init(l);
	CHECK(latency_empty(l));
	struct latency_summary s;
	latency_since_start(l, &s);
	CHECK_INT(s.count, 0);
	CHECK_INT(s.p50_ns, 0);
	CHECK_INT(s.max_ns, 0);
	latency_last_minute(l, 5 * S, &s);
	CHECK_INT(s.count, 0);
	CHECK_INT(s.p99_ns, 0);
	/* A stall of 100 s: counted in the last bucket, its maximum exact. */
	latency_record(l, 200 * S, 100 * S);
	CHECK(!latency_empty(l));
	latency_since_start(l, &s);
	CHECK_INT(s.count, 1);
	CHECK_INT(s.max_ns, 100 * S);
	CHECK_INT(s.p50_ns, (1ull << 35) - 1);
	free(l);
}

/* The last minute is the current 10-second slot and the five before it;
 * since start keeps everything. */
TEST(latency_last_minute_window)
{
	struct latency *l = malloc(sizeof(*l));
	CHECK(l);
	latency_init(l);
	/* 100 hops of 1 ms at t = 1000 s (slot 100), 100 of 2 ms at t = 1055 s
	 * (slot 105). */
	for (int i = 0; i < 100; i++)
		latency_record(l, 1000 * S + (uint64_t)i * MS, 1 * MS);
	for (int i = 0; i < 100; i++)
		latency_record(l, 1055 * S + (uint64_t)i * MS, 2 * MS);
	struct latency_summary s;
	latency_last_minute(l, 1059 * S, &s);
	CHECK_INT(s.count, 200);
	CHECK_INT(s.p50_ns, latency_bucket_top(latency_bucket(1 * MS)));
	CHECK_INT(s.max_ns, 2 * MS);
	/* At 1060 s slot 100 is six slots old: only the 2 ms hops remain. */
	latency_last_minute(l, 1060 * S, &s);
	CHECK_INT(s.count, 100);
	CHECK_INT(s.p50_ns, 2 * MS);
	CHECK_INT(s.max_ns, 2 * MS);
	/* At 1120 s nothing is left of the last minute. */
	latency_last_minute(l, 1120 * S, &s);
	CHECK_INT(s.count, 0);
	CHECK_INT(s.max_ns, 0);
	/* A hop at 1060 s reuses slot 100's place: the old counts are gone
	 * from it, not added. */
	latency_record(l, 1060 * S, 3 * MS);
	latency_last_minute(l, 1060 * S, &s);
	CHECK_INT(s.count, 101);
	CHECK_INT(s.max_ns, 3 * MS);
	CHECK_INT(l->slot[(1060 / 10) % LATENCY_SLOTS].count, 1);
	/* Since start: all 201. */
	latency_since_start(l, &s);
	CHECK_INT(s.count, 201);
	CHECK_INT(s.max_ns, 3 * MS);
	free(l);
}

/* A slot left alone for exactly a minute is emptied when its place comes
 * round again, even when the records before were in the same slot index. */
TEST(latency_slot_reused_after_a_minute)
{
	/* Zeroed memory is an empty histogram (the shell's calloc). */
	struct latency *l = calloc(1, sizeof(*l));
	CHECK(l);
	latency_record(l, 10 * S, 7 * MS);
	latency_record(l, 70 * S, 1 * MS); /* slot 7 % 6 == slot 1 % 6 */
	struct latency_summary s;
	latency_last_minute(l, 70 * S, &s);
	CHECK_INT(s.count, 1);
	CHECK_INT(s.max_ns, 1 * MS);
	free(l);
}

/* Twenty-odd minutes of records, one every 7 s: every slot is retired many
 * times over, and nothing is lost from since-start or doubled. */
TEST(latency_since_start_survives_rotation)
{
	struct latency *l = calloc(1, sizeof(*l));
	CHECK(l);
	for (uint64_t i = 1; i <= 200; i++)
		latency_record(l, i * 7 * S, i * MS);
	CHECK(!latency_empty(l));
	struct latency_summary s;
	latency_since_start(l, &s);
	CHECK_INT(s.count, 200);
	CHECK_INT(s.max_ns, 200 * MS);
	CHECK_INT(s.p50_ns, latency_bucket_top(latency_bucket(100 * MS)));
	/* The last minute at 1400 s: slots 135..140, records 193..200. */
	latency_last_minute(l, 1400 * S, &s);
	CHECK_INT(s.count, 8);
	CHECK_INT(s.max_ns, 200 * MS);
	/* 196 ms shares its bucket with 200 ms, the maximum. */
	CHECK_INT(latency_bucket(196 * MS), latency_bucket(200 * MS));
	CHECK_INT(s.p50_ns, 200 * MS);
	free(l);
}
