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
};

const char *switch_reason_name(enum switch_reason why);

struct router_output {
	void *data;
	/* One frame (ending in SYN_REPORT) for one virtual device of a target. */
	void (*emit)(void *data, int target, enum vkind kind, const struct input_event *ev,
		     size_t n);
	/* Grab (EVIOCGRAB) or release a physical device. Returns 0 or -errno. */
	int (*grab)(void *data, int dev, bool on);
	/* Show `leds` (bit i = LED code i) on physical keyboard `dev`, or on all
	 * of them when dev is -1. */
	void (*leds)(void *data, int dev, uint32_t leds);
	/* Optional: may the router switch to `to`? Return 0, or -errno to refuse
	 * (e.g. its libvirt domain is not running). Must not block. */
	int (*prepare)(void *data, int from, int to);
	/* The active target changed (also called for the start target). */
	void (*switched)(void *data, int from, int to, enum switch_reason why);
};

struct router_device_info {
	bool keyboard;            /* has LEDs to drive */
	bool absolute;            /* has ABS_X/ABS_Y: pointer buttons go to the tablet */
	int32_t abs_min[2], abs_max[2];
	uint32_t leds;            /* LED state when opened */
	struct keyset held;       /* keys physically down when opened */
};

struct router_stats {
	uint64_t frames_in, events_in;
	uint64_t frames_out[VK_COUNT];
	uint64_t dropped;       /* events not forwarded (repeats, swallowed keys, host) */
	uint64_t switches;
	uint64_t resyncs;
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

/* Events from a physical device, one or more whole frames. */
void router_feed(struct router *r, int dev, const struct input_event *ev, size_t n,
		 uint64_t now_ms);
/* The device's kernel buffer overflowed (SYN_DROPPED); the shell discards the
 * partial frame and feeds the resynced state next. */
void router_note_resync(struct router *r, int dev);

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
