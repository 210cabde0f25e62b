/* The human views of the daemon's JSON replies (views.c): `kvmswitch
 * status`, `list` and `monitor`, read with json-c. */
#ifndef KVMSWITCH_VIEWS_H
#define KVMSWITCH_VIEWS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/proto.h"

/* The whole text as one JSON value, or NULL with a message in err. */
struct json_object *views_parse_json(const char *text, char *err, size_t errlen);

/* Prints the reply to a status or list request (text: the JSON after
 * "ok ") for a human; `stats`: status as `kvmswitch stats` shows it.
 * Returns 0, or -1 if the text is not a JSON object (said on stderr). */
int views_print_reply(const struct proto_request *req, const char *text, bool stats);

/* One line of `kvmswitch monitor` from an "event input" JSON object. */
void views_print_monitor_event(const char *text);

#endif
