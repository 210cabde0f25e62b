#include "vdev.h"

#include <errno.h>
#include <fcntl.h>
#include <libevdev/libevdev-uinput.h>
#include <libevdev/libevdev.h>
#include <linux/uinput.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/router.h"

struct vdev {
	int fd;
	struct libevdev_uinput *ui; /* NULL for an adopted fd */
	char name[80];
	char sysname[64];
	char devnode[64];
	/* Keys down as the router sent them, and as the kernel took them: they
	 * differ only after a failed write (`owed` keys). */
	struct keyset want, sent;
	size_t owed;
	uint64_t failed;
};

/* Device identity: BUS_VIRTUAL, vendor 0, product 'K' 'S' + kind. */
#define VDEV_PRODUCT_BASE 0x4b53

static void enable_keys(struct libevdev *d, unsigned from, unsigned to)
{
	for (unsigned c = from; c <= to; c++)
		libevdev_enable_event_code(d, EV_KEY, c, NULL);
}

static struct libevdev *template(const char *target, enum vkind kind, bool guest, char *name, size_t namelen)
{
	struct libevdev *d = libevdev_new();
	if (!d)
		return NULL;
	snprintf(name, namelen, "kvmswitch %s %s", target, vkind_name(kind));
	libevdev_set_name(d, name);
	libevdev_set_id_bustype(d, BUS_VIRTUAL);
	libevdev_set_id_vendor(d, 0);
	libevdev_set_id_product(d, VDEV_PRODUCT_BASE + kind);
	libevdev_set_id_version(d, 1);
	/* The udev rules (udev/71-kvmswitch.rules) hide VM targets' devices
	 * from the host's desktop and keep the host target's visible; set on
	 * the uinput fd by vdev_create. */
	libevdev_set_phys(d, guest ? VDEV_PHYS_GUEST : VDEV_PHYS_HOST);
	libevdev_enable_event_code(d, EV_MSC, MSC_SCAN, NULL);
	switch (kind) {
	case VK_KEYBOARD:
		/* Every key outside the button block. */
		enable_keys(d, KEY_ESC, BTN_MISC - 1);
		enable_keys(d, KEY_OK, KEY_MAX);
		for (unsigned l = LED_NUML; l <= LED_KANA; l++)
			libevdev_enable_event_code(d, EV_LED, l, NULL);
		/* The kernel repeats held keys on this device (250 ms, 33 ms). */
		libevdev_enable_event_type(d, EV_REP);
		break;
	case VK_POINTER:
		enable_keys(d, BTN_LEFT, BTN_TASK);
		libevdev_enable_event_code(d, EV_REL, REL_X, NULL);
		libevdev_enable_event_code(d, EV_REL, REL_Y, NULL);
		libevdev_enable_event_code(d, EV_REL, REL_WHEEL, NULL);
		libevdev_enable_event_code(d, EV_REL, REL_HWHEEL, NULL);
		libevdev_enable_event_code(d, EV_REL, REL_WHEEL_HI_RES, NULL);
		libevdev_enable_event_code(d, EV_REL, REL_HWHEEL_HI_RES, NULL);
		libevdev_enable_property(d, INPUT_PROP_POINTER);
		break;
	case VK_TABLET: {
		/* An absolute pointer like QEMU's usb-tablet. */
		struct input_absinfo abs = { .minimum = 0, .maximum = ROUTER_TABLET_MAX, .resolution = 0 };
		enable_keys(d, BTN_LEFT, BTN_TASK);
		libevdev_enable_event_code(d, EV_ABS, ABS_X, &abs);
		libevdev_enable_event_code(d, EV_ABS, ABS_Y, &abs);
		break;
	}
	case VK_COUNT:
		break;
	}
	return d;
}

static int fill_names(struct vdev *v)
{
	char sys[64];
	if (ioctl(v->fd, UI_GET_SYSNAME(sizeof(sys)), sys) < 0)
		return -errno;
	snprintf(v->sysname, sizeof(v->sysname), "%s", sys);
	/* The event node is the one child eventN of /sys/devices/virtual/input/inputN. */
	char path[160];
	snprintf(path, sizeof(path), "/sys/devices/virtual/input/%s", sys);
	for (int i = 0; i < 1024; i++) {
		char p2[200];
		snprintf(p2, sizeof(p2), "%s/event%d", path, i);
		if (access(p2, F_OK) == 0) {
			snprintf(v->devnode, sizeof(v->devnode), "/dev/input/event%d", i);
			return 0;
		}
	}
	return -ENOENT;
}

struct vdev *vdev_create(const char *target, enum vkind kind, bool guest)
{
	struct vdev *v = calloc(1, sizeof(*v));
	struct libevdev *d = NULL;
	int rc = -ENOMEM;
	if (!v)
		goto fail;
	v->fd = open("/dev/uinput", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (v->fd < 0) {
		rc = -errno;
		goto fail;
	}
	d = template(target, kind, guest, v->name, sizeof(v->name));
	if (!d)
		goto fail;
	/* libevdev does not pass the phys on to uinput: set it first (the
	 * kernel keeps it through UI_DEV_SETUP). */
	if (ioctl(v->fd, UI_SET_PHYS, libevdev_get_phys(d)) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = libevdev_uinput_create_from_device(d, v->fd, &v->ui);
	if (rc < 0)
		goto fail;
	libevdev_free(d);
	d = NULL;
	const char *node = libevdev_uinput_get_devnode(v->ui);
	const char *sys = libevdev_uinput_get_syspath(v->ui);
	if (node)
		snprintf(v->devnode, sizeof(v->devnode), "%s", node);
	if (sys) {
		const char *slash = strrchr(sys, '/');
		snprintf(v->sysname, sizeof(v->sysname), "%s", slash ? slash + 1 : sys);
	}
	if (!node || !sys)
		fill_names(v);
	return v;
fail:
	libevdev_free(d);
	if (v) {
		if (v->fd >= 0 && !v->ui)
			close(v->fd);
		free(v);
	}
	errno = -rc;
	return NULL;
}

/* Is /sys/devices/virtual/input/SYSNAME/name `name`? */
static bool sysfs_name_is(const char *sysname, const char *name)
{
	char path[160], buf[128] = "";
	snprintf(path, sizeof(path), "/sys/devices/virtual/input/%s/name", sysname);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ok && strcmp(buf, name) == 0;
}

struct vdev *vdev_adopt(int fd, const char *target, enum vkind kind)
{
	struct vdev *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->fd = fd;
	snprintf(v->name, sizeof(v->name), "kvmswitch %s %s", target, vkind_name(kind));
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	int rc = fill_names(v);
	if (rc == 0 && !sysfs_name_is(v->sysname, v->name))
		rc = -EINVAL; /* not the device its name in the store says */
	if (rc < 0) {
		free(v);
		errno = -rc;
		return NULL;
	}
	return v;
}

void vdev_destroy(struct vdev *v)
{
	if (!v)
		return;
	if (v->ui) {
		/* libevdev_uinput_destroy issues UI_DEV_DESTROY; the fd is ours. */
		libevdev_uinput_destroy(v->ui);
		close(v->fd);
	} else {
		ioctl(v->fd, UI_DEV_DESTROY);
		close(v->fd);
	}
	free(v);
}

void vdev_forget(struct vdev *v)
{
	if (!v)
		return;
	if (v->ui) {
		/* libevdev_uinput_destroy() always issues UI_DEV_DESTROY: point
		 * its fd number at /dev/null first (dup2 closes our reference to
		 * the uinput file atomically), so the ioctl goes nowhere. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0 && dup2(null, v->fd) >= 0)
			libevdev_uinput_destroy(v->ui);
		if (null >= 0)
			close(null);
	}
	close(v->fd);
	free(v);
}

static int write_all(int fd, const struct input_event *ev, size_t n)
{
	size_t len = n * sizeof(*ev);
	ssize_t w = write(fd, ev, len);
	if (w < 0)
		return -errno;
	return (size_t)w == len ? 0 : -EIO;
}

/* Returns whether the frame presses or releases a key. Inline: it runs on
 * every frame written. */
static inline __attribute__((always_inline)) bool track_keys(struct keyset *s, const struct input_event *ev, size_t n)
{
	bool any = false;
	for (size_t i = 0; i < n; i++)
		if (ev[i].type == EV_KEY && (ev[i].value == 0 || ev[i].value == 1)) {
			keyset_set(s, ev[i].code, ev[i].value);
			any = true;
		}
	return any;
}

static size_t count_owed(const struct vdev *v)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof(v->want.bits) / sizeof(v->want.bits[0]); i++)
		n += (size_t)__builtin_popcountll(v->want.bits[i] ^ v->sent.bits[i]);
	return n;
}

int vdev_catch_up(struct vdev *v)
{
	static struct input_event ev[KEY_CNT + 1];
	size_t n = 0;
	if (!v->owed)
		return 0;
	for (unsigned c = 0; c < KEY_CNT; c++)
		if (keyset_has(&v->want, c) != keyset_has(&v->sent, c))
			ev[n++] = (struct input_event){ .type = EV_KEY, .code = (uint16_t)c,
							.value = keyset_has(&v->want, c) };
	ev[n++] = (struct input_event){ .type = EV_SYN, .code = SYN_REPORT };
	int rc = write_all(v->fd, ev, n);
	if (rc == 0) {
		v->sent = v->want;
		v->owed = 0;
	} else {
		v->failed++;
	}
	return rc;
}

int vdev_write(struct vdev *v, const struct input_event *ev, size_t n)
{
	if (v->owed)
		vdev_catch_up(v);
	bool keys = track_keys(&v->want, ev, n);
	int rc = write_all(v->fd, ev, n);
	if (rc == 0) {
		if (keys) /* most frames (pointer motion) have none */
			track_keys(&v->sent, ev, n);
	} else {
		v->owed = count_owed(v);
		v->failed++;
	}
	return rc;
}

size_t vdev_owed(const struct vdev *v)
{
	return v->owed;
}

uint64_t vdev_failed_writes(const struct vdev *v)
{
	return v->failed;
}

int vdev_read(struct vdev *v, void (*fn)(void *data, unsigned code, int value), void *data)
{
	struct input_event ev[32];
	for (;;) {
		ssize_t r = read(v->fd, ev, sizeof(ev));
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (r == 0)
			return 0;
		for (size_t i = 0; i < (size_t)r / sizeof(ev[0]); i++)
			if (ev[i].type == EV_LED)
				fn(data, ev[i].code, ev[i].value);
		if ((size_t)r < sizeof(ev))
			return 0;
	}
}

bool vdev_adopted(const struct vdev *v)
{
	return !v->ui;
}

int vdev_fd(const struct vdev *v)
{
	return v->fd;
}

const char *vdev_name(const struct vdev *v)
{
	return v->name;
}

const char *vdev_devnode(const struct vdev *v)
{
	return v->devnode;
}
