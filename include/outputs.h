/* The targets' virtual devices (vdev.c): created for every target that has
 * them (or adopted from systemd's fd store), kept across reloads under their
 * target's name, written one frame per write() with what a failed write
 * missed sent again, and their keyboards read for the LEDs consumers set. */
#ifndef KVMSWITCH_OUTPUTS_H
#define KVMSWITCH_OUTPUTS_H

#include <linux/input.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "vdev.h"

struct outputs;

struct outputs_env {
	void *data;
	/* Watch (on) or stop watching target t's keyboard fd for reading;
	 * call outputs_read_leds(t) when it is readable. */
	void (*watch)(void *data, int fd, int t, bool on);
	/* A consumer of target t's keyboard wrote an LED event to it. */
	void (*led)(void *data, int t, unsigned code, int value);
};

/* Also opens systemd's fd store, if the daemon runs under it. NULL with
 * errno on failure. */
struct outputs *outputs_create(const struct outputs_env *env);
/* Destroys every device, but those in the fd store: systemd keeps them for
 * the next start. */
void outputs_destroy(struct outputs *o, const struct config *cfg);

/* Start: adopts the devices systemd kept for us (tablets too: a QEMU may
 * hold one), drops those no VM target wants any more, then creates the rest.
 * Returns 0 or -errno (the log says which device). */
int outputs_start(struct outputs *o, const struct config *cfg);
/* An absolute pointer was taken: every target gets a tablet from now on. */
int outputs_want_tablet(struct outputs *o, const struct config *cfg);
/* Reload, before the router's: moves the devices of kept targets (map as
 * from config_map_targets) to their new index, destroys the others, creates
 * what the new config wants. Returns 0, or -errno if a target has no
 * devices (see outputs_missing). */
int outputs_reconfigure(struct outputs *o, const struct config *old, const struct config *cfg, const int *map);

/* One frame to target t's device of a kind (router_output.emit). True if
 * the write succeeded. */
bool outputs_emit(struct outputs *o, int t, enum vkind kind, const struct input_event *ev, size_t n,
		  uint64_t now_ms);
/* Target t's keyboard fd is readable: the LEDs its consumers wrote. */
void outputs_read_leds(struct outputs *o, int t);
/* After each round of the loop: reads what writes echoed (MSC_SCAN) on the
 * keyboards, which would otherwise wake the loop again at once. */
void outputs_after_round(struct outputs *o);
/* When owed keys are to be sent again, or UINT64_MAX; then outputs_tick. */
uint64_t outputs_deadline(const struct outputs *o);
void outputs_tick(struct outputs *o, uint64_t now_ms);

/* Target t receives events through virtual devices while active, but lacks
 * its keyboard or pointer (uinput failed): switching to it would lose input. */
bool outputs_lack(const struct outputs *o, const struct config *cfg, int t);
/* The first target that lacks them, or NULL. */
const char *outputs_missing(const struct outputs *o, const struct config *cfg);

/* Is target t's device of a kind in systemd's fd store (it outlives our
 * exit)? */
bool outputs_kept(const struct outputs *o, const struct config *cfg, int t, enum vkind kind);

/* The devices, [target][kind], NULL where there is none (for reports). */
struct vdev *(*outputs_table(struct outputs *o))[VK_COUNT];
/* Frames that could not be written (a missing device or a failed write). */
uint64_t outputs_write_errors(const struct outputs *o);

#endif
