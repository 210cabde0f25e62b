/* A physical input device read through libevdev: grab and release it
 * (finding the instant of the change on the kernel's clock), read whole
 * frames (core/framer.h decides what a frame is), resync after SYN_DROPPED,
 * drive its LEDs. */
#ifndef KVMSWITCH_EVDEV_IN_H
#define KVMSWITCH_EVDEV_IN_H

#include <linux/input.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/router.h"

struct evdev_in;

/* Opens the node (read-write if allowed, for LEDs); its events are stamped
 * with CLOCK_MONOTONIC. Returns NULL with errno. */
struct evdev_in *evdev_in_open(const char *node);
void evdev_in_close(struct evdev_in *d);

int evdev_in_fd(const struct evdev_in *d);

/* What the router needs to know, including the keys held right now. */
void evdev_in_describe(struct evdev_in *d, struct router_device_info *info);

/* EVIOCGRAB on or off, and when it took effect: `res` as the router wants it
 * (see struct router_grab). Returns 0 or -errno. */
int evdev_in_grab(struct evdev_in *d, bool on, struct router_grab *res);

/* Is a frame waiting to be read: in the kernel's queue, or half read? */
bool evdev_in_queued(const struct evdev_in *d);

/* Writes a press and a release of `code` into the device (it must not be
 * grabbed): the kernel hands them to every reader. The host's reader holds
 * the key (it read a press whose release only kvmswitch read), so it
 * ignores the press, as libinput does, and takes the release. Needs the node
 * open read-write. Returns 0 or -errno. */
int evdev_in_inject_release(struct evdev_in *d, unsigned code);

/* Sets LED_* bits (those the device has). Returns 0 or -errno. */
int evdev_in_set_leds(struct evdev_in *d, uint32_t leds);

struct evdev_in_sink {
	void *data;
	/* Complete frames (each ending in SYN_REPORT), in order. */
	void (*frames)(void *data, const struct input_event *ev, size_t n);
	/* The kernel dropped events (SYN_DROPPED): the frames after it follow,
	 * then the resync. */
	void (*dropped)(void *data);
	/* libevdev's resync: the difference between what was read and the
	 * device's state, stamped with the time that state was read. */
	void (*resync)(void *data, const struct input_event *ev, size_t n);
};

/* One read() of what is available; whole frames go to the sink (a partial
 * frame waits for the next call). Call it when the fd is readable. Returns
 * 0 or -errno (-ENODEV: gone). */
int evdev_in_read(struct evdev_in *d, const struct evdev_in_sink *sink);

#endif
