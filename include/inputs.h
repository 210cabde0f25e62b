/* The physical input devices kvmswitch takes: found through udev
 * (discover.c), chosen by the config's match rules, opened (retried while
 * udev has not given access yet), read into the router (evdev_in.c), and
 * grabbed, released and given their LEDs as the router says. A device's
 * slot is its index in the router. */
#ifndef KVMSWITCH_INPUTS_H
#define KVMSWITCH_INPUTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/router.h"
#include "discover.h"

struct inputs;

struct inputs_env {
	void *data;
	/* Watch (on) or stop watching a device's fd for reading; call
	 * inputs_readable(slot) when it is readable. Returns 0 or -1. */
	int (*watch)(void *data, int fd, int slot, bool on);
	/* An absolute pointer was taken: the targets need tablets. */
	void (*absolute)(void *data);
};

struct inputs_counters {
	uint64_t syn_dropped;
	uint64_t devices_added, devices_removed, open_failures;
	uint64_t host_releases; /* releases written back into a device for the host */
};

struct inputs *inputs_create(struct router *r, const struct inputs_env *env);
/* Closes every device (the router must have let go of them: router_shutdown). */
void inputs_destroy(struct inputs *in);

/* Takes every device the config selects that udev knows. */
void inputs_enumerate(struct inputs *in, struct discover *ds, const struct config *cfg, uint64_t now_ms);
/* Reload: drops the devices the new config's rules no longer select, takes
 * those they now do. */
void inputs_reconfigure(struct inputs *in, struct discover *ds, const struct config *cfg, uint64_t now_ms);
/* udev's monitor is readable. */
void inputs_hotplug(struct inputs *in, struct discover *ds, uint64_t now_ms);
/* A device's fd is readable: its frames go to the router. */
void inputs_readable(struct inputs *in, int slot, uint64_t now_ms);
/* Retries of nodes not readable yet: when, and the step. */
uint64_t inputs_deadline(const struct inputs *in);
void inputs_tick(struct inputs *in, uint64_t now_ms);

/* For the router (router_output). */
int inputs_grab(struct inputs *in, int slot, bool on, struct router_grab *res);
void inputs_host_release(struct inputs *in, int slot, unsigned code);
bool inputs_queued(const struct inputs *in, int slot);
void inputs_set_leds(struct inputs *in, int slot, uint32_t leds); /* slot -1: every keyboard */

/* Node and name of the device in a slot, or NULL. */
const char *inputs_node(const struct inputs *in, int slot);
const char *inputs_name(const struct inputs *in, int slot);
bool inputs_host_only(const struct inputs *in, int slot);
/* Does kvmswitch still grab a device that target `target` moves? */
bool inputs_holding(const struct inputs *in, const struct config *cfg, int target);
/* Does target `target` move device `slot` to its domain (virt_moves)? */
bool inputs_moves(const struct inputs *in, const struct config *cfg, int slot, int target);
const struct inputs_counters *inputs_counters(const struct inputs *in);

#endif
