/* Helpers shared between the itest modules; not for tests. */
#ifndef KVMSWITCH_ITEST_INTERNAL_H
#define KVMSWITCH_ITEST_INTERNAL_H

#include <libudev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The process's udev context (created on first use). */
struct udev *itest_udev_get(void);
/* A monitor of udev's (processed) events on subsystem "input", enabled.
 * Fails the case on error. */
struct udev_monitor *itest_udev_monitor_new(void);
/* Receives events until one has this action and a syspath equal to syspath
 * (or, with prefix, starting with it). Returns it (unref it), or NULL when
 * deadline_ms (itest_now_ms) passes. */
struct udev_device *itest_udev_monitor_wait(struct udev_monitor *mon, const char *action,
					    const char *syspath, bool prefix, int64_t deadline_ms);
/* Writes evs[0..n) + SYN_REPORT to fd in one write(); fails the case on
 * error, naming the device as `what`. */
struct itest_ev;
void itest_write_frame(int fd, const char *what, const struct itest_ev *evs, size_t n);
/* Milliseconds from now until deadline, clamped to [0, INT_MAX]. */
int itest_ms_left(int64_t deadline_ms);

#endif
