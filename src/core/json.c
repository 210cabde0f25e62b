#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

void json_finish(struct json *j)
{
	free(j->buf);
	json_init(j);
}

static void put(struct json *j, const char *s, size_t n)
{
	if (j->failed)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		while (cap < j->len + n + 1)
			cap *= 2;
		char *b = realloc(j->buf, cap);
		if (!b) {
			j->failed = true;
			return;
		}
		j->buf = b;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
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

int json_get_string(const char *text, const char *key, char *out, size_t len)
{
	char pat[80];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	/* Only a key at depth 1 counts. */
	int depth = 0;
	bool in_str = false;
	for (const char *p = text; *p; p++) {
		if (in_str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_str = false;
			continue;
		}
		if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			depth--;
		} else if (*p == '"') {
			if (depth == 1 && strncmp(p, pat, strlen(pat)) == 0) {
				const char *s = p + strlen(pat);
				size_t n = 0;
				for (; *s && *s != '"' && n + 1 < len; s++) {
					if (*s == '\\' && s[1])
						s++;
					out[n++] = *s;
				}
				out[n] = '\0';
				return *s == '"' ? 0 : -1;
			}
			in_str = true;
		}
	}
	return -1;
}
