/* status and list: the daemon's state as the JSON objects of docs/protocol.md
 * (*status*, *list*). Reads the daemon only through a report_view, which the
 * daemon fills when asked. */
#ifndef KVMSWITCH_REPORT_H
#define KVMSWITCH_REPORT_H

#include <stdint.h>

#include "core/config.h"
#include "core/json.h"
#include "core/router.h"
#include "latstats.h"
#include "vdev.h"

struct virt;
struct qmplink;

/* The shell's counters (the router keeps the others). */
struct report_counters {
	uint64_t syn_dropped, write_errors;
	uint64_t host_releases; /* releases written back into a device for the host */
	uint64_t hooks_run, hooks_failed;
	uint64_t devices_added, devices_removed, open_failures;
	uint64_t reloads;
	uint64_t clients; /* control connections open */
	uint64_t monitors;       /* of them, watching the input events (monitor) */
	uint64_t monitor_events; /* lines sent to them */
};

struct report_view {
	const char *config_path; /* NULL: the built-in defaults */
	const struct config *cfg;
	const struct router *router;
	const struct virt *virt; /* NULL: none */
	const struct qmplink *qmp; /* NULL: none */
	const struct latstats *lat; /* the hop of forwarded frames */
	/* The virtual devices, [target][kind]; NULL where there is none. */
	struct vdev *(*vd)[VK_COUNT];
	/* The input devices taken, by router slot; node NULL: a free slot. */
	struct {
		const char *node, *name;
		bool host_only;
	} input[ROUTER_MAX_DEVICES];
	struct report_counters n;
};

void report_status(const struct report_view *v, struct json *j);
void report_list(const struct report_view *v, struct json *j);

#endif
