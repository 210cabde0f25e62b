/* A physical input device read through libevdev: grab, read whole frames,
 * resync after SYN_DROPPED, drive its LEDs. */
#ifndef KVMSWITCH_EVDEV_IN_H
#define KVMSWITCH_EVDEV_IN_H

#include <linux/input.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/router.h"

struct evdev_in;

/* Opens the node (read-write if allowed, for LEDs). Returns NULL with errno. */
struct evdev_in *evdev_in_open(const char *node);
void evdev_in_close(struct evdev_in *d);

int evdev_in_fd(const struct evdev_in *d);
const char *evdev_in_node(const struct evdev_in *d);
const char *evdev_in_name(const struct evdev_in *d);

/* What the router needs to know, including the keys held right now. */
void evdev_in_describe(struct evdev_in *d, struct router_device_info *info);

/* EVIOCGRAB on or off. Returns 0 or -errno. */
int evdev_in_grab(struct evdev_in *d, bool on);
bool evdev_in_grabbed(const struct evdev_in *d);

/* Sets LED_* bits (those the device has). Returns 0 or -errno. */
int evdev_in_set_leds(struct evdev_in *d, uint32_t leds);

struct evdev_in_sink {
	void *data;
	/* Complete frames (each ending in SYN_REPORT), in order. */
	void (*frames)(void *data, const struct input_event *ev, size_t n);
	/* The kernel dropped events; the next frames are libevdev's resync. */
	void (*dropped)(void *data);
};

/* One read() of what is available; whole frames go to the sink (a partial
 * frame waits for the next call; after SYN_DROPPED, libevdev's resync).
 * Call it when the fd is readable. Returns 0 or -errno (-ENODEV: gone). */
int evdev_in_read(struct evdev_in *d, const struct evdev_in_sink *sink);

#endif
