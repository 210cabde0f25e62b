/* A small JSON writer into a growing buffer. Pure. */
#ifndef KVMSWITCH_CORE_JSON_H
#define KVMSWITCH_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json {
	char *buf;
	size_t len, cap;
	bool failed;     /* out of memory */
	bool need_comma; /* a value was written at this level */
	unsigned depth;
};

void json_init(struct json *j);
void json_finish(struct json *j); /* frees the buffer */

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

/* Parses the string value of a top-level key of a flat object ("active"). For
 * the CLI and tests; returns 0 and writes at most len-1 bytes, or -1. */
int json_get_string(const char *text, const char *key, char *out, size_t len);

#endif
