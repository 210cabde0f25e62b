/* The shell's clock for deadlines and timeouts: CLOCK_MONOTONIC in
 * milliseconds. (The core reads no clock: the shell passes this in.) */
#ifndef KVMSWITCH_MONOTIME_H
#define KVMSWITCH_MONOTIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t monotime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
