/* Reading the daemon's JSON replies in the CLI (json-c): a member of the
 * wanted type, or a default. Shared by client.c, views.c and stats.c. */
#ifndef KVMSWITCH_JSONGET_H
#define KVMSWITCH_JSONGET_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* o[key] if o is an object and o[key] has that type, else NULL. */
struct json_object *jsonget_member(struct json_object *o, const char *key, enum json_type type);
const char *jsonget_str(struct json_object *o, const char *key, const char *def);
int64_t jsonget_int(struct json_object *o, const char *key, int64_t def);
bool jsonget_bool(struct json_object *o, const char *key, bool def);

#endif
