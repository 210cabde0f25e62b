/* on-enter / on-leave hooks: `/bin/sh -c COMMAND` per target, run one at a
 * time in switch order, never waited for in the event path. stdin is
 * /dev/null; stdout and stderr go to the daemon's log, line by line. Each
 * hook has HOOKS_TIMEOUT_MS ($KVMSWITCH_HOOK_TIMEOUT seconds overrides) to
 * finish; then its process group gets SIGTERM, and SIGKILL
 * HOOKS_KILL_GRACE_MS later. Environment (on top of the daemon's):
 *   KVMSWITCH_TARGET    the target now active
 *   KVMSWITCH_PREVIOUS  the target active before ("" at start)
 *   KVMSWITCH_REASON    start, hotkey, target-hotkey, command, emergency, ...
 *   KVMSWITCH_HOOK      on-enter or on-leave
 * Children are reaped on SIGCHLD (hooks_reap), only the hooks' own pids. */
#ifndef KVMSWITCH_HOOKS_H
#define KVMSWITCH_HOOKS_H

#include <stdint.h>

#include "core/config.h"

#define HOOKS_TIMEOUT_MS (30 * 1000)
#define HOOKS_KILL_GRACE_MS 2000
#define HOOKS_QUEUE_MAX 16             /* hooks waiting their turn */
#define HOOKS_OUTPUT_MAX (64 * 1024)   /* logged per run; the rest is dropped */
#define HOOKS_LINE_MAX 400             /* longest logged output line */

struct hooks;

struct hooks *hooks_create(void);
/* Sends SIGTERM to a running hook; drops queued ones. */
void hooks_destroy(struct hooks *h);

/* An fd (epoll) readable when a running hook has written output. */
int hooks_fd(const struct hooks *h);
void hooks_dispatch(struct hooks *h, uint64_t now_ms);
/* After SIGCHLD: reaps finished hooks, logs failures, starts the next. */
void hooks_reap(struct hooks *h, uint64_t now_ms);
/* Timeouts. */
void hooks_tick(struct hooks *h, uint64_t now_ms);
/* When hooks_tick must run next, or UINT64_MAX. */
uint64_t hooks_next_deadline(const struct hooks *h);

/* The active target changed from `from` (-1 at start) to `to`: queues
 * from's on-leave, then to's on-enter (commands copied from cfg). */
void hooks_switched(struct hooks *h, const struct config *cfg, int from, int to, const char *reason,
		    uint64_t now_ms);

/* Hooks started / failed (non-zero exit, signal, timeout, cannot start). */
unsigned long hooks_runs(const struct hooks *h);
unsigned long hooks_failures(const struct hooks *h);

#endif
