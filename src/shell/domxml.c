/* A domain's <hostdev> and evdev <input> elements, read with libxml2 (domxml.h). */
#include "domxml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Every subsystem hostdev (libvirt writes them in <devices>). */
#define HOSTDEV_XPATH "//hostdev[@mode='subsystem'][@type='usb' or @type='pci']"

static bool attr_is(xmlNode *n, const char *name, const char *want)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	bool is = v && strcmp((const char *)v, want) == 0;
	xmlFree(v);
	return is;
}

/* A number attribute: 0x-prefixed hex, else decimal, at most max. Returns
 * 0, or -1 if it is missing or not such a number. */
static int attr_num(xmlNode *n, const char *name, unsigned long max, unsigned long *out)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	const char *s = (const char *)v;
	size_t len = s ? strlen(s) : 0;
	int rc = -1;
	if (len > 0 && len <= 16) {
		bool hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
		const char *digits = hex ? s + 2 : s;
		char *end;
		unsigned long num = strtoul(digits, &end, hex ? 16 : 10);
		if (!*end && end != digits && num <= max) {
			*out = num;
			rc = 0;
		}
	}
	xmlFree(v);
	return rc;
}

static bool is_element(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !n->ns && strcmp((const char *)n->name, name) == 0;
}

/* The host side of a usb hostdev: <source> with <vendor id>, <product id>
 * and <address bus device> (not the guest-side <address> outside it). */
static int read_usb_source(xmlNode *src, struct domxml_hostdev *h)
{
	for (xmlNode *n = src->children; n; n = n->next) {
		unsigned long a, b;
		if (is_element(n, "vendor")) {
			if (attr_num(n, "id", 0xffff, &a) < 0)
				return -1;
			h->vendor = (uint16_t)a;
			h->has_ids = true;
		} else if (is_element(n, "product")) {
			if (attr_num(n, "id", 0xffff, &a) < 0)
				return -1;
			h->product = (uint16_t)a;
		} else if (is_element(n, "address")) {
			if (attr_num(n, "bus", 0xffff, &a) < 0 || attr_num(n, "device", 0xffff, &b) < 0)
				return -1;
			h->bus = (unsigned)a;
			h->device = (unsigned)b;
			h->has_address = true;
		}
	}
	return 0;
}

/* <source><address domain bus slot function/></source>; domain may be left
 * out (0). */
static int read_pci_source(xmlNode *src, struct domxml_hostdev *h)
{
	for (xmlNode *n = src->children; n; n = n->next) {
		unsigned long a, b, c, d;
		if (!is_element(n, "address"))
			continue;
		if (attr_num(n, "domain", 0xffff, &a) < 0)
			a = 0;
		if (attr_num(n, "bus", 0xff, &b) < 0 || attr_num(n, "slot", 0x1f, &c) < 0 ||
		    attr_num(n, "function", 0x7, &d) < 0)
			return -1;
		h->addr = (struct pci_addr){ (uint16_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
		h->has_address = true;
	}
	return 0;
}

static int read_hostdev(xmlNode *hd, struct domxml_hostdev *h)
{
	memset(h, 0, sizeof(*h));
	h->pci = attr_is(hd, "type", "pci");
	h->managed = attr_is(hd, "managed", "yes");
	for (xmlNode *n = hd->children; n; n = n->next)
		if (is_element(n, "source"))
			return h->pci ? read_pci_source(n, h) : read_usb_source(n, h);
	return 0;
}

/* Parses xml and calls fn(node, index, data) for each node xpath selects.
 * Returns how many there are, or -1 if the XML is malformed or fn returned
 * < 0. "" has none. */
static int each_node(const char *xml, const char *xpath, int (*fn)(xmlNode *n, int index, void *data), void *data)
{
	size_t len = strlen(xml);
	if (len == 0)
		return 0;
	if (len > INT_MAX)
		return -1;
	/* Once per process before threads share libxml2; only one thread
	 * parses (the libvirt worker's, or the CLI's), so calling it here is
	 * enough. */
	xmlInitParser();
	xmlDoc *doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -1;
	xmlXPathContext *ctx = xmlXPathNewContext(doc);
	xmlXPathObject *res = ctx ? xmlXPathEvalExpression((const xmlChar *)xpath, ctx) : NULL;
	int count = -1;
	if (res && res->type == XPATH_NODESET) {
		int n = res->nodesetval ? res->nodesetval->nodeNr : 0;
		for (count = 0; count < n; count++) {
			if (fn(res->nodesetval->nodeTab[count], count, data) < 0) {
				count = -1;
				break;
			}
		}
	}
	xmlXPathFreeObject(res);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return count;
}

struct hostdevs {
	struct domxml_hostdev *out;
	size_t max;
};

static int one_hostdev(xmlNode *n, int i, void *data)
{
	struct hostdevs *hs = data;
	struct domxml_hostdev h;
	if (read_hostdev(n, &h) < 0)
		return -1;
	if ((size_t)i < hs->max)
		hs->out[i] = h;
	return 0;
}

int domxml_parse_hostdevs(const char *xml, struct domxml_hostdev *out, size_t max)
{
	struct hostdevs hs = { out, max };
	return each_node(xml, HOSTDEV_XPATH, one_hostdev, &hs);
}

struct inputs {
	struct domxml_input *out;
	size_t max;
};

/* <input type='evdev'><source dev='PATH'/> (input-linux) or
 * <input type='passthrough'><source evdev='PATH'/> (virtio-input-host). */
static int one_input(xmlNode *n, int i, void *data)
{
	struct inputs *is = data;
	struct domxml_input in = { .passthrough = attr_is(n, "type", "passthrough") };
	for (xmlNode *c = n->children; c; c = c->next) {
		if (!is_element(c, "source"))
			continue;
		xmlChar *v = xmlGetNoNsProp(c, (const xmlChar *)(in.passthrough ? "evdev" : "dev"));
		if (v && strlen((const char *)v) < sizeof(in.source))
			snprintf(in.source, sizeof(in.source), "%s", (const char *)v);
		xmlFree(v);
	}
	if ((size_t)i < is->max)
		is->out[i] = in;
	return 0;
}

int domxml_parse_inputs(const char *xml, struct domxml_input *out, size_t max)
{
	struct inputs is = { out, max };
	return each_node(xml, "//devices/input[@type='evdev' or @type='passthrough']", one_input, &is);
}

bool domxml_hostdev_is_usb(const struct domxml_hostdev *h, const struct usb_dev *d)
{
	return !h->pci && h->has_address && h->bus == d->bus && h->device == d->device &&
	       (!h->has_ids || (h->vendor == d->vendor && h->product == d->product));
}

bool domxml_hostdev_is_pci(const struct domxml_hostdev *h, const struct pci_addr *a)
{
	return h->pci && h->has_address && h->addr.domain == a->domain && h->addr.bus == a->bus &&
	       h->addr.slot == a->slot && h->addr.func == a->func;
}
