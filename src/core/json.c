#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

void json_finish(struct json *j)
{
	buf_finish(&j->out);
	json_init(j);
}

const char *json_text(const struct json *j)
{
	return j->out.failed ? NULL : j->out.data ? j->out.data : "";
}

static void put(struct json *j, const char *s, size_t n)
{
	if (!j->out.failed)
		buf_append(&j->out, s, n);
}

static void puts_(struct json *j, const char *s)
{
	put(j, s, strlen(s));
}

static void value_start(struct json *j)
{
	if (j->need_comma)
		put(j, ",", 1);
	j->need_comma = true;
}

void json_object_begin(struct json *j)
{
	value_start(j);
	put(j, "{", 1);
	j->need_comma = false;
	j->depth++;
}

void json_object_end(struct json *j)
{
	put(j, "}", 1);
	j->need_comma = true;
	j->depth--;
}

void json_array_begin(struct json *j)
{
	value_start(j);
	put(j, "[", 1);
	j->need_comma = false;
	j->depth++;
}

void json_array_end(struct json *j)
{
	put(j, "]", 1);
	j->need_comma = true;
	j->depth--;
}

static void quoted(struct json *j, const char *s)
{
	put(j, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		switch (*p) {
		case '"':
			puts_(j, "\\\"");
			break;
		case '\\':
			puts_(j, "\\\\");
			break;
		case '\n':
			puts_(j, "\\n");
			break;
		case '\t':
			puts_(j, "\\t");
			break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				puts_(j, esc);
			} else {
				put(j, (const char *)p, 1);
			}
		}
	}
	put(j, "\"", 1);
}

void json_key(struct json *j, const char *key)
{
	value_start(j);
	quoted(j, key);
	put(j, ":", 1);
	j->need_comma = false;
}

void json_string(struct json *j, const char *s)
{
	if (!s) {
		json_null(j);
		return;
	}
	value_start(j);
	quoted(j, s);
}

void json_int(struct json *j, int64_t v)
{
	char b[32];
	value_start(j);
	snprintf(b, sizeof(b), "%" PRId64, v);
	puts_(j, b);
}

void json_uint(struct json *j, uint64_t v)
{
	char b[32];
	value_start(j);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	puts_(j, b);
}

void json_bool(struct json *j, bool v)
{
	value_start(j);
	puts_(j, v ? "true" : "false");
}

void json_null(struct json *j)
{
	value_start(j);
	puts_(j, "null");
}
