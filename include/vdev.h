/* The virtual devices of a target, created through uinput: fixed capability
 * supersets, so they never change while the daemon lives. */
#ifndef KVMSWITCH_VDEV_H
#define KVMSWITCH_VDEV_H

#include <linux/input.h>
#include <stddef.h>

#include "core/keys.h"

struct vdev;

/* Creates "kvmswitch TARGET KIND". Returns NULL with errno set. */
struct vdev *vdev_create(const char *target, enum vkind kind);
/* Takes over a uinput fd whose device already exists (systemd's fd store). */
struct vdev *vdev_adopt(int fd, const char *target, enum vkind kind);
void vdev_destroy(struct vdev *v);

/* One frame in one write(). Returns 0 or -errno. */
int vdev_write(struct vdev *v, const struct input_event *ev, size_t n);

/* Reads what consumers wrote to the device (LEDs): calls fn for each EV_LED.
 * Returns 0, or -errno (not -EAGAIN). */
int vdev_read(struct vdev *v, void (*fn)(void *data, unsigned code, int value), void *data);

int vdev_fd(const struct vdev *v);
enum vkind vdev_kind(const struct vdev *v);
const char *vdev_name(const struct vdev *v);
const char *vdev_devnode(const struct vdev *v); /* /dev/input/eventN */
const char *vdev_sysname(const struct vdev *v); /* inputN */

#endif
