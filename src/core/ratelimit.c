#include "core/ratelimit.h"

#include <string.h>

#define MS_PER_MIN 60000u

static uint64_t capacity(const struct ratelimit *rl)
{
	return (uint64_t)rl->per_minute * MS_PER_MIN;
}

void ratelimit_init(struct ratelimit *rl, uint32_t per_minute)
{
	memset(rl, 0, sizeof(*rl));
	rl->per_minute = per_minute ? per_minute : 1;
	rl->overflow.used = true;
	rl->overflow.milli = capacity(rl);
}

void ratelimit_set_rate(struct ratelimit *rl, uint32_t per_minute)
{
	rl->per_minute = per_minute ? per_minute : 1;
	uint64_t cap = capacity(rl);
	for (size_t i = 0; i < RATELIMIT_SLOTS; i++)
		if (rl->slot[i].milli > cap)
			rl->slot[i].milli = cap;
	if (rl->overflow.milli > cap)
		rl->overflow.milli = cap;
}

static void refill(const struct ratelimit *rl, struct ratelimit_bucket *b, uint64_t now)
{
	uint64_t cap = capacity(rl);
	if (now <= b->last_ms)
		return;
	uint64_t add = (now - b->last_ms) * rl->per_minute;
	b->milli = b->milli >= cap || add >= cap - b->milli ? cap : b->milli + add;
	b->last_ms = now;
}

/* The bucket of `key`, made (full) if it has none. */
static struct ratelimit_bucket *bucket(struct ratelimit *rl, const void *key, size_t len, uint64_t now)
{
	struct ratelimit_bucket *reuse = NULL;
	if (len > RATELIMIT_KEY_MAX)
		len = RATELIMIT_KEY_MAX;
	for (size_t i = 0; i < RATELIMIT_SLOTS; i++) {
		struct ratelimit_bucket *b = &rl->slot[i];
		if (!b->used) {
			if (!reuse)
				reuse = b;
			continue;
		}
		refill(rl, b, now);
		if (b->key_len == len && memcmp(b->key, key, len) == 0)
			return b;
		if (!reuse && b->milli == capacity(rl))
			reuse = b; /* indistinguishable from a fresh bucket */
	}
	if (!reuse) {
		refill(rl, &rl->overflow, now);
		return &rl->overflow;
	}
	reuse->used = true;
	memcpy(reuse->key, key, len);
	reuse->key_len = len;
	reuse->milli = capacity(rl);
	reuse->last_ms = now;
	return reuse;
}

bool ratelimit_take(struct ratelimit *rl, const void *key, size_t key_len, uint64_t now_ms)
{
	struct ratelimit_bucket *b = bucket(rl, key, key_len, now_ms);
	if (b->milli < MS_PER_MIN)
		return false;
	b->milli -= MS_PER_MIN;
	return true;
}

void ratelimit_refund(struct ratelimit *rl, const void *key, size_t key_len, uint64_t now_ms)
{
	struct ratelimit_bucket *b = bucket(rl, key, key_len, now_ms);
	uint64_t cap = capacity(rl);
	b->milli = b->milli + MS_PER_MIN > cap ? cap : b->milli + MS_PER_MIN;
}

uint32_t ratelimit_tokens(struct ratelimit *rl, const void *key, size_t key_len, uint64_t now_ms)
{
	return (uint32_t)(bucket(rl, key, key_len, now_ms)->milli / MS_PER_MIN);
}
