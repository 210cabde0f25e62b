/* `kvmswitch monitor`, the daemon's side: what the router's trace says
 * (router_set_trace) as "event input {JSON}" lines, for the control clients
 * that asked (the daemon's own uid only, ctl.c). The trace is on only while
 * such a client is connected. These lines carry typed keys: they go to those
 * clients and nowhere else, never to the log (docs/SECURITY.md). */
#ifndef KVMSWITCH_MONITOR_H
#define KVMSWITCH_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/json.h"
#include "core/router.h"

/* Motion is shown once a second per device: enough to tell which is which. */
#define MONITOR_MOTION_MS 1000

struct monitor {
	uint64_t motion_at[ROUTER_MAX_DEVICES]; /* when a device's motion was last shown */
	uint64_t events;                        /* lines sent */
};

/* The physical device an event came from. */
struct monitor_source {
	int slot;
	const char *node, *name;
};

/* One event's line into j (after "event input "), or false if it is not
 * shown (motion shown less than MONITOR_MOTION_MS ago). */
bool monitor_format(struct monitor *m, struct json *j, const struct config *cfg, const struct monitor_source *src,
		    const struct input_event *ev, enum router_route route, int target, unsigned flags, uint64_t now_ms);

#endif
