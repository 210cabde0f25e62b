#include "realtime.h"

#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

/* How long a call to RealtimeKit may take: it asks polkit, which can take
 * seconds on a slow machine (the test VM). */
#define RTKIT_TIMEOUT_US (10 * 1000000)

volatile sig_atomic_t realtime_dropped;

static struct {
	enum realtime_mode mode;
	bool started;
	pid_t tid;              /* the event loop's thread */
	const char *granted_by; /* "CAP_SYS_NICE", "RLIMIT_RTPRIO", "RealtimeKit", or NULL */
	char refused[384];      /* why there is no real-time priority */
	char memory[192];       /* what mlockall did */
	bool memory_locked;
	bool raised;    /* between realtime_enter and realtime_leave */
	bool announced; /* the log said what the loop got */
	uint64_t rttime_soft_us;
} rt;

static bool has_capability(unsigned cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

static const char *policy_name(int policy)
{
	switch (policy & ~SCHED_RESET_ON_FORK) {
	case SCHED_OTHER:
		return "SCHED_OTHER";
	case SCHED_FIFO:
		return "SCHED_FIFO";
	case SCHED_RR:
		return "SCHED_RR";
	case SCHED_BATCH:
		return "SCHED_BATCH";
	case SCHED_IDLE:
		return "SCHED_IDLE";
	}
	return "?";
}

/* SIGXCPU: the loop ran REALTIME_RTTIME_SOFT_US without sleeping. Only the
 * loop's thread is real-time, and only it takes the signal (the libvirt
 * worker blocks every signal; the others go to the signalfd). Async-signal
 * safe: one system call and a flag; the log line comes from the loop. An
 * unprivileged thread cannot clear SCHED_RESET_ON_FORK, so it stays. */
static void on_sigxcpu(int sig)
{
	(void)sig;
	int e = errno;
	struct sched_param sp = { .sched_priority = 0 };
	if (sched_setscheduler(rt.tid, SCHED_OTHER | SCHED_RESET_ON_FORK, &sp) == 0 && realtime_dropped == 0)
		realtime_dropped = 1;
	errno = e;
}

void realtime_report_drop(void)
{
	realtime_dropped = 2;
	log_warn(
		"realtime: the event loop ran for %llu ms without sleeping (RLIMIT_RTTIME): it now runs SCHED_OTHER "
		"until kvmswitch is restarted",
		(unsigned long long)rt.rttime_soft_us / 1000);
}

/* The bound comes first: SIGXCPU handled, RLIMIT_RTTIME set. Lowering a
 * limit needs no privilege. */
static int bound_runaway(char *why, size_t len)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigxcpu;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigset_t xcpu;
	sigemptyset(&xcpu);
	sigaddset(&xcpu, SIGXCPU);
	if (sigaction(SIGXCPU, &sa, NULL) < 0 || pthread_sigmask(SIG_UNBLOCK, &xcpu, NULL) != 0) {
		snprintf(why, len, "cannot handle SIGXCPU: %s", strerror(errno));
		return -1;
	}
	struct rlimit cur, want;
	if (getrlimit(RLIMIT_RTTIME, &cur) < 0) {
		snprintf(why, len, "getrlimit(RLIMIT_RTTIME): %s", strerror(errno));
		return -1;
	}
	want.rlim_max = cur.rlim_max < REALTIME_RTTIME_HARD_US ? cur.rlim_max : REALTIME_RTTIME_HARD_US;
	/* SIGXCPU well before SIGKILL. */
	want.rlim_cur = want.rlim_max < 2 * REALTIME_RTTIME_SOFT_US ? want.rlim_max / 2 : REALTIME_RTTIME_SOFT_US;
	if (want.rlim_cur == 0 || setrlimit(RLIMIT_RTTIME, &want) < 0) {
		snprintf(why, len, "cannot bound it with RLIMIT_RTTIME (%llu us): %s",
			 (unsigned long long)want.rlim_cur,
			 want.rlim_cur ? strerror(errno) : "the hard limit is too low");
		return -1;
	}
	rt.rttime_soft_us = want.rlim_cur;
	return 0;
}

static int set_fifo(void)
{
	struct sched_param sp = { .sched_priority = REALTIME_PRIORITY };
	return sched_setscheduler(rt.tid, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp);
}

/* RealtimeKit (rtkit-daemon on the system bus) makes the thread SCHED_RR
 * with SCHED_RESET_ON_FORK if RLIMIT_RTTIME's hard limit is at most its
 * RTTimeUSecMax (200 ms) and polkit allows the caller (an active or inactive
 * session's user by default). */
static int via_rtkit(char *why, size_t len)
{
	sd_bus *bus = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int r = sd_bus_open_system(&bus);
	if (r < 0) {
		snprintf(why, len, "RealtimeKit: no system bus (%s)", strerror(-r));
		return r;
	}
	sd_bus_set_method_call_timeout(bus, RTKIT_TIMEOUT_US);
	r = sd_bus_call_method(bus, "org.freedesktop.RealtimeKit1", "/org/freedesktop/RealtimeKit1",
			       "org.freedesktop.RealtimeKit1", "MakeThreadRealtime", &e, NULL, "tu", (uint64_t)rt.tid,
			       (uint32_t)REALTIME_PRIORITY);
	/* A reply that came too late may still have done it. */
	int policy = r < 0 ? sched_getscheduler(rt.tid) & ~SCHED_RESET_ON_FORK : -1;
	if (r < 0 && policy != SCHED_FIFO && policy != SCHED_RR)
		snprintf(why, len, "RealtimeKit: %s", e.message ? e.message : strerror(-r));
	else
		r = 0;
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(bus);
	return r;
}

/* Memory locked, so the hot path, once touched, is never paged out:
 * MCL_ONFAULT locks what is resident and what is touched later instead of
 * reading in every page of every library (libvirt's alone are tens of MB).
 * Later mappings (MCL_FUTURE) only when that cannot make an allocation fail:
 * RLIMIT_MEMLOCK unlimited, or CAP_IPC_LOCK. */
static void lock_memory(void)
{
	struct rlimit ml;
	getrlimit(RLIMIT_MEMLOCK, &ml);
	bool unbounded = ml.rlim_cur == RLIM_INFINITY || has_capability(CAP_IPC_LOCK);
	int flags = MCL_CURRENT | MCL_ONFAULT | (unbounded ? MCL_FUTURE : 0);
	if (mlockall(flags) == 0) {
		rt.memory_locked = true;
		snprintf(rt.memory, sizeof(rt.memory), "%s",
			 unbounded ? "locked" :
				     "locked (what is mapped now; RLIMIT_MEMLOCK is too small for later mappings)");
		return;
	}
	int e = errno;
	char lim[32];
	if (ml.rlim_cur == RLIM_INFINITY)
		snprintf(lim, sizeof(lim), "unlimited");
	else
		snprintf(lim, sizeof(lim), "%llu KiB", (unsigned long long)ml.rlim_cur / 1024);
	snprintf(rt.memory, sizeof(rt.memory), "not locked: mlockall: %s (RLIMIT_MEMLOCK %s)", strerror(e), lim);
}

/* Back to SCHED_OTHER; an unprivileged thread cannot clear
 * SCHED_RESET_ON_FORK, so it stays. */
static void set_other(void)
{
	struct sched_param sp = { .sched_priority = 0 };
	sched_setscheduler(rt.tid, SCHED_OTHER | SCHED_RESET_ON_FORK, &sp);
}

/* Makes the loop's thread real-time: directly, else through RealtimeKit;
 * once one way worked, that way again. */
static int raise_priority(char *why, size_t len)
{
	bool kit_only = rt.granted_by && strcmp(rt.granted_by, "RealtimeKit") == 0;
	char direct[160] = "", kit[200] = "";
	if (!kit_only) {
		if (set_fifo() == 0) {
			struct rlimit rp;
			bool by_limit = getrlimit(RLIMIT_RTPRIO, &rp) == 0 && rp.rlim_cur >= REALTIME_PRIORITY;
			rt.granted_by = by_limit ? "RLIMIT_RTPRIO" : "CAP_SYS_NICE";
			return 0;
		}
		struct rlimit rp = { 0, 0 };
		getrlimit(RLIMIT_RTPRIO, &rp);
		snprintf(direct, sizeof(direct), "sched_setscheduler: %s (RLIMIT_RTPRIO %llu, no CAP_SYS_NICE)",
			 strerror(errno), (unsigned long long)rp.rlim_cur);
		if (rt.granted_by) {
			snprintf(why, len, "%s", direct);
			return -1;
		}
	}
	if (via_rtkit(kit, sizeof(kit)) >= 0) {
		rt.granted_by = "RealtimeKit";
		return 0;
	}
	snprintf(why, len, "%s%s%s", direct, direct[0] ? "; " : "", kit);
	return -1;
}

int realtime_start(enum realtime_mode mode, char *err, size_t errlen)
{
	rt.mode = mode;
	rt.started = true;
	rt.tid = gettid();
	if (mode == REALTIME_NO) {
		snprintf(rt.refused, sizeof(rt.refused), "realtime = no");
		log_info("realtime: off (realtime = no); the event loop runs SCHED_OTHER");
		return 0;
	}
	/* Whether the priority can be had is found out now, before anything
	 * is grabbed (`yes` refuses to start without it); the loop takes it
	 * in realtime_enter, when the start-up's work is done. */
	if (bound_runaway(rt.refused, sizeof(rt.refused)) == 0 && raise_priority(rt.refused, sizeof(rt.refused)) == 0) {
		set_other();
		rt.refused[0] = '\0';
	} else {
		rt.granted_by = NULL;
	}
	lock_memory();
	if (rt.granted_by)
		return 0;
	if (mode == REALTIME_YES) {
		snprintf(err, errlen, "realtime = yes, but no real-time priority: %s", rt.refused);
		return -1;
	}
	log_info("realtime: not available, the event loop runs SCHED_OTHER (%s); memory %s", rt.refused, rt.memory);
	return 0;
}

void realtime_enter(void)
{
	if (!rt.granted_by || rt.raised || realtime_dropped)
		return;
	char why[384];
	if (raise_priority(why, sizeof(why)) < 0) {
		log_warn("realtime: the event loop cannot get its priority back, it runs SCHED_OTHER: %s", why);
		return;
	}
	rt.raised = true;
	if (rt.announced)
		return;
	rt.announced = true;
	int policy = sched_getscheduler(rt.tid);
	log_info(
		"realtime: the event loop runs %s at priority %d (granted by %s); memory %s; a loop that runs %llu "
		"ms without sleeping drops to SCHED_OTHER",
		policy_name(policy), REALTIME_PRIORITY, rt.granted_by, rt.memory,
		(unsigned long long)rt.rttime_soft_us / 1000);
}

void realtime_leave(void)
{
	/* Getting it back from RealtimeKit would block the loop on the bus
	 * (seconds, on a slow machine): keep it, bounded as always. */
	if (!rt.raised || strcmp(rt.granted_by, "RealtimeKit") == 0)
		return;
	set_other();
	rt.raised = false;
}

enum realtime_mode realtime_setting(void)
{
	return rt.mode;
}

void realtime_status_json(struct json *j)
{
	json_key(j, "realtime");
	json_object_begin(j);
	json_key(j, "setting");
	json_string(j, realtime_mode_name(rt.mode));
	int policy = rt.started ? sched_getscheduler(rt.tid) : -1;
	struct sched_param sp = { 0 };
	if (rt.started)
		sched_getparam(rt.tid, &sp);
	json_key(j, "policy");
	json_string(j, policy >= 0 ? policy_name(policy) : NULL);
	json_key(j, "priority");
	json_int(j, sp.sched_priority);
	json_key(j, "granted_by");
	json_string(j, rt.granted_by);
	json_key(j, "refused");
	json_string(j, rt.refused[0] ? rt.refused : NULL);
	json_key(j, "dropped");
	json_bool(j, realtime_dropped != 0);
	json_key(j, "memory_locked");
	json_bool(j, rt.memory_locked);
	json_key(j, "memory");
	json_string(j, rt.memory[0] ? rt.memory : NULL);
	json_key(j, "runaway_limit_ms");
	json_uint(j, rt.rttime_soft_us / 1000);
	json_object_end(j);
}
