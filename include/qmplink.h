/* `qmp = PATH`: kvmswitch talks QMP to a QEMU's own socket and adds the
 * target's virtual devices to it as input-linux objects (hotadd.h), whether
 * that QEMU starts before or after kvmswitch, and again whenever it restarts;
 * it deletes them when the target goes from the configuration, and at exit
 * unless the devices outlive kvmswitch in systemd's fd store.
 *
 * On the daemon's thread, in its epoll loop: one non-blocking connection per
 * target, a small state machine (connect, greeting, qmp_capabilities, one
 * command at a time), reconnecting with backoff while the socket is absent
 * or refuses. A QEMU that does not answer costs a deadline, never a wait.
 *
 * Whom it talks to: the socket file must be a socket (lstat: not a symlink),
 * owned by root or by kvmswitch's user, in a directory of root or that user
 * that nobody else may write (unless it has the sticky bit), and the process
 * listening on it (SO_PEERCRED) must be root or kvmswitch's user too. kvmswitch only ever
 * sends object-add, qom-get and object-del of its own objects there, and
 * reads the replies as data (json-c, lines of at most 64 KiB). */
#ifndef KVMSWITCH_QMPLINK_H
#define KVMSWITCH_QMPLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/json.h"
#include "vdev.h"

struct qmplink;

struct qmplink_env {
	void *data;
	/* Watch fd for `events` (EPOLLIN, EPOLLOUT) as link `slot`, or stop
	 * (events 0); call qmplink_dispatch(slot, events) when it is ready. */
	void (*watch)(void *data, int fd, int slot, uint32_t events);
	/* Is target t's device of a kind kept in systemd's fd store? */
	bool (*kept)(void *data, int t, enum vkind kind);
};

struct qmplink *qmplink_create(const struct qmplink_env *env);
/* Exit: deletes the objects of devices that die with kvmswitch (waiting up
 * to timeout_ms for the QEMUs to answer), then closes every link. */
void qmplink_destroy(struct qmplink *l, int timeout_ms);

/* Start and reload (after the virtual devices changed: outputs): the
 * targets with `qmp` and their devices (vd[target][kind], NULL where none).
 * A target that keeps its path keeps its link; one that lost it (or its
 * path) has its objects deleted, then its link closed. */
void qmplink_configure(struct qmplink *l, const struct config *cfg, struct vdev *(*vd)[VK_COUNT], uint64_t now_ms);

void qmplink_dispatch(struct qmplink *l, int slot, uint32_t events, uint64_t now_ms);
/* When qmplink_tick must run (a retry, a reply overdue), or UINT64_MAX. */
uint64_t qmplink_deadline(const struct qmplink *l);
void qmplink_tick(struct qmplink *l, uint64_t now_ms);

/* Adds "qmp": {...} to target t's status object (nothing without `qmp`). */
void qmplink_status_json(const struct qmplink *l, const struct config *cfg, int t, struct json *j);

#endif
