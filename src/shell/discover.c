#include "discover.h"

#include <errno.h>
#include <libudev.h>
#include <linux/input.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/keys.h"

struct discover {
	struct udev *udev;
	struct udev_monitor *mon;
};

struct discover *discover_create(void)
{
	struct discover *ds = calloc(1, sizeof(*ds));
	if (!ds)
		return NULL;
	ds->udev = udev_new();
	if (!ds->udev)
		goto fail;
	ds->mon = udev_monitor_new_from_netlink(ds->udev, "udev");
	if (!ds->mon || udev_monitor_filter_add_match_subsystem_devtype(ds->mon, "input", NULL) < 0 ||
	    udev_monitor_enable_receiving(ds->mon) < 0)
		goto fail;
	return ds;
fail:
	discover_destroy(ds);
	errno = errno ? errno : ENOMEM;
	return NULL;
}

void discover_destroy(struct discover *ds)
{
	if (!ds)
		return;
	udev_monitor_unref(ds->mon);
	udev_unref(ds->udev);
	free(ds);
}

int discover_fd(const struct discover *ds)
{
	return udev_monitor_get_fd(ds->mon);
}

static bool prop(struct udev_device *d, const char *name)
{
	const char *v = udev_device_get_property_value(d, name);
	return v && strcmp(v, "1") == 0;
}

static unsigned hex16(const char *s)
{
	return s ? (unsigned)strtoul(s, NULL, 16) & 0xffff : 0;
}

/* capabilities/key: hex words, most significant first, long-sized. Does the
 * device have any key of the KEY_ESC..KEY_KPDOT block? */
static bool typing_keys(const char *caps)
{
	if (!caps)
		return false;
	unsigned long words[KEY_CNT / (8 * sizeof(long)) + 1] = { 0 };
	size_t n = 0;
	char *copy = strdup(caps), *save = NULL;
	if (!copy)
		return false;
	for (char *w = strtok_r(copy, " ", &save); w && n < sizeof(words) / sizeof(words[0]);
	     w = strtok_r(NULL, " ", &save))
		words[n++] = strtoul(w, NULL, 16);
	free(copy);
	const unsigned bits = 8 * sizeof(long);
	for (unsigned c = KEY_ESC; c <= KEY_KPDOT; c++) {
		size_t idx = c / bits; /* counted from the last word */
		if (idx < n && (words[n - 1 - idx] >> (c % bits)) & 1)
			return true;
	}
	return false;
}

static int describe(struct udev_device *ud, struct discovered *out)
{
	const char *node = udev_device_get_devnode(ud);
	const char *sysname = udev_device_get_sysname(ud);
	memset(out, 0, sizeof(*out));
	if (!sysname || strncmp(sysname, "event", 5) != 0)
		return -1;
	snprintf(out->node, sizeof(out->node), "%s", node ? node : "");
	if (!node)
		snprintf(out->node, sizeof(out->node), "/dev/input/%s", sysname);
	snprintf(out->syspath, sizeof(out->syspath), "%s", udev_device_get_syspath(ud));
	struct udev_device *parent = udev_device_get_parent_with_subsystem_devtype(ud, "input", NULL);
	const char *name = parent ? udev_device_get_sysattr_value(parent, "name") : NULL;
	snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
	struct device_desc *d = &out->desc;
	d->node = out->node;
	d->name = out->name;
	if (parent) {
		d->bustype = (uint16_t)hex16(udev_device_get_sysattr_value(parent, "id/bustype"));
		d->vendor = (uint16_t)hex16(udev_device_get_sysattr_value(parent, "id/vendor"));
		d->product = (uint16_t)hex16(udev_device_get_sysattr_value(parent, "id/product"));
		d->typing_keys = typing_keys(udev_device_get_sysattr_value(parent, "capabilities/key"));
	}
	d->kinds = (prop(ud, "ID_INPUT_KEYBOARD") ? DEVKIND_KEYBOARD : 0) | (prop(ud, "ID_INPUT_KEY") ? DEVKIND_KEY : 0) |
		   (prop(ud, "ID_INPUT_MOUSE") ? DEVKIND_MOUSE : 0) | (prop(ud, "ID_INPUT_TABLET") ? DEVKIND_TABLET : 0) |
		   (prop(ud, "ID_INPUT_TOUCHPAD") ? DEVKIND_TOUCHPAD : 0) |
		   (prop(ud, "ID_INPUT_TOUCHSCREEN") ? DEVKIND_TOUCHSCREEN : 0) |
		   (prop(ud, "ID_INPUT_JOYSTICK") ? DEVKIND_JOYSTICK : 0) | (prop(ud, "ID_INPUT_SWITCH") ? DEVKIND_SWITCH : 0);
	d->virtual_dev = strstr(out->syspath, "/devices/virtual/") != NULL;
	struct udev_list_entry *e;
	udev_list_entry_foreach(e, udev_device_get_devlinks_list_entry(ud))
	{
		if (d->n_links >= DEVICE_MAX_LINKS)
			break;
		snprintf(out->links[d->n_links], sizeof(out->links[0]), "%s", udev_list_entry_get_name(e));
		d->links[d->n_links] = out->links[d->n_links];
		d->n_links++;
	}
	return 0;
}

void discover_copy(struct discovered *dst, const struct discovered *src)
{
	if (dst != src)
		*dst = *src;
	dst->desc.node = dst->node;
	dst->desc.name = dst->name;
	for (size_t l = 0; l < dst->desc.n_links; l++)
		dst->desc.links[l] = dst->links[l];
}

int discover_enumerate(struct discover *ds, void (*fn)(void *data, const struct discovered *dev), void *data)
{
	struct udev_enumerate *en = udev_enumerate_new(ds->udev);
	if (!en)
		return -ENOMEM;
	udev_enumerate_add_match_subsystem(en, "input");
	udev_enumerate_add_match_sysname(en, "event*");
	int rc = udev_enumerate_scan_devices(en);
	if (rc < 0) {
		udev_enumerate_unref(en);
		return rc;
	}
	struct udev_list_entry *e;
	struct discovered *dev = malloc(sizeof(*dev));
	if (!dev) {
		udev_enumerate_unref(en);
		return -ENOMEM;
	}
	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en))
	{
		struct udev_device *ud = udev_device_new_from_syspath(ds->udev, udev_list_entry_get_name(e));
		if (!ud)
			continue;
		/* Not yet processed by udev: its add event will come. */
		if (udev_device_get_is_initialized(ud) && describe(ud, dev) == 0)
			fn(data, dev);
		udev_device_unref(ud);
	}
	free(dev);
	udev_enumerate_unref(en);
	return 0;
}

int discover_dispatch(struct discover *ds,
		      void (*fn)(void *data, enum discover_action action, const struct discovered *dev), void *data)
{
	struct udev_device *ud;
	struct discovered *dev = malloc(sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	while ((ud = udev_monitor_receive_device(ds->mon))) {
		const char *action = udev_device_get_action(ud);
		if (action && describe(ud, dev) == 0) {
			if (strcmp(action, "add") == 0 || strcmp(action, "change") == 0)
				fn(data, DISCOVER_ADD, dev);
			else if (strcmp(action, "remove") == 0)
				fn(data, DISCOVER_REMOVE, dev);
		}
		udev_device_unref(ud);
	}
	free(dev);
	return 0;
}
