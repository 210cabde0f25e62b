/* libvirt device XML, generated for hot-attach and `kvmswitch libvirt-xml`.
 * (Reading a domain's XML is the shell's: src/shell/domxml.c, libxml2.) */
#include "core/virtxml.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- writing ---- */

struct out {
	char *buf;
	size_t len, off;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->off < o->len ? o->len - o->off : 0;
	int n = vsnprintf(o->buf + (room ? o->off : 0), room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		o->overflow = true;
	else
		o->off += (size_t)n;
}

/* An attribute value: names are [A-Za-z0-9._-] (config.c), but escape anyway. */
static void put_escaped(struct out *o, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': put(o, "&amp;"); break;
		case '<': put(o, "&lt;"); break;
		case '>': put(o, "&gt;"); break;
		case '\'': put(o, "&apos;"); break;
		case '"': put(o, "&quot;"); break;
		default: put(o, "%c", *s); break;
		}
	}
}

static int finish(struct out *o)
{
	if (o->overflow) {
		if (o->len)
			o->buf[0] = '\0';
		return -1;
	}
	return (int)o->off;
}

int virtxml_usb_hostdev(char *buf, size_t len, const struct usb_dev *dev)
{
	struct out o = { buf, len, 0, false };
	put(&o,
	    "<hostdev mode='subsystem' type='usb'>"
	    "<source><vendor id='0x%04x'/><product id='0x%04x'/><address bus='%u' device='%u'/></source>"
	    "</hostdev>",
	    dev->vendor, dev->product, dev->bus, dev->device);
	return finish(&o);
}

int virtxml_pci_hostdev(char *buf, size_t len, const struct pci_addr *a)
{
	struct out o = { buf, len, 0, false };
	put(&o,
	    "<hostdev mode='subsystem' type='pci' managed='yes'>"
	    "<source><address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/></source>"
	    "</hostdev>",
	    a->domain, a->bus, a->slot, a->func);
	return finish(&o);
}

void virtxml_pci_format(const struct pci_addr *a, char *buf, size_t len)
{
	snprintf(buf, len, "%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->func);
}

void virtxml_link_path(const char *target, enum vkind kind, char *buf, size_t len)
{
	snprintf(buf, len, VIRTXML_LINK_DIR "/" VIRTXML_LINK_PREFIX "%s-%s", target, vkind_name(kind));
}

/* ---- QEMU's grab toggles ---- */

struct toggle {
	const char *name;
	/* Elements of the chord; each lists the codes QEMU accepts for it.
	 * ctrl-scrolllock takes either Ctrl. */
	uint16_t elem[2][2];
	uint8_t n_elem;
};

static const struct toggle toggles[] = {
	{ "ctrl-ctrl", { { KEY_LEFTCTRL }, { KEY_RIGHTCTRL } }, 2 },
	{ "alt-alt", { { KEY_LEFTALT }, { KEY_RIGHTALT } }, 2 },
	{ "shift-shift", { { KEY_LEFTSHIFT }, { KEY_RIGHTSHIFT } }, 2 },
	{ "meta-meta", { { KEY_LEFTMETA }, { KEY_RIGHTMETA } }, 2 },
	{ "scrolllock", { { KEY_SCROLLLOCK } }, 1 },
	{ "ctrl-scrolllock", { { KEY_LEFTCTRL, KEY_RIGHTCTRL }, { KEY_SCROLLLOCK } }, 2 },
};

static bool elem_equal(const struct chord_key *k, const uint16_t *codes)
{
	size_t n = codes[1] ? 2 : 1;
	if (k->n_alt != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < k->n_alt; j++)
			found |= k->alt[j] == codes[i];
		if (!found)
			return false;
	}
	return true;
}

/* True if chord c is exactly toggle t: then QEMU's toggle is never complete
 * on a target's device, because kvmswitch takes the chord's last key. */
static bool chord_is_toggle(const struct chord *c, const struct toggle *t)
{
	if (c->n != t->n_elem)
		return false;
	bool used[CHORD_MAX_KEYS] = { false };
	for (size_t e = 0; e < t->n_elem; e++) {
		bool found = false;
		for (size_t i = 0; i < c->n && !found; i++) {
			if (!used[i] && elem_equal(&c->key[i], t->elem[e]))
				used[i] = found = true;
		}
		if (!found)
			return false;
	}
	return true;
}

const char *virtxml_grab_toggle(const struct config *cfg, int target)
{
	const struct chord *chords[2] = { &cfg->hotkey, NULL };
	if (target >= 0 && (size_t)target < cfg->n_target)
		chords[1] = &cfg->target[target].hotkey;
	for (size_t c = 0; c < 2; c++) {
		if (!chords[c] || chords[c]->n == 0)
			continue;
		for (size_t t = 0; t < sizeof(toggles) / sizeof(toggles[0]); t++)
			if (chord_is_toggle(chords[c], &toggles[t]))
				return toggles[t].name;
	}
	return NULL;
}

int virtxml_inputs(char *buf, size_t len, const struct config *cfg, int target, enum libvirt_input type,
		   const char *const nodes[VK_COUNT])
{
	struct out o = { buf, len, 0, false };
	const char *name = cfg->target[target].name;
	char path[VK_COUNT][256];
	for (int k = 0; k < VK_COUNT; k++) {
		if (nodes && nodes[k])
			snprintf(path[k], sizeof(path[k]), "%s", nodes[k]);
		else
			virtxml_link_path(name, (enum vkind)k, path[k], sizeof(path[k]));
	}
	if (type == LIBVIRT_INPUT_PASSTHROUGH) {
		put(&o, "<!-- kvmswitch target '");
		put_escaped(&o, name);
		put(&o, "': virtio-input-host devices that mirror kvmswitch's virtual devices;\n"
			"     the guest needs virtio-input drivers (Linux: built in; Windows: virtio-win vioinput). -->\n");
		for (int k = 0; k < VK_COUNT; k++) {
			if (k == VK_TABLET)
				put(&o, "<!-- only once kvmswitch has a tablet (an absolute device was taken):\n");
			put(&o, "<input type='passthrough' bus='virtio'>\n  <source evdev='");
			put_escaped(&o, path[k]);
			put(&o, "'/>\n</input>\n");
			if (k == VK_TABLET)
				put(&o, "-->\n");
		}
		return finish(&o);
	}
	const char *toggle = virtxml_grab_toggle(cfg, target);
	put(&o, "<!-- kvmswitch target '");
	put_escaped(&o, name);
	put(&o, "': QEMU input-linux reads kvmswitch's virtual devices and feeds the guest's\n"
		"     keyboard and mouse (PS/2 by default; add <input type='keyboard' bus='virtio'/> and\n"
		"     <input type='mouse' bus='virtio'/> for virtio ones). kvmswitch does the switching:\n"
		"     grabToggle is ");
	if (toggle)
		put(&o, "kvmswitch's own hotkey, whose last key never reaches QEMU. -->\n");
	else
		put(&o, "a chord hardly ever pressed (no kvmswitch hotkey is one of QEMU's toggles). -->\n");
	put(&o, "<input type='evdev'>\n  <source dev='");
	put_escaped(&o, path[VK_KEYBOARD]);
	put(&o, "' grab='all' repeat='on' grabToggle='%s'/>\n</input>\n", toggle ? toggle : VIRTXML_FALLBACK_TOGGLE);
	put(&o, "<input type='evdev'>\n  <source dev='");
	put_escaped(&o, path[VK_POINTER]);
	put(&o, "'/>\n</input>\n");
	put(&o, "<!-- only once kvmswitch has a tablet (an absolute device was taken), with\n"
		"     <input type='tablet' bus='virtio'/>:\n<input type='evdev'>\n  <source dev='");
	put_escaped(&o, path[VK_TABLET]);
	put(&o, "'/>\n</input>\n-->\n");
	return finish(&o);
}
