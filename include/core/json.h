/* A small JSON writer into a growing buffer (core/buf.h). Pure. */
#ifndef KVMSWITCH_CORE_JSON_H
#define KVMSWITCH_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct json {
	struct buf out;
	bool need_comma; /* a value was written at this level */
	unsigned depth;
};

void json_init(struct json *j);
void json_finish(struct json *j); /* frees the buffer */
/* The text written so far, or NULL if memory ran out on the way. */
const char *json_text(const struct json *j);

void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* Inside an object: the key of the next value. */
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s); /* NULL writes null */
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

#endif
