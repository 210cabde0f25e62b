/* A small JSON reader into a tree, for the CLI's human-readable views of the
 * daemon's JSON replies (and tests). Pure. Numbers are kept as integers (the
 * daemon writes no others); a fraction or exponent is an error. */
#ifndef KVMSWITCH_CORE_JSONREAD_H
#define KVMSWITCH_CORE_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONREAD_MAX_DEPTH 32

enum jtype { JNULL, JBOOL, JINT, JSTRING, JARRAY, JOBJECT };

struct jval {
	enum jtype type;
	bool b;
	int64_t i;
	char *s;             /* JSTRING: the unescaped text (UTF-8) */
	char *key;           /* a member of an object: its key */
	struct jval *child;  /* JARRAY, JOBJECT: the first element */
	struct jval *next;   /* the next sibling */
};

/* Parses a whole text. Returns the tree, or NULL with a message in err. */
struct jval *jsonread_parse(const char *text, char *err, size_t errlen);
void jsonread_free(struct jval *v);

/* The member `key` of an object, or NULL (also when v is NULL or no object). */
const struct jval *jsonread_get(const struct jval *v, const char *key);
/* The string of member `key`, or `def` when it is missing or not a string. */
const char *jsonread_str(const struct jval *v, const char *key, const char *def);
/* The integer / boolean of member `key`, or `def`. */
int64_t jsonread_int(const struct jval *v, const char *key, int64_t def);
bool jsonread_bool(const struct jval *v, const char *key, bool def);

#endif
