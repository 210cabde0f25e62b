/* The virtual devices of a target, created through uinput: fixed capability
 * supersets, so they never change while the daemon lives. */
#ifndef KVMSWITCH_VDEV_H
#define KVMSWITCH_VDEV_H

#include <linux/input.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/keys.h"

struct vdev;

/* The device's phys string tells udev whose it is: a VM target's devices are
 * hidden from the host's desktop, the host target's are not. */
#define VDEV_PHYS_GUEST "kvmswitch/vm"
#define VDEV_PHYS_HOST "kvmswitch/host"

/* Creates "kvmswitch TARGET KIND"; guest: for a VM target (phys
 * VDEV_PHYS_GUEST), else for the host target. Returns NULL with errno set. */
struct vdev *vdev_create(const char *target, enum vkind kind, bool guest);
/* Takes over a uinput fd whose device already exists (systemd's fd store). */
struct vdev *vdev_adopt(int fd, const char *target, enum vkind kind);
void vdev_destroy(struct vdev *v);
/* Frees v and closes its fd without destroying the device, which lives on
 * while another holder of the uinput file (systemd's fd store) keeps it. */
void vdev_forget(struct vdev *v);

/* One frame in one write(). Returns 0 or -errno. A key change of a frame
 * that could not be written is owed: the next vdev_write, or vdev_catch_up,
 * sends the state the device lacks first, so that a release that did not
 * arrive is not lost for good (the router's view of what the target holds
 * stays true). */
int vdev_write(struct vdev *v, const struct input_event *ev, size_t n);
/* Keys whose state the device does not have yet. */
size_t vdev_owed(const struct vdev *v);
/* Writes that failed since the device was created (or adopted). */
uint64_t vdev_failed_writes(const struct vdev *v);
/* Sends the owed key states as one frame. Returns 0 (nothing is owed now)
 * or -errno. */
int vdev_catch_up(struct vdev *v);

/* Reads what consumers wrote to the device (LEDs): calls fn for each EV_LED.
 * Returns 0, or -errno (not -EAGAIN). */
int vdev_read(struct vdev *v, void (*fn)(void *data, unsigned code, int value), void *data);

int vdev_fd(const struct vdev *v);
/* Taken over from systemd's fd store (vdev_adopt): the device a consumer
 * may have held since before our start. */
bool vdev_adopted(const struct vdev *v);
const char *vdev_name(const struct vdev *v);
const char *vdev_devnode(const struct vdev *v); /* /dev/input/eventN */

#endif
