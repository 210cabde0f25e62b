/* The CLI's views of the daemon's hop figures and scheduling (status
 * "latency" and "realtime"): `kvmswitch stats` and two lines of
 * `kvmswitch status`. */
#ifndef KVMSWITCH_STATS_H
#define KVMSWITCH_STATS_H

#include <stdio.h>

#include <json-c/json.h>

/* The whole view: per target and kind, frames and percentiles since start
 * and over the last minute, then the event loop's scheduling. */
void stats_print(FILE *out, struct json_object *status);

/* For `kvmswitch status`: "realtime: ..." and "latency: ..." lines. */
void stats_status_lines(FILE *out, struct json_object *status);

#endif
