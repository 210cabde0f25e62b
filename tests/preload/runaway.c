/* A test-only fault: LD_PRELOAD'ed into kvmswitch by test_realtime, this
 * epoll_wait() makes the event loop run away: while $KVMSWITCH_RUNAWAY is
 * set, its first call made at a real-time policy spins without sleeping, as
 * a loop stuck in a bug would, until the thread is no longer real-time (the
 * RLIMIT_RTTIME bound) or 10 s have passed; then it says how long on stderr
 * and waits as usual. Built as $(B)/preload/runaway.so; never part of the
 * program (docs/SECURITY.md). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

static int realtime(void)
{
	int p = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
	return p == SCHED_FIFO || p == SCHED_RR;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
	static int (*real)(int, struct epoll_event *, int, int);
	static int done;
	if (!real)
		real = (int (*)(int, struct epoll_event *, int, int))dlsym(RTLD_NEXT, "epoll_wait");
	if (!done && getenv("KVMSWITCH_RUNAWAY") && realtime()) {
		done = 1;
		long long t0 = now_ms(), ms = 0;
		while (realtime() && ms < 10000) {
			for (volatile int i = 0; i < 100000; i++)
				;
			ms = now_ms() - t0;
		}
		fprintf(stderr, "runaway shim: the event loop spun for %lld ms at a real-time policy\n", ms);
	}
	return real(epfd, events, max, timeout);
}
