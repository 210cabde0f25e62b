/* systemd's file-descriptor store for the VM targets' uinput devices.
 *
 * Under systemd ($NOTIFY_SOCKET set), each VM target's uinput fd is sent to
 * the service manager (sd_pid_notify_with_fds, FDSTORE=1, FDNAME=
 * vdev/TARGET/KIND) once its device exists. The manager keeps a duplicate,
 * so the device outlives the daemon across a restart (systemctl restart,
 * Restart=on-failure), and passes the fds back to the next instance
 * (LISTEN_FDS, LISTEN_FDNAMES), which adopts them instead of creating new
 * devices: a QEMU holding the event nodes never sees them go. The unit needs
 * FileDescriptorStoreMax= (the manager ignores FDSTORE=1 without it). */
#ifndef KVMSWITCH_FDSTORE_H
#define KVMSWITCH_FDSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/keys.h"

/* "vdev/" + target + "/" + kind: '/' never occurs in a target name, ':'
 * may not occur in an FDNAME (it separates $LISTEN_FDNAMES). */
#define FDSTORE_NAME_MAX 64

struct fdstore;

/* Takes the fds the service manager passed (sd_listen_fds_with_names,
 * unsetting $LISTEN_*). Returns NULL only when out of memory. */
struct fdstore *fdstore_create(void);
/* Closes the passed fds nobody took (without touching their devices). */
void fdstore_destroy(struct fdstore *s);

/* Running under a service manager that may keep fds ($NOTIFY_SOCKET). */
bool fdstore_active(const struct fdstore *s);
/* How many fds were passed at start. */
size_t fdstore_passed(const struct fdstore *s);

/* Whether an fd for TARGET's KIND device was passed and not taken yet. */
bool fdstore_has_passed(const struct fdstore *s, const char *target, enum vkind kind);
/* The passed fd named for TARGET's KIND device, now the caller's; -1 if none. */
int fdstore_take(struct fdstore *s, const char *target, enum vkind kind);
/* Sends fd to the store as TARGET's KIND device (the caller keeps its own
 * fd). Also for a taken fd: the manager ignores a duplicate. Returns 0, or
 * -errno; -ENOTCONN when not under a service manager. */
int fdstore_put(struct fdstore *s, int fd, const char *target, enum vkind kind);
/* Whether the store holds TARGET's KIND device (put, or taken). */
bool fdstore_holds(const struct fdstore *s, const char *target, enum vkind kind);
/* Asks the manager to close its copy of TARGET's KIND device (before the
 * daemon destroys the device, e.g. its target left the configuration). */
void fdstore_remove(struct fdstore *s, const char *target, enum vkind kind);
/* Destroys the devices of passed fds nobody took (stale: their target left
 * the configuration or changed type) and removes them from the store.
 * Returns how many. */
size_t fdstore_drop_untaken(struct fdstore *s);

#endif
