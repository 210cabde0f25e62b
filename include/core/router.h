/* The router: which target is active, where each held key went, hotkeys,
 * grabs that wait for a neutral key state, LEDs. Pure: it takes events with
 * their time and calls back through struct router_output. */
#ifndef KVMSWITCH_CORE_ROUTER_H
#define KVMSWITCH_CORE_ROUTER_H

#include "core/config.h"
#include "core/keys.h"

#define ROUTER_MAX_DEVICES 128
#define ROUTER_TABLET_MAX 32767

enum switch_reason {
	SWITCH_START,
	SWITCH_HOTKEY,        /* the cycling hotkey */
	SWITCH_TARGET_HOTKEY, /* a target's own hotkey */
	SWITCH_COMMAND,       /* control socket / CLI */
	SWITCH_EMERGENCY,     /* emergency chord or `release` */
	SWITCH_TIMER,         /* return-after expired */
	SWITCH_DOMAIN_GONE,   /* the target's libvirt domain stopped */
	SWITCH_RELOAD,        /* the active target vanished from a reloaded config */
	SWITCH_ATTACH_FAILED, /* a usb target's devices could not be attached: back */
	SWITCH_DOMAIN_STARTED, /* follow = start: the target's domain started */
};

const char *switch_reason_name(enum switch_reason why);

/* What the shell learned about a grab change of a physical device. Which
 * readers got a frame is the kernel's decision, made as it queued the frame:
 * the shell finds the instant of the change on the kernel's own clock, so
 * the router can tell from a frame's stamp who else read it
 * (docs/DESIGN.md, "Who owns an event at a grab change"). */
struct router_grab {
	/* Frames stamped before it (µs, CLOCK_MONOTONIC) were read under the
	 * old grab state, frames stamped at or after it under the new one. */
	int64_t at_us;
	/* A grab the shell took back at once because a key was down on the
	 * device by then (the host may have read its press, so it must read
	 * the release): ungrabbed again at undone_us. */
	bool undone;
	int64_t undone_us;
	/* No frame of the device was waiting to be read at the change: older
	 * changes no longer decide anything. */
	bool queue_empty;
};

struct router_output {
	void *data;
	/* One frame (ending in SYN_REPORT) for one virtual device of a target.
	 * Every event carries the kernel timestamp of the source frame that
	 * caused it (0 for releases the router makes itself, e.g. at a switch). */
	void (*emit)(void *data, int target, enum vkind kind, const struct input_event *ev,
		     size_t n);
	/* Grab (EVIOCGRAB) or release a physical device and fill in `res`.
	 * Returns 0 or -errno. */
	int (*grab)(void *data, int dev, bool on, struct router_grab *res);
	/* Show `leds` (bit i = LED code i) on physical keyboard `dev`, or on all
	 * of them when dev is -1. */
	void (*leds)(void *data, int dev, uint32_t leds);
	/* Optional: may the router switch to `to`? Return 0, or -errno to refuse
	 * (e.g. its libvirt domain is not running). Must not block. */
	int (*prepare)(void *data, int from, int to);
	/* The active target changed (also called for the start target). */
	void (*switched)(void *data, int from, int to, enum switch_reason why);
	/* Optional: the host read the press of key `code` of device `dev`, but
	 * its release came after a grab and only kvmswitch read it. The device
	 * is not grabbed any more when this is called: give the host that
	 * release (the shell writes a press and a release of `code` into the
	 * device, which the kernel hands to every reader; a reader that holds
	 * the key ignores the press and takes the release). */
	void (*host_release)(void *data, int dev, unsigned code);
	/* Optional: the lock against accidental switches went on or off (the
	 * lock chord, router_lock, or at start with start-locked). */
	void (*locked)(void *data, bool on);
	/* Optional: is a frame of device `dev` waiting to be read (in the
	 * kernel or half read)? Asked only after many grab changes with frames
	 * pending all along (see history_room in router.c). */
	bool (*queued)(void *data, int dev);
	/* Optional: does target `target` take device `dev` whole while it is
	 * active (libvirt attaches the USB device to its domain)? Then the
	 * router does not grab the device while that target is active: the
	 * host reads it until it leaves, and it leaves ungrabbed once its keys
	 * are up. Asked when the device comes and at every switch. */
	bool (*moves)(void *data, int dev, int target);
};

/* Where an input event went, for `kvmswitch monitor` (router_set_trace). */
enum router_route {
	ROUTE_TARGET,    /* to `target`'s devices (the host's, for a host key) */
	ROUTE_HOST_READ, /* the host read it from the device itself (not grabbed then) */
	ROUTE_HOTKEY,    /* it completed a chord: acted on, and reached no target */
	ROUTE_NOWHERE,   /* it reached no target: a release whose press went nowhere or
			  * was released at a switch, a second press, a key no target
			  * device carries */
};
#define ROUTE_F_SHARED 1u   /* a shared key: the host got it too */
#define ROUTE_F_HOST_KEY 2u /* a host key: to the host whatever is active */
#define ROUTE_F_HOST_ONLY 4u /* from a host-only device */
#define ROUTE_F_CHORD 8u    /* ROUTE_HOST_READ: it also completed a chord */

/* Called for every key and button event (not autorepeats) and every motion
 * event routed, after the router decided where it goes. `target` is the
 * target for ROUTE_TARGET, else -1. */
typedef void (*router_trace_fn)(void *data, int dev, const struct input_event *ev, enum router_route route,
				int target, unsigned flags);

struct router_device_info {
	bool keyboard;            /* has LEDs to drive */
	bool absolute;            /* has ABS_X/ABS_Y: pointer buttons go to the tablet */
	int32_t abs_min[2], abs_max[2];
	uint32_t leds;            /* LED state when opened */
	struct keyset held;       /* keys physically down when opened */
	/* [input] host-only: never grabbed while the host is native (the host
	 * reads it itself); with a virtual host its events go to the host's
	 * devices whatever target is active. Never to a VM. */
	bool host_only;
};

struct router_stats {
	uint64_t frames_in, events_in;
	uint64_t frames_out[VK_COUNT];
	uint64_t dropped;       /* events not forwarded (repeats, swallowed keys, host) */
	uint64_t switches;
	uint64_t resyncs;
	uint64_t host_read; /* frames the host read itself (not grabbed when queued) */
	uint64_t retracts;  /* grabs given back because the host held a key */
};

struct router;

struct router *router_create(const struct config *cfg, const struct router_output *out);
void router_destroy(struct router *r);

/* Makes the config's start target active (calls switched with SWITCH_START). */
void router_start(struct router *r, uint64_t now_ms);

/* Reload, step 1 (old target indices): releases the keys held on every target
 * that will vanish (`map[i]` < 0, see config_map_targets), while the shell
 * still has its devices. */
void router_release_vanishing(struct router *r, const int *map);
/* Reload, step 2 (new indices): takes the new config; `map[i]` is the new
 * index of old target i, or -1. If the active target vanished, the host
 * becomes active. */
void router_reconfigure(struct router *r, const struct config *cfg, const int *map,
			uint64_t now_ms);

int router_device_add(struct router *r, int dev, const struct router_device_info *info,
		      uint64_t now_ms);
void router_device_remove(struct router *r, int dev, uint64_t now_ms);

/* Events from a physical device as one read() returned them: one or more
 * whole frames, stamped by the kernel (CLOCK_MONOTONIC). Each frame belongs
 * to whoever read it when the kernel queued it: the host (the device was not
 * grabbed) or kvmswitch alone, whose frames always reach a target. A grab
 * change the batch allows happens after the whole batch. */
void router_feed(struct router *r, int dev, const struct input_event *ev, size_t n,
		 uint64_t now_ms);
/* The device's kernel buffer overflowed (SYN_DROPPED): call it when the
 * drop is met, before the frames read after it. */
void router_note_resync(struct router *r, int dev);
/* Then the resync: the difference between what was read and the device's
 * state, as libevdev yields it, stamped with the time that state was read.
 * A press found there happened at an unknown moment since the drop: if a
 * grab change lies in that span, the host may have read it, so it counts as
 * the host's (and a grab is given back until it is up). */
void router_feed_resync(struct router *r, int dev, const struct input_event *ev, size_t n,
			uint64_t now_ms);

/* A consumer of a target's keyboard wrote an LED event to it. Counts only
 * for the active target (see router.c). */
void router_target_led(struct router *r, int target, unsigned code, int value);

/* Returns 0, -ENOENT for a bad index, -EALREADY if already active, or the
 * error prepare() returned. */
int router_switch(struct router *r, int target, enum switch_reason why, uint64_t now_ms);
/* step +1: next target in config order, -1: previous; targets that refuse
 * (prepare) are skipped. */
int router_cycle(struct router *r, int step, enum switch_reason why, uint64_t now_ms);
/* From the host to the last VM target that was active (the first one if
 * none was), from anywhere else to the host. */
int router_toggle(struct router *r, enum switch_reason why, uint64_t now_ms);
/* Emergency: release every key, ungrab every device, host active. */
void router_release(struct router *r, enum switch_reason why, uint64_t now_ms);
/* Exit: release every key on every target and ungrab everything. */
void router_shutdown(struct router *r);

/* The lock against accidental switches: while on, the cycling and target
 * hotkeys do nothing (they are still swallowed); the emergency chord, the
 * lock chord and explicit switches (router_switch, router_toggle,
 * router_cycle) still work. Returns 0, or -EALREADY if it already was. */
int router_lock(struct router *r, bool on);
bool router_is_locked(const struct router *r);

/* Tell `fn` where each input event goes (NULL: stop). Costs nothing while
 * unset: the router feeds through a copy of its path without the calls. */
void router_set_trace(struct router *r, router_trace_fn fn, void *data);

void router_tick(struct router *r, uint64_t now_ms);
/* Next time router_tick must run, or UINT64_MAX. */
uint64_t router_next_deadline(const struct router *r);

int router_active(const struct router *r);
bool router_is_released(const struct router *r);
/* Keys and buttons currently down on a target's virtual devices. */
size_t router_target_held(const struct router *r, int target);
uint32_t router_target_leds(const struct router *r, int target);
/* Devices grabbed now / waiting for a neutral state to change grab. */
bool router_device_grabbed(const struct router *r, int dev);
bool router_device_pending(const struct router *r, int dev);
const struct router_stats *router_get_stats(const struct router *r);

#endif
