/* uinput test devices: create (and wait for udev), write frames, read what
 * consumers write back (LEDs), destroy (and wait for udev). */
#include <errno.h>
#include <libevdev/libevdev-uinput.h>
#include <libevdev/libevdev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "itest.h"

struct tdev {
	struct libevdev *dev;
	struct libevdev_uinput *ui;
	char *name;
	char *syspath;     /* .../inputN */
	char *ev_syspath;  /* .../inputN/eventM */
	char *devnode;     /* /dev/input/eventM */
};

#define TDEV_VENDOR 0x4b56 /* "KV" */

static void enable(struct libevdev *dev, unsigned type, unsigned code, const void *data)
{
	if (libevdev_enable_event_code(dev, type, code, data) < 0)
		ITEST_FAIL("cannot enable %s %s", libevdev_event_type_get_name(type),
			   libevdev_event_code_get_name(type, code));
}

static void setup_keyboard(struct libevdev *dev)
{
	libevdev_set_id_product(dev, 1);
	for (unsigned c = KEY_ESC; c < BTN_MISC; c++)
		enable(dev, EV_KEY, c, NULL);
	for (unsigned c = KEY_OK; c <= KEY_MAX; c++) {
		if ((c >= BTN_DPAD_UP && c <= BTN_DPAD_RIGHT) ||
		    (c >= BTN_TRIGGER_HAPPY && c <= BTN_TRIGGER_HAPPY40))
			continue;
		enable(dev, EV_KEY, c, NULL);
	}
	for (unsigned c = 0; c <= LED_CHARGING; c++)
		enable(dev, EV_LED, c, NULL);
	enable(dev, EV_MSC, MSC_SCAN, NULL);
	/* No autorepeat: on a loaded machine a key a test holds for a moment
	 * would repeat, and a reader expecting exact events would see the
	 * repeats. A test that wants them asks (tdev_create_spec with EV_REP). */
}

static void setup_mouse(struct libevdev *dev)
{
	libevdev_set_id_product(dev, 2);
	for (unsigned c = BTN_LEFT; c <= BTN_TASK; c++)
		enable(dev, EV_KEY, c, NULL);
	static const unsigned rel[] = {REL_X, REL_Y, REL_WHEEL, REL_HWHEEL, REL_WHEEL_HI_RES,
				       REL_HWHEEL_HI_RES};
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
		enable(dev, EV_REL, rel[i], NULL);
}

static void setup_tablet(struct libevdev *dev)
{
	libevdev_set_id_product(dev, 3);
	struct input_absinfo abs = {.minimum = 0, .maximum = 32767, .resolution = 100};
	enable(dev, EV_ABS, ABS_X, &abs);
	enable(dev, EV_ABS, ABS_Y, &abs);
	enable(dev, EV_KEY, BTN_LEFT, NULL);
	enable(dev, EV_KEY, BTN_RIGHT, NULL);
	enable(dev, EV_KEY, BTN_TOOL_PEN, NULL);
	enable(dev, EV_KEY, BTN_TOUCH, NULL);
	libevdev_enable_property(dev, INPUT_PROP_DIRECT);
}

static void setup_spec(struct libevdev *dev, const char *spec)
{
	char *copy = strdup(spec), *save = NULL;
	if (!copy)
		ITEST_FAIL("out of memory");
	for (char *tok = strtok_r(copy, " \t\n,", &save); tok; tok = strtok_r(NULL, " \t\n,", &save)) {
		char *eq = strchr(tok, '=');
		if (eq) {
			*eq = '\0';
			long v = strtol(eq + 1, NULL, 0);
			if (strcmp(tok, "bus") == 0)
				libevdev_set_id_bustype(dev, (int)v);
			else if (strcmp(tok, "vendor") == 0)
				libevdev_set_id_vendor(dev, (int)v);
			else if (strcmp(tok, "product") == 0)
				libevdev_set_id_product(dev, (int)v);
			else if (strcmp(tok, "version") == 0)
				libevdev_set_id_version(dev, (int)v);
			else
				ITEST_FAIL("tdev spec: unknown id field '%s'", tok);
			continue;
		}
		if (strncmp(tok, "INPUT_PROP_", 11) == 0) {
			int prop = libevdev_property_from_name(tok);
			if (prop < 0 || libevdev_enable_property(dev, (unsigned)prop) < 0)
				ITEST_FAIL("tdev spec: unknown property '%s'", tok);
			continue;
		}
		if (strncmp(tok, "EV_", 3) == 0) {
			int type = libevdev_event_type_from_name(tok);
			if (type < 0 || libevdev_enable_event_type(dev, (unsigned)type) < 0)
				ITEST_FAIL("tdev spec: unknown event type '%s'", tok);
			continue;
		}
		char *colon = strchr(tok, ':');
		if (colon)
			*colon = '\0';
		int type = libevdev_event_type_from_code_name(tok);
		int code = libevdev_event_code_from_code_name(tok);
		if (type < 0 || code < 0)
			ITEST_FAIL("tdev spec: unknown code '%s'", tok);
		if (type == EV_ABS) {
			struct input_absinfo abs = {.minimum = 0, .maximum = 32767};
			if (colon) {
				char *rest = colon + 1, *end;
				abs.minimum = (int)strtol(rest, &end, 0);
				if (*end != ':')
					ITEST_FAIL("tdev spec: want %s:MIN:MAX[:RES]", tok);
				abs.maximum = (int)strtol(end + 1, &end, 0);
				if (*end == ':')
					abs.resolution = (int)strtol(end + 1, NULL, 0);
			}
			enable(dev, EV_ABS, (unsigned)code, &abs);
		} else if (type == EV_REP) {
			int v = code == REP_DELAY ? 250 : 33;
			enable(dev, EV_REP, (unsigned)code, &v);
		} else {
			enable(dev, (unsigned)type, (unsigned)code, NULL);
		}
	}
	free(copy);
}

static struct tdev *create(const char *name, enum tdev_kind kind, const char *spec)
{
	struct tdev *d = calloc(1, sizeof(*d));
	if (!d)
		ITEST_FAIL("out of memory");
	const char *prefix = ITEST_DEVICE_PREFIX;
	if (asprintf(&d->name, "%s%s", strncmp(name, prefix, strlen(prefix)) == 0 ? "" : prefix,
		     name) < 0)
		ITEST_FAIL("out of memory");
	d->dev = libevdev_new();
	if (!d->dev)
		ITEST_FAIL("libevdev_new failed");
	libevdev_set_name(d->dev, d->name);
	libevdev_set_id_bustype(d->dev, BUS_VIRTUAL);
	libevdev_set_id_vendor(d->dev, TDEV_VENDOR);
	libevdev_set_id_version(d->dev, 1);
	if (spec)
		setup_spec(d->dev, spec);
	else if (kind == TDEV_KEYBOARD)
		setup_keyboard(d->dev);
	else if (kind == TDEV_MOUSE)
		setup_mouse(d->dev);
	else
		setup_tablet(d->dev);

	/* Listen before creating, so the "add" cannot be missed. */
	struct udev_monitor *mon = itest_udev_monitor_new();
	int rc = libevdev_uinput_create_from_device(d->dev, LIBEVDEV_UINPUT_OPEN_MANAGED, &d->ui);
	if (rc < 0)
		ITEST_FAIL("cannot create uinput device '%s': %s%s", d->name, strerror(-rc),
			   rc == -ENOENT ? " (no /dev/uinput: run it in tests/vm/run)" : "");
	const char *sp = libevdev_uinput_get_syspath(d->ui);
	if (!sp)
		ITEST_FAIL("no syspath for uinput device '%s'", d->name);
	d->syspath = strdup(sp);
	char *evprefix;
	if (asprintf(&evprefix, "%s/event", d->syspath) < 0)
		ITEST_FAIL("out of memory");
	struct udev_device *ev = itest_udev_monitor_wait(
		mon, "add", evprefix, true, itest_now_ms() + ITEST_UDEV_TIMEOUT_MS);
	if (!ev)
		ITEST_FAIL("udev did not announce the event node of '%s' (%s) within %d ms",
			   d->name, d->syspath, ITEST_UDEV_TIMEOUT_MS);
	free(evprefix);
	const char *node = udev_device_get_devnode(ev);
	if (!node)
		ITEST_FAIL("udev announced %s without a device node", udev_device_get_syspath(ev));
	d->devnode = strdup(node);
	d->ev_syspath = strdup(udev_device_get_syspath(ev));
	udev_device_unref(ev);
	udev_monitor_unref(mon);
	return d;
}

struct tdev *tdev_create(enum tdev_kind kind, const char *name)
{
	return create(name, kind, NULL);
}

struct tdev *tdev_create_spec(const char *name, const char *spec)
{
	return create(name, TDEV_KEYBOARD, spec);
}

void tdev_destroy(struct tdev *d)
{
	if (!d)
		return;
	struct udev_monitor *mon = itest_udev_monitor_new();
	libevdev_uinput_destroy(d->ui);
	struct udev_device *ev = itest_udev_monitor_wait(mon, "remove", d->ev_syspath, false,
							 itest_now_ms() + ITEST_UDEV_TIMEOUT_MS);
	if (!ev)
		ITEST_FAIL("udev did not announce the removal of '%s' (%s) within %d ms", d->name,
			   d->devnode, ITEST_UDEV_TIMEOUT_MS);
	udev_device_unref(ev);
	udev_monitor_unref(mon);
	libevdev_free(d->dev);
	free(d->name);
	free(d->syspath);
	free(d->ev_syspath);
	free(d->devnode);
	free(d);
}

const char *tdev_name(const struct tdev *d) { return d->name; }
const char *tdev_devnode(const struct tdev *d) { return d->devnode; }
const char *tdev_syspath(const struct tdev *d) { return d->syspath; }
int tdev_fd(const struct tdev *d) { return libevdev_uinput_get_fd(d->ui); }

void tdev_write_frame(struct tdev *d, const struct itest_ev *evs, size_t n)
{
	char what[160];
	snprintf(what, sizeof(what), "uinput device '%s'", d->name);
	itest_write_frame(tdev_fd(d), what, evs, n);
}

void tdev_key(struct tdev *d, unsigned code, int value)
{
	struct itest_ev ev = {EV_KEY, (uint16_t)code, value};
	tdev_write_frame(d, &ev, 1);
}

void tdev_tap(struct tdev *d, unsigned code)
{
	tdev_key(d, code, 1);
	tdev_key(d, code, 0);
}

int tdev_read(struct tdev *d, struct itest_ev *ev, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pfd = {.fd = tdev_fd(d), .events = POLLIN};
		int r = poll(&pfd, 1, itest_ms_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ITEST_FAIL("poll on uinput device '%s': %s", d->name, strerror(errno));
		if (r == 0)
			return 0;
		struct input_event ie;
		ssize_t n = read(tdev_fd(d), &ie, sizeof(ie));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n != (ssize_t)sizeof(ie))
			ITEST_FAIL("read from uinput device '%s': %s", d->name,
				   n < 0 ? strerror(errno) : "short read");
		ev->type = ie.type;
		ev->code = ie.code;
		ev->value = ie.value;
		return 1;
	}
}

bool tdev_wait_event(struct tdev *d, unsigned type, unsigned code, int value, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	struct itest_ev ev;
	while (tdev_read(d, &ev, itest_ms_left(deadline)) == 1) {
		if (ev.type == type && ev.code == code && ev.value == value)
			return true;
		char buf[64];
		itest_log("%s: skipping back-written %s", d->name, itest_ev_format(&ev, buf, sizeof(buf)));
	}
	return false;
}
