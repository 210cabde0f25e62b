#include "core/jsonread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
	const char *p;
	const char *start;
	char *err;
	size_t errlen;
	bool failed;
};

static void fail(struct reader *r, const char *what)
{
	if (!r->failed)
		snprintf(r->err, r->errlen, "%s at offset %zu", what, (size_t)(r->p - r->start));
	r->failed = true;
}

static void skip_ws(struct reader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote. Returns a malloc'd string or NULL. */
static char *read_string(struct reader *r)
{
	const char *p = r->p + 1;
	size_t cap = 16, n = 0;
	char *s = malloc(cap);
	while (s) {
		if (n + 5 > cap) {
			char *ns = realloc(s, cap *= 2);
			if (!ns)
				break;
			s = ns;
		}
		unsigned char c = (unsigned char)*p;
		if (c == '"') {
			s[n] = '\0';
			r->p = p + 1;
			return s;
		}
		if (c == '\0' || c < 0x20) {
			r->p = p;
			fail(r, c ? "control character in a string" : "unterminated string");
			break;
		}
		if (c != '\\') {
			s[n++] = (char)c;
			p++;
			continue;
		}
		p++;
		switch (*p) {
		case '"':
		case '\\':
		case '/':
			s[n++] = *p;
			break;
		case 'b':
			s[n++] = '\b';
			break;
		case 'f':
			s[n++] = '\f';
			break;
		case 'n':
			s[n++] = '\n';
			break;
		case 'r':
			s[n++] = '\r';
			break;
		case 't':
			s[n++] = '\t';
			break;
		case 'u': {
			unsigned cp, lo;
			if (hex4(p + 1, &cp) < 0) {
				r->p = p;
				fail(r, "bad \\u escape");
				goto out;
			}
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u' && hex4(p + 3, &lo) == 0 &&
			    lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			n += put_utf8(s + n, cp);
			break;
		}
		default:
			r->p = p;
			fail(r, "bad escape");
			goto out;
		}
		p++;
	}
out:
	if (!s)
		fail(r, "out of memory");
	free(s);
	return NULL;
}

static struct jval *read_value(struct reader *r, int depth);

static struct jval *new_val(struct reader *r, enum jtype t)
{
	struct jval *v = calloc(1, sizeof(*v));
	if (!v)
		fail(r, "out of memory");
	else
		v->type = t;
	return v;
}

static struct jval *read_container(struct reader *r, int depth, bool object)
{
	struct jval *v = new_val(r, object ? JOBJECT : JARRAY);
	struct jval **tail = v ? &v->child : NULL;
	char close = object ? '}' : ']';
	if (!v)
		return NULL;
	if (depth >= JSONREAD_MAX_DEPTH) {
		fail(r, "nested too deeply");
		goto bad;
	}
	r->p++;
	skip_ws(r);
	if (*r->p == close) {
		r->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		skip_ws(r);
		if (object) {
			if (*r->p != '"') {
				fail(r, "expected a key");
				goto bad;
			}
			key = read_string(r);
			if (!key)
				goto bad;
			skip_ws(r);
			if (*r->p != ':') {
				free(key);
				fail(r, "expected ':'");
				goto bad;
			}
			r->p++;
		}
		struct jval *e = read_value(r, depth + 1);
		if (!e) {
			free(key);
			goto bad;
		}
		e->key = key;
		*tail = e;
		tail = &e->next;
		skip_ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		if (*r->p == close) {
			r->p++;
			return v;
		}
		fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
		goto bad;
	}
bad:
	jsonread_free(v);
	return NULL;
}

static struct jval *read_value(struct reader *r, int depth)
{
	skip_ws(r);
	char c = *r->p;
	if (c == '{' || c == '[')
		return read_container(r, depth, c == '{');
	if (c == '"') {
		char *s = read_string(r);
		struct jval *v = s ? new_val(r, JSTRING) : NULL;
		if (!v) {
			free(s);
			return NULL;
		}
		v->s = s;
		return v;
	}
	static const struct {
		const char *word;
		enum jtype t;
		bool b;
	} words[] = { { "null", JNULL, false }, { "true", JBOOL, true }, { "false", JBOOL, false } };
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);
		if (strncmp(r->p, words[i].word, n) == 0) {
			struct jval *v = new_val(r, words[i].t);
			if (v)
				v->b = words[i].b;
			r->p += n;
			return v;
		}
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		char *end;
		errno = 0;
		long long n = strtoll(r->p, &end, 10);
		if (errno || *end == '.' || *end == 'e' || *end == 'E') {
			fail(r, "unsupported number");
			return NULL;
		}
		struct jval *v = new_val(r, JINT);
		if (v)
			v->i = n;
		r->p = end;
		return v;
	}
	fail(r, c ? "unexpected character" : "unexpected end");
	return NULL;
}

struct jval *jsonread_parse(const char *text, char *err, size_t errlen)
{
	struct reader r = { text, text, err, errlen, false };
	struct jval *v = read_value(&r, 0);
	if (!v)
		return NULL;
	skip_ws(&r);
	if (*r.p) {
		fail(&r, "trailing text");
		jsonread_free(v);
		return NULL;
	}
	return v;
}

void jsonread_free(struct jval *v)
{
	while (v) {
		struct jval *next = v->next;
		jsonread_free(v->child);
		free(v->s);
		free(v->key);
		free(v);
		v = next;
	}
}

const struct jval *jsonread_get(const struct jval *v, const char *key)
{
	if (!v || v->type != JOBJECT)
		return NULL;
	for (const struct jval *e = v->child; e; e = e->next)
		if (e->key && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

const char *jsonread_str(const struct jval *v, const char *key, const char *def)
{
	const struct jval *e = jsonread_get(v, key);
	return e && e->type == JSTRING ? e->s : def;
}

int64_t jsonread_int(const struct jval *v, const char *key, int64_t def)
{
	const struct jval *e = jsonread_get(v, key);
	return e && e->type == JINT ? e->i : def;
}

bool jsonread_bool(const struct jval *v, const char *key, bool def)
{
	const struct jval *e = jsonread_get(v, key);
	return e && e->type == JBOOL ? e->b : def;
}
