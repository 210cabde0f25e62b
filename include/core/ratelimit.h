/* Token buckets per source (an IP address, a vsock CID: opaque bytes), for
 * the network listener. Pure: the caller passes the time.
 *
 * A bucket holds up to `per_minute` tokens and refills at `per_minute` per
 * minute. A source without a bucket starts full. The table is fixed; when it
 * is full, a bucket that has refilled completely (the same as a fresh one) is
 * reused, and if there is none, new sources share one overflow bucket: many
 * sources cannot buy fresh tokens by pushing others out. */
#ifndef KVMSWITCH_CORE_RATELIMIT_H
#define KVMSWITCH_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_SLOTS 64
#define RATELIMIT_KEY_MAX 20 /* an IPv6 address + 4 */

struct ratelimit_bucket {
	bool used;
	uint8_t key[RATELIMIT_KEY_MAX];
	size_t key_len;
	uint64_t milli;   /* tokens * 60000 (so a refill per ms is per_minute) */
	uint64_t last_ms; /* when milli was last brought up to date */
};

struct ratelimit {
	uint32_t per_minute;
	struct ratelimit_bucket slot[RATELIMIT_SLOTS];
	struct ratelimit_bucket overflow;
};

void ratelimit_init(struct ratelimit *rl, uint32_t per_minute);
/* A new rate; buckets keep what they have, up to the new capacity. */
void ratelimit_set_rate(struct ratelimit *rl, uint32_t per_minute);
/* Takes one token for `key`: true if there was one. */
bool ratelimit_take(struct ratelimit *rl, const void *key, size_t key_len, uint64_t now_ms);
/* Gives one back (an attempt that turned out well), up to the capacity. */
void ratelimit_refund(struct ratelimit *rl, const void *key, size_t key_len, uint64_t now_ms);
/* Whole tokens `key` has now (for tests and logs). */
uint32_t ratelimit_tokens(struct ratelimit *rl, const void *key, size_t key_len, uint64_t now_ms);

#endif
