/* The event loop at a real-time priority ([general] realtime), bounded:
 * SCHED_FIFO at a low priority (directly when RLIMIT_RTPRIO or CAP_SYS_NICE
 * allow it, else SCHED_RR through RealtimeKit on the system bus), locked
 * memory, and RLIMIT_RTTIME with a SIGXCPU handler that drops the loop to
 * SCHED_OTHER if it ever runs 100 ms without sleeping. Threads and children
 * started afterwards (hooks, the libvirt worker) are SCHED_OTHER:
 * SCHED_RESET_ON_FORK. */
#ifndef KVMSWITCH_REALTIME_H
#define KVMSWITCH_REALTIME_H

#include <signal.h>
#include <stddef.h>

#include "core/config.h"
#include "core/json.h"

/* Below PipeWire's data thread (20 under RealtimeKit, 88 with
 * RLIMIT_RTPRIO) and the kernel's threaded interrupts (50), above every
 * ordinary process. RealtimeKit hands out at most 20. */
#define REALTIME_PRIORITY 10
/* RLIMIT_RTTIME: SIGXCPU after this much CPU without sleeping, SIGKILL
 * after the hard limit (RealtimeKit insists on a hard limit of 200 ms at
 * most). */
#define REALTIME_RTTIME_SOFT_US 100000
#define REALTIME_RTTIME_HARD_US 200000

/* Called once, early in the daemon's start, by the thread that will run
 * the event loop: sets the bound, finds out whether and how a real-time
 * priority can be had (taking it and giving it back), locks memory. With
 * `no` it only notes the setting. Returns 0, or -1 with a reason in err when
 * `yes` cannot get a real-time priority. */
int realtime_start(enum realtime_mode mode, char *err, size_t errlen);

/* The loop takes its priority (once its start-up work is done), and gives
 * it up around work that is not forwarding and may take a slow machine
 * longer than the bound (a reload re-reads files and re-enumerates
 * devices). realtime_enter logs what the loop got the first time; it does
 * nothing after the bound dropped the loop. A priority from RealtimeKit is
 * kept through a reload: getting it back is a call on the system bus. */
void realtime_enter(void);
void realtime_leave(void);

/* The setting realtime_start applied (a reload does not change it). */
enum realtime_mode realtime_setting(void);

/* Set by the SIGXCPU handler (1: dropped to SCHED_OTHER, not logged yet). */
extern volatile sig_atomic_t realtime_dropped;
void realtime_report_drop(void);
/* Once per loop iteration: logs a drop outside the signal handler. */
static inline void realtime_poll(void)
{
	if (realtime_dropped == 1)
		realtime_report_drop();
}

/* "realtime": {...} for status: the setting, the policy the loop has now,
 * what granted it or why not, the memory lock, the runaway bound. */
void realtime_status_json(struct json *j);

#endif
