#include "core/latency.h"

#include <stdbool.h>
#include <string.h>

static void slot_clear(struct latency_slot *s, uint64_t epoch)
{
	memset(s, 0, sizeof(*s));
	s->epoch = epoch;
}

void latency_init(struct latency *l)
{
	/* cur_until 0: the first record picks its slot. */
	memset(l, 0, sizeof(*l));
}

unsigned latency_bucket(uint64_t v)
{
	if (v < LATENCY_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 2^e <= v < 2^(e+1), e >= SUB_BITS */
	if (e >= LATENCY_TOP_EXP)
		return LATENCY_BUCKETS - 1;
	unsigned sub = (unsigned)(v >> (e - LATENCY_SUB_BITS)) & (LATENCY_SUB - 1);
	return LATENCY_SUB + (e - LATENCY_SUB_BITS) * LATENCY_SUB + sub;
}

uint64_t latency_bucket_top(unsigned b)
{
	if (b < LATENCY_SUB)
		return b;
	if (b >= LATENCY_BUCKETS)
		b = LATENCY_BUCKETS - 1;
	unsigned e = (b - LATENCY_SUB) / LATENCY_SUB + LATENCY_SUB_BITS;
	uint64_t sub = (b - LATENCY_SUB) % LATENCY_SUB;
	uint64_t width = 1ull << (e - LATENCY_SUB_BITS);
	return (1ull << e) + sub * width + width - 1;
}

/* The slot for now_ns once the current one's ten seconds are over: the
 * one its epoch maps to, whose content of a minute ago (if any) is first
 * added to what is retired. */
static struct latency_slot *next_slot(struct latency *l, uint64_t now_ns)
{
	uint64_t epoch = now_ns / LATENCY_SLOT_NS;
	l->cur = (unsigned)(epoch % LATENCY_SLOTS);
	l->cur_until = (epoch + 1) * LATENCY_SLOT_NS;
	struct latency_slot *s = &l->slot[l->cur];
	if (s->epoch == epoch + 1)
		return s;
	if (s->epoch) {
		l->count += s->count;
		if (s->max_ns > l->max_ns)
			l->max_ns = s->max_ns;
		for (unsigned b = 0; b < LATENCY_BUCKETS; b++)
			l->bucket[b] += s->bucket[b];
	}
	slot_clear(s, epoch + 1);
	return s;
}

/* The hot path: one compare, one bucket, three stores. now_ns must not go
 * back by more than the current slot (a monotonic clock does not). */
void latency_record(struct latency *l, uint64_t now_ns, uint64_t v)
{
	struct latency_slot *s = now_ns < l->cur_until ? &l->slot[l->cur] : next_slot(l, now_ns);
	s->count++;
	s->bucket[latency_bucket(v)]++;
	if (v > s->max_ns)
		s->max_ns = v;
}

uint64_t latency_percentile(const uint64_t *bucket, uint64_t count, uint64_t max_ns, uint32_t per_million)
{
	if (count == 0)
		return 0;
	/* rank = ceil(count * p), at least 1; count * 10^6 fits while count < 1.8e13.
	 */
	uint64_t rank = (count * per_million + 999999u) / 1000000u;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < LATENCY_BUCKETS; b++) {
		seen += bucket[b];
		if (seen >= rank) {
			uint64_t top = latency_bucket_top(b);
			return top < max_ns ? top : max_ns;
		}
	}
	return max_ns;
}

static void summarize(const uint64_t *bucket, uint64_t count, uint64_t max_ns, struct latency_summary *s)
{
	s->count = count;
	s->max_ns = max_ns;
	s->p50_ns = latency_percentile(bucket, count, max_ns, 500000);
	s->p99_ns = latency_percentile(bucket, count, max_ns, 990000);
	s->p999_ns = latency_percentile(bucket, count, max_ns, 999000);
}

/* The retired counts plus the slots with `epoch` in [from, to] (1-based
 * epochs; from 1 takes every live slot). */
static void collect(const struct latency *l, bool retired, uint64_t from, uint64_t to, struct latency_summary *s)
{
	uint64_t sum[LATENCY_BUCKETS];
	uint64_t count = 0, max_ns = 0;
	if (retired) {
		memcpy(sum, l->bucket, sizeof(sum));
		count = l->count;
		max_ns = l->max_ns;
	} else {
		memset(sum, 0, sizeof(sum));
	}
	for (unsigned i = 0; i < LATENCY_SLOTS; i++) {
		const struct latency_slot *sl = &l->slot[i];
		if (sl->epoch == 0 || sl->epoch < from || sl->epoch > to)
			continue;
		count += sl->count;
		if (sl->max_ns > max_ns)
			max_ns = sl->max_ns;
		for (unsigned b = 0; b < LATENCY_BUCKETS; b++)
			sum[b] += sl->bucket[b];
	}
	summarize(sum, count, max_ns, s);
}

bool latency_empty(const struct latency *l)
{
	/* Recording starts with a slot; a retired one leaves its count. */
	return l->count == 0 && l->cur_until == 0;
}

void latency_since_start(const struct latency *l, struct latency_summary *s)
{
	collect(l, true, 1, UINT64_MAX, s);
}

void latency_last_minute(const struct latency *l, uint64_t now_ns, struct latency_summary *s)
{
	/* The current epoch and the five before it; nothing from later (a
	 * now_ns older than the newest record). */
	uint64_t epoch = now_ns / LATENCY_SLOT_NS + 1;
	collect(l, false, epoch >= LATENCY_SLOTS ? epoch - LATENCY_SLOTS + 1 : 1, epoch, s);
}
