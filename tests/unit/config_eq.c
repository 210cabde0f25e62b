/* Field by field: a key added to kvmswitch.conf adds its field here, so the
 * printer's round trip covers it (src/core/config.c, keys[]). */
#include "config_eq.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"

struct cmp {
	char *why;
	size_t len;
	bool differs;
};

static bool differ(struct cmp *c, const char *what, const char *ctx)
{
	if (!c->differs)
		snprintf(c->why, c->len, "%s%s%s differs", ctx, *ctx ? ": " : "", what);
	c->differs = true;
	return false;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

#define SAME_STR(c, a, b, what, ctx) (str_eq((a), (b)) || differ((c), (what), (ctx)))
#define SAME(c, a, b, what, ctx) ((a) == (b) || differ((c), (what), (ctx)))

static bool chord_eq(const struct chord *a, const struct chord *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->key[i].n_alt != b->key[i].n_alt ||
		    memcmp(a->key[i].alt, b->key[i].alt, a->key[i].n_alt * sizeof(a->key[i].alt[0])))
			return false;
	return true;
}

static bool keyset_eq(const struct keyset *a, const struct keyset *b)
{
	return !memcmp(a->bits, b->bits, sizeof(a->bits));
}

static bool term_eq(const struct match_term *a, const struct match_term *b)
{
	return a->type == b->type && str_eq(a->glob, b->glob) && a->vendor == b->vendor && a->product == b->product &&
	       a->any_product == b->any_product && a->kinds == b->kinds;
}

static bool rules_eq(struct cmp *c, const struct match_rule *a, size_t na, const struct match_rule *b, size_t nb,
		     const char *what)
{
	if (na != nb)
		return differ(c, what, "number of rules");
	for (size_t i = 0; i < na; i++) {
		if (a[i].n_terms != b[i].n_terms)
			return differ(c, what, "number of terms");
		for (size_t t = 0; t < a[i].n_terms; t++)
			if (!term_eq(&a[i].terms[t], &b[i].terms[t]))
				return differ(c, what, "a term");
	}
	return true;
}

static bool target_eq(struct cmp *c, const struct target_conf *a, const struct target_conf *b)
{
	const char *n = a->name;
	if (!SAME_STR(c, a->name, b->name, "name", n) || !SAME(c, a->type, b->type, "type", n) ||
	    !SAME(c, a->mode, b->mode, "mode", n) ||
	    !SAME_STR(c, a->hotkey_text.text, b->hotkey_text.text, "hotkey", n) ||
	    !(chord_eq(&a->hotkey, &b->hotkey) || differ(c, "resolved hotkey", n)) ||
	    !SAME_STR(c, a->on_enter, b->on_enter, "on-enter", n) ||
	    !SAME_STR(c, a->on_leave, b->on_leave, "on-leave", n) ||
	    !SAME_STR(c, a->domain, b->domain, "domain", n) || !SAME_STR(c, a->uri, b->uri, "uri", n) ||
	    !SAME(c, a->libvirt_input, b->libvirt_input, "libvirt-input", n) ||
	    !SAME(c, a->return_after_ms, b->return_after_ms, "return-after", n) ||
	    !SAME(c, a->n_usb, b->n_usb, "number of usb devices", n) ||
	    !SAME(c, a->n_pci, b->n_pci, "number of pci devices", n) ||
	    !SAME(c, a->follow, b->follow, "follow", n) || !SAME_STR(c, a->qmp, b->qmp, "qmp", n) ||
	    !SAME(c, a->libvirt_hotplug, b->libvirt_hotplug, "libvirt-hotplug", n))
		return false;
	for (size_t i = 0; i < a->n_usb; i++)
		if (a->usb[i].vendor != b->usb[i].vendor || a->usb[i].product != b->usb[i].product ||
		    strcmp(a->usb[i].serial, b->usb[i].serial))
			return differ(c, "a usb device", n);
	for (size_t i = 0; i < a->n_pci; i++)
		if (a->pci[i].domain != b->pci[i].domain || a->pci[i].bus != b->pci[i].bus ||
		    a->pci[i].slot != b->pci[i].slot || a->pci[i].func != b->pci[i].func)
			return differ(c, "a pci device", n);
	return true;
}

bool config_equal(const struct config *a, const struct config *b, char *why, size_t len)
{
	struct cmp c = { why, len, false };
	const struct listener_conf *la = &a->listener, *lb = &b->listener;
	if (!SAME_STR(&c, a->hotkey_text.text, b->hotkey_text.text, "hotkey", "[general]") ||
	    !(chord_eq(&a->hotkey, &b->hotkey) || differ(&c, "resolved hotkey", "[general]")) ||
	    !SAME_STR(&c, a->emergency_text.text, b->emergency_text.text, "emergency", "[general]") ||
	    !(chord_eq(&a->emergency, &b->emergency) || differ(&c, "resolved emergency", "[general]")) ||
	    !SAME_STR(&c, a->start, b->start, "start", "[general]") ||
	    !SAME(&c, a->realtime, b->realtime, "realtime", "[general]") ||
	    !SAME_STR(&c, a->xkb_layout, b->xkb_layout, "xkb-layout", "[general]") ||
	    !SAME_STR(&c, a->xkb_variant, b->xkb_variant, "xkb-variant", "[general]") ||
	    !SAME_STR(&c, a->xkb_model, b->xkb_model, "xkb-model", "[general]") ||
	    !SAME_STR(&c, a->xkb_options, b->xkb_options, "xkb-options", "[general]") ||
	    !rules_eq(&c, a->match, a->n_match, b->match, b->n_match, "match") ||
	    !rules_eq(&c, a->exclude, a->n_exclude, b->exclude, b->n_exclude, "exclude") ||
	    !rules_eq(&c, a->host_only, a->n_host_only, b->host_only, b->n_host_only, "host-only") ||
	    !SAME_STR(&c, a->host_keys.text.text, b->host_keys.text.text, "host-keys", "[general]") ||
	    !(keyset_eq(&a->host_keys.keys, &b->host_keys.keys) || differ(&c, "resolved host-keys", "[general]")) ||
	    !SAME_STR(&c, a->shared_keys.text.text, b->shared_keys.text.text, "shared-keys", "[general]") ||
	    !(keyset_eq(&a->shared_keys.keys, &b->shared_keys.keys) || differ(&c, "resolved shared-keys", "[general]")) ||
	    !SAME_STR(&c, a->lock_text.text, b->lock_text.text, "lock", "[general]") ||
	    !(chord_eq(&a->lock, &b->lock) || differ(&c, "resolved lock", "[general]")) ||
	    !SAME(&c, a->start_locked, b->start_locked, "start-locked", "[general]") ||
	    !SAME(&c, a->hotkey_action, b->hotkey_action, "hotkey-action", "[general]") ||
	    !SAME(&c, a->n_target, b->n_target, "number of targets", "") ||
	    !SAME(&c, la->enabled, lb->enabled, "enable", "[listener]") ||
	    !SAME_STR(&c, la->address, lb->address, "address", "[listener]") ||
	    !SAME_STR(&c, la->secret_file, lb->secret_file, "secret-file", "[listener]") ||
	    !SAME(&c, la->rate_per_minute, lb->rate_per_minute, "rate-limit", "[listener]"))
		return false;
	for (size_t t = 0; t < a->n_target; t++)
		if (!target_eq(&c, &a->target[t], &b->target[t]))
			return false;
	return true;
}
