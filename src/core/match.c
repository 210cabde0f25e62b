#include "core/match.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void match_host_only(const struct match_rule *host_only, size_t n, const struct device_desc *dev,
		     struct match_verdict *v)
{
	for (size_t i = 0; i < n && !v->vetoed; i++) {
		if (match_rule_test(&host_only[i], dev)) {
			v->take = v->host_only = true;
			snprintf(v->reason, sizeof(v->reason), "host-only by the rule at line %d", host_only[i].line);
			return;
		}
	}
}

bool match_glob(const char *pattern, const char *text)
{
	return text && fnmatch(pattern, text, 0) == 0;
}

bool match_is_ours(const struct device_desc *dev)
{
	return dev->virtual_dev && dev->name && strncmp(dev->name, "kvmswitch ", 10) == 0;
}

bool match_auto(const struct device_desc *dev)
{
	if (dev->kinds & (DEVKIND_KEYBOARD | DEVKIND_MOUSE))
		return true;
	/* Keys-only nodes that type (a gaming mouse's keyboard node, a macro pad),
	 * but not power buttons, lid switches or volume knobs. */
	return (dev->kinds & DEVKIND_KEY) && dev->typing_keys;
}

static const struct {
	const char *name;
	unsigned kind;
} kind_names[] = {
	{ "keyboard", DEVKIND_KEYBOARD },   { "key", DEVKIND_KEY },
	{ "mouse", DEVKIND_MOUSE },         { "tablet", DEVKIND_TABLET },
	{ "touchpad", DEVKIND_TOUCHPAD },   { "touchscreen", DEVKIND_TOUCHSCREEN },
	{ "joystick", DEVKIND_JOYSTICK },   { "switch", DEVKIND_SWITCH },
};

const char *match_kinds_text(unsigned kinds, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]) && off < len; i++)
		if (kinds & kind_names[i].kind)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", kind_names[i].name);
	if (!off)
		snprintf(buf, len, "-");
	return buf;
}

/* Reads one token: word:value where value may be "quoted" (with \" and \\). */
static int next_token(const char **pp, char *key, size_t keylen, char *val, size_t vallen, char *err,
		      size_t errlen)
{
	const char *p = *pp;
	size_t k = 0, v = 0;
	while (*p && *p != ':' && !isspace((unsigned char)*p)) {
		if (k + 1 >= keylen) {
			snprintf(err, errlen, "match term too long");
			return -1;
		}
		key[k++] = *p++;
	}
	key[k] = '\0';
	val[0] = '\0';
	if (*p != ':') {
		*pp = p;
		return 0;
	}
	p++;
	if (*p == '"') {
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			if (v + 1 >= vallen) {
				snprintf(err, errlen, "match value too long");
				return -1;
			}
			val[v++] = *p++;
		}
		if (*p != '"') {
			snprintf(err, errlen, "unterminated quote in match term '%s:'", key);
			return -1;
		}
		p++;
		if (*p && !isspace((unsigned char)*p)) {
			snprintf(err, errlen, "expected a space after the quoted value of '%s:'", key);
			return -1;
		}
	} else {
		while (*p && !isspace((unsigned char)*p)) {
			if (v + 1 >= vallen) {
				snprintf(err, errlen, "match value too long");
				return -1;
			}
			val[v++] = *p++;
		}
	}
	val[v] = '\0';
	*pp = p;
	return 1;
}

static int parse_hex16(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;
	if (n == 0 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int c = tolower((unsigned char)s[i]);
		if (c >= '0' && c <= '9')
			v = v * 16 + (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (unsigned)(c - 'a' + 10);
		else
			return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

static int parse_term(struct match_term *t, const char *key, const char *val, int has_val, char *err,
		      size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (!has_val) {
		if (strcmp(key, "auto") == 0) {
			t->type = MATCH_AUTO;
			return 0;
		}
		snprintf(err, errlen,
			 "unknown match term '%s' (expected auto, name:, id:, path:, by-id:, by-path:, "
			 "kind: or node:)",
			 key);
		return -1;
	}
	if (val[0] == '\0') {
		snprintf(err, errlen, "empty value for match term '%s:'", key);
		return -1;
	}
	if (strcmp(key, "name") == 0) {
		t->type = MATCH_NAME;
		t->glob = strdup(val);
	} else if (strcmp(key, "id") == 0) {
		const char *colon = strchr(val, ':');
		t->type = MATCH_ID;
		if (!colon || parse_hex16(val, (size_t)(colon - val), &t->vendor) < 0 ||
		    (strcmp(colon + 1, "*") == 0 ? (t->any_product = true, 0)
						  : parse_hex16(colon + 1, strlen(colon + 1), &t->product)) < 0) {
			snprintf(err, errlen, "bad id '%s' (expected VVVV:PPPP in hex, PPPP may be *)", val);
			return -1;
		}
	} else if (strcmp(key, "path") == 0) {
		t->type = MATCH_LINK;
		t->glob = strdup(val);
	} else if (strcmp(key, "by-id") == 0 || strcmp(key, "by-path") == 0) {
		size_t n = strlen(key) + strlen(val) + 32;
		t->type = MATCH_LINK;
		t->glob = malloc(n);
		if (t->glob)
			snprintf(t->glob, n, "/dev/input/%s/%s", key, val);
	} else if (strcmp(key, "node") == 0) {
		t->type = MATCH_NODE;
		t->glob = strdup(val);
	} else if (strcmp(key, "kind") == 0) {
		t->type = MATCH_KIND;
		for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
			if (strcmp(val, kind_names[i].name) == 0)
				t->kinds = kind_names[i].kind;
		if (!t->kinds) {
			snprintf(err, errlen,
				 "unknown kind '%s' (keyboard, key, mouse, tablet, touchpad, "
				 "touchscreen, joystick, switch)",
				 val);
			return -1;
		}
		return 0;
	} else {
		snprintf(err, errlen,
			 "unknown match term '%s:' (expected name:, id:, path:, by-id:, by-path:, kind: "
			 "or node:)",
			 key);
		return -1;
	}
	if ((t->type == MATCH_NAME || t->type == MATCH_LINK || t->type == MATCH_NODE) && !t->glob) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int match_rule_parse(struct match_rule *rule, const char *text, char *err, size_t errlen)
{
	const char *p = text;
	memset(rule, 0, sizeof(*rule));
	for (;;) {
		char key[32], val[256];
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		int r = next_token(&p, key, sizeof(key), val, sizeof(val), err, errlen);
		if (r < 0)
			goto fail;
		struct match_term *terms = realloc(rule->terms, (rule->n_terms + 1) * sizeof(*terms));
		if (!terms) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		rule->terms = terms;
		if (parse_term(&terms[rule->n_terms], key, val, r, err, errlen) < 0) {
			free(terms[rule->n_terms].glob);
			goto fail;
		}
		rule->n_terms++;
	}
	if (rule->n_terms == 0) {
		snprintf(err, errlen, "empty match rule");
		goto fail;
	}
	return 0;
fail:
	match_rule_finish(rule);
	return -1;
}

void match_rule_finish(struct match_rule *rule)
{
	for (size_t i = 0; i < rule->n_terms; i++)
		free(rule->terms[i].glob);
	free(rule->terms);
	rule->terms = NULL;
	rule->n_terms = 0;
}

/* A term's value: bare if it can be (no blank, no leading quote), else in
 * quotes with a backslash before a quote, and before a backslash where the
 * parser would otherwise take it for an escape (before a quote, a
 * backslash or the closing quote). */
static void format_value(struct buf *out, const char *v)
{
	bool quote = *v == '"';
	for (const char *p = v; *p && !quote; p++)
		quote = isspace((unsigned char)*p);
	if (!quote) {
		buf_append(out, v, strlen(v));
		return;
	}
	buf_append(out, "\"", 1);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || (*p == '\\' && (p[1] == '"' || p[1] == '\\' || !p[1])))
			buf_append(out, "\\", 1);
		buf_append(out, p, 1);
	}
	buf_append(out, "\"", 1);
}

/* by-id:/by-path: when the glob is one of theirs (they are stored as the
 * whole path), else path:. */
static void format_link(struct buf *out, const char *glob)
{
	static const char *const dirs[] = { "by-id", "by-path" };
	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(dirs[i]);
		if (!strncmp(glob, "/dev/input/", 11) && !strncmp(glob + 11, dirs[i], n) && glob[11 + n] == '/' &&
		    glob[12 + n]) {
			buf_printf(out, "%s:", dirs[i]);
			format_value(out, glob + 12 + n);
			return;
		}
	}
	buf_append(out, "path:", 5);
	format_value(out, glob);
}

int match_rule_format(const struct match_rule *rule, bool compact, struct buf *out)
{
	for (size_t i = 0; i < rule->n_terms; i++) {
		const struct match_term *t = &rule->terms[i];
		if (i)
			buf_append(out, " ", 1);
		switch (t->type) {
		case MATCH_AUTO:
			buf_append(out, "auto", 4);
			break;
		case MATCH_NAME:
			buf_append(out, "name:", 5);
			format_value(out, t->glob);
			break;
		case MATCH_ID:
			buf_printf(out, compact ? "id:%x:" : "id:%04x:", t->vendor);
			if (t->any_product)
				buf_append(out, "*", 1);
			else
				buf_printf(out, compact ? "%x" : "%04x", t->product);
			break;
		case MATCH_LINK:
			format_link(out, t->glob);
			break;
		case MATCH_NODE:
			buf_append(out, "node:", 5);
			format_value(out, t->glob);
			break;
		case MATCH_KIND:
			for (size_t k = 0; k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
				if (t->kinds == kind_names[k].kind)
					buf_printf(out, "kind:%s", kind_names[k].name);
			break;
		}
	}
	return out->failed ? -1 : 0;
}

static bool term_test(const struct match_term *t, const struct device_desc *dev)
{
	switch (t->type) {
	case MATCH_AUTO:
		return match_auto(dev);
	case MATCH_NAME:
		return match_glob(t->glob, dev->name);
	case MATCH_ID:
		return dev->vendor == t->vendor && (t->any_product || dev->product == t->product);
	case MATCH_LINK:
		for (size_t i = 0; i < dev->n_links; i++)
			if (match_glob(t->glob, dev->links[i]))
				return true;
		return false;
	case MATCH_NODE:
		return match_glob(t->glob, dev->node);
	case MATCH_KIND:
		return (dev->kinds & t->kinds) != 0;
	}
	return false;
}

bool match_rule_test(const struct match_rule *rule, const struct device_desc *dev)
{
	for (size_t i = 0; i < rule->n_terms; i++)
		if (!term_test(&rule->terms[i], dev))
			return false;
	return rule->n_terms > 0;
}

void match_decide(const struct match_rule *match, size_t n_match, const struct match_rule *exclude,
		  size_t n_exclude, const struct device_desc *dev, struct match_verdict *out)
{
	out->take = out->host_only = false;
	out->vetoed = true;
	if (match_is_ours(dev)) {
		snprintf(out->reason, sizeof(out->reason), "kvmswitch's own virtual device");
		return;
	}
	for (size_t i = 0; i < n_exclude; i++) {
		if (match_rule_test(&exclude[i], dev)) {
			snprintf(out->reason, sizeof(out->reason), "excluded by the rule at line %d",
				 exclude[i].line);
			return;
		}
	}
	out->vetoed = false;
	if (n_match == 0) {
		out->take = match_auto(dev);
		if (out->take)
			snprintf(out->reason, sizeof(out->reason), "built-in choice: %s",
				 dev->kinds & DEVKIND_KEYBOARD ? "keyboard"
				 : dev->kinds & DEVKIND_MOUSE  ? "mouse"
							       : "keys-only device with typing keys");
		else
			snprintf(out->reason, sizeof(out->reason),
				 "not a keyboard or mouse (add a match rule to take it)");
		return;
	}
	for (size_t i = 0; i < n_match; i++) {
		if (match_rule_test(&match[i], dev)) {
			out->take = true;
			snprintf(out->reason, sizeof(out->reason), "matched by the rule at line %d",
				 match[i].line);
			return;
		}
	}
	snprintf(out->reason, sizeof(out->reason), "no match rule selects it");
}
