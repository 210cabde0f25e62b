/* libvirt, off the input path: the usb targets (whole USB devices or USB
 * controllers hot-attached to a domain while the target is active) and the
 * lifecycle of the domains that targets name.
 *
 * Every libvirt call is a synchronous RPC, so none runs on the daemon's
 * thread: a worker thread owns the connections, runs libvirt's event loop
 * (domain lifecycle events, close callbacks, keepalive) and attaches and
 * detaches devices. The daemon talks to it through a mailbox (the newest
 * wish wins: which target is active, may its devices be attached yet) and
 * reads its results from an eventfd it polls (virt_fd, virt_dispatch).
 *
 * The daemon's thread keeps a cached state of each target's domain, so
 * virt_prepare answers at once, without libvirt. */
#ifndef KVMSWITCH_VIRT_H
#define KVMSWITCH_VIRT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/json.h"
#include "core/match.h"
#include "vdev.h"

struct virt;

struct virt_hooks {
	void *data;
	/* True while kvmswitch still grabs an input device that usb target
	 * `target` moves: its attach waits until the router has let go. */
	bool (*holding)(void *data, int target);
	/* The domain of the active target stopped, crashed or vanished (or was
	 * found not running): switch to the host (SWITCH_DOMAIN_GONE). */
	void (*domain_gone)(void *data, int target, const char *why);
	/* Attaching the devices of the active usb target failed; what was
	 * attached has been detached. Switch back to `previous` (-1: host). */
	void (*attach_failed)(void *data, int target, int previous, const char *why);
	/* The outcome of a switch whose reply waited (virt_set_ticket): rc 0
	 * (why may be NULL), or -errno with why (also when another switch or
	 * the domain's end came first: -ECANCELED, -EHOSTDOWN). */
	void (*answer)(void *data, uint64_t ticket, int rc, const char *why);
	/* `follow = start`: target's domain started and its QEMU holds the
	 * target's keyboard (a usb target's: the domain runs): switch to it
	 * (SWITCH_DOMAIN_STARTED). */
	void (*domain_started)(void *data, int target);
};

/* Starts the worker (call with the daemon's signals blocked). NULL with
 * errno on failure. cfg must live until virt_reconfigure or destroy. */
struct virt *virt_create(const struct config *cfg, const struct virt_hooks *h);
/* Detaches whatever is attached (giving the devices back to the host),
 * waiting up to timeout_ms for libvirt, then stops the worker. */
void virt_destroy(struct virt *v, int timeout_ms);

/* Readable when virt_dispatch has results to deliver (through the hooks). */
int virt_fd(const struct virt *v);
void virt_dispatch(struct virt *v);
/* After a round of the event loop: starts an attach that waited for the
 * router to ungrab. Returns whether one still waits: until the next
 * virt_switched or virt_reconfigure, no round needs to ask again. */
bool virt_tick(struct virt *v);

/* router_output.prepare: 0, or -EHOSTDOWN (the target's domain is known
 * not to run, or not to exist) or -ENOTCONN (a usb target's libvirt cannot
 * be reached), with the reason in virt_refusal. Never blocks. */
int virt_prepare(struct virt *v, int from, int to);
const char *virt_refusal(const struct virt *v);

/* router_output.switched: detach what the old target had, attach the new
 * usb target's devices once the router has released them. */
void virt_switched(struct virt *v, int from, int to);
/* True if the switch just made waits for an attach: then the caller may
 * defer its reply and hand the ticket here (see virt_hooks.answer). */
bool virt_attaching(const struct virt *v);
void virt_set_ticket(struct virt *v, uint64_t ticket);

/* The targets' virtual devices, for the worker: `follow = start` watches
 * for the keyboard's node in the domain's QEMU, `libvirt-hotplug` adds them.
 * Call at start and after they change (reload, a tablet), after
 * virt_reconfigure. kept[t][k]: in systemd's fd store (outlives us). */
void virt_set_devices(struct virt *v, struct vdev *(*vd)[VK_COUNT], bool (*kept)[VK_COUNT]);

/* Reload, before router_reconfigure: the new config (map as from
 * config_map_targets). */
void virt_reconfigure(struct virt *v, const struct config *cfg, const int *map);

/* Adds "domain": {...} to a target's status object (nothing if it has no
 * domain). */
void virt_status_json(const struct virt *v, int target, struct json *j);

/* Does target `target` (usb, or evdev with usb/pci devices) move this input
 * device to its domain (a USB device it lists by id, or any device behind a
 * PCI controller it lists)? */
bool virt_moves(const struct config *cfg, int target, const struct device_desc *desc, const char *syspath);

#endif
