/* Readers of event nodes: find by name (waiting for udev), open, grab, read
 * with timeouts, expect exact sequences or silence. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"
#include "itest.h"

#define QUEUE_MAX 256

struct treader {
	int fd;
	char *devnode;
	struct itest_ev queue[QUEUE_MAX];
	size_t head, len;
	bool gone; /* read() said ENODEV: the device was removed */
};

/* One look: an initialized (udev-processed) eventN whose input parent has
 * this exact name. */
static char *scan_by_name(const char *name)
{
	struct udev *udev = itest_udev_get();
	struct udev_enumerate *en = udev_enumerate_new(udev);
	if (!en)
		ITEST_FAIL("udev_enumerate_new failed");
	udev_enumerate_add_match_subsystem(en, "input");
	udev_enumerate_add_match_sysname(en, "event*");
	udev_enumerate_scan_devices(en);
	char *found = NULL;
	struct udev_list_entry *e;
	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en))
	{
		struct udev_device *dev = udev_device_new_from_syspath(udev, udev_list_entry_get_name(e));
		if (!dev)
			continue;
		struct udev_device *parent = udev_device_get_parent_with_subsystem_devtype(dev, "input", NULL);
		const char *n = parent ? udev_device_get_sysattr_value(parent, "name") : NULL;
		const char *node = udev_device_get_devnode(dev);
		if (n && node && strcmp(n, name) == 0 && udev_device_get_is_initialized(dev))
			found = strdup(node);
		udev_device_unref(dev);
		if (found)
			break;
	}
	udev_enumerate_unref(en);
	return found;
}

char *treader_find_node(const char *name, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	struct udev_monitor *mon = timeout_ms > 0 ? itest_udev_monitor_new() : NULL;
	char *node;
	/* Scan, then sleep until udev reports anything on "input", and rescan. */
	while (!(node = scan_by_name(name)) && mon) {
		struct pollfd pfd = {.fd = udev_monitor_get_fd(mon), .events = POLLIN};
		int left = itest_ms_left(deadline);
		if (left == 0)
			break;
		int r = poll(&pfd, 1, left);
		if (r < 0 && errno != EINTR)
			ITEST_FAIL("poll on the udev monitor: %s", strerror(errno));
		if (r > 0) {
			struct udev_device *dev;
			while ((dev = udev_monitor_receive_device(mon)))
				udev_device_unref(dev);
		}
	}
	if (mon)
		udev_monitor_unref(mon);
	return node;
}

struct treader *treader_open(const char *devnode, bool grab)
{
	struct treader *r = calloc(1, sizeof(*r));
	if (!r)
		ITEST_FAIL("out of memory");
	r->fd = open(devnode, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (r->fd < 0)
		ITEST_FAIL("cannot open %s: %s", devnode, strerror(errno));
	if (grab && ioctl(r->fd, EVIOCGRAB, (void *)1) < 0)
		ITEST_FAIL("cannot grab %s: %s", devnode, strerror(errno));
	r->devnode = strdup(devnode);
	return r;
}

struct treader *treader_open_name(const char *name, bool grab, int timeout_ms)
{
	char *node = treader_find_node(name, timeout_ms);
	if (!node)
		ITEST_FAIL("no input device named '%s' appeared within %d ms", name, timeout_ms);
	struct treader *r = treader_open(node, grab);
	free(node);
	return r;
}

void treader_close(struct treader *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r->devnode);
	free(r);
}

int treader_fd(const struct treader *r) { return r->fd; }
bool treader_gone(const struct treader *r) { return r->gone; }
const char *treader_devnode(const struct treader *r) { return r->devnode; }

/* Moves what the kernel has queued into r->queue; returns false on timeout. */
static bool fill(struct treader *r, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		struct input_event buf[64];
		size_t room = QUEUE_MAX - r->len;
		if (room > 64)
			room = 64;
		if (room == 0)
			return true;
		ssize_t n = read(r->fd, buf, room * sizeof(buf[0]));
		if (n > 0) {
			for (size_t i = 0; i < (size_t)n / sizeof(buf[0]); i++) {
				struct itest_ev *e = &r->queue[(r->head + r->len) % QUEUE_MAX];
				e->type = buf[i].type;
				e->code = buf[i].code;
				e->value = buf[i].value;
				r->len++;
			}
			return true;
		}
		if (n == 0)
			ITEST_FAIL("%s: end of file", r->devnode);
		if (errno == EINTR)
			continue;
		if (errno == ENODEV) {
			/* What was still queued for us is lost with the device. */
			r->gone = true;
			return false;
		}
		if (errno != EAGAIN)
			ITEST_FAIL("read from %s: %s", r->devnode, strerror(errno));
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		int left = itest_ms_left(deadline);
		if (left == 0)
			return false;
		int p = poll(&pfd, 1, left);
		if (p < 0 && errno != EINTR)
			ITEST_FAIL("poll on %s: %s", r->devnode, strerror(errno));
	}
}

int treader_read(struct treader *r, struct itest_ev *ev, int timeout_ms)
{
	if (r->len == 0 && !fill(r, timeout_ms))
		return 0;
	*ev = r->queue[r->head];
	r->head = (r->head + 1) % QUEUE_MAX;
	r->len--;
	return 1;
}

size_t treader_read_frame(struct treader *r, struct itest_ev *evs, size_t max, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	size_t n = 0;
	struct itest_ev ev;
	while (n < max && treader_read(r, &ev, itest_ms_left(deadline)) == 1) {
		evs[n++] = ev;
		if (ev.type == EV_SYN && ev.code == SYN_REPORT)
			return n;
	}
	if (n == max)
		ITEST_FAIL("%s: a frame longer than %zu events", r->devnode, max);
	if (n > 0) {
		char buf[64];
		itest_log("%s: incomplete frame of %zu events, the last %s", r->devnode, n,
			  itest_ev_format(&evs[n - 1], buf, sizeof(buf)));
	}
	return 0;
}

void treader_expect_at(const char *file, int line, struct treader *r, const struct itest_ev *want,
		       size_t n, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	size_t cap = n + 32, got_n = 0;
	struct itest_ev *got = calloc(cap, sizeof(*got));
	if (!got)
		ITEST_FAIL("out of memory");
	bool mismatch = false;
	while (got_n < n && treader_read(r, &got[got_n], itest_ms_left(deadline)) == 1) {
		const struct itest_ev *w = &want[got_n], *g = &got[got_n];
		got_n++;
		if (w->type != g->type || w->code != g->code || w->value != g->value) {
			mismatch = true;
			break;
		}
	}
	if (mismatch || got_n < n) {
		/* For the diff: what else is already there. */
		while (got_n < cap && treader_read(r, &got[got_n], 100) == 1)
			got_n++;
		char what[256];
		if (r->gone)
			snprintf(what, sizeof(what), "%s (the device was removed)", r->devnode);
		else
			snprintf(what, sizeof(what), "%s (waited up to %d ms)", r->devnode, timeout_ms);
		itest_ev_assert_equal_at(file, line, want, n, got, got_n, what);
	}
	itest_count_assertion();
	free(got);
}

void treader_expect_silence_at(const char *file, int line, struct treader *r, int ms)
{
	struct itest_ev ev;
	if (treader_read(r, &ev, ms) == 1) {
		char buf[64];
		itest_fail_at(file, line, "%s: expected no event within %d ms, got %s", r->devnode, ms,
			      itest_ev_format(&ev, buf, sizeof(buf)));
	}
	itest_count_assertion();
}

bool treader_wait_event(struct treader *r, unsigned type, unsigned code, int value, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	struct itest_ev ev;
	while (treader_read(r, &ev, itest_ms_left(deadline)) == 1)
		if (ev.type == type && ev.code == code && ev.value == value)
			return true;
	return false;
}

void treader_drain(struct treader *r)
{
	struct itest_ev ev;
	while (treader_read(r, &ev, 0) == 1)
		;
}

void treader_write_frame(struct treader *r, const struct itest_ev *evs, size_t n)
{
	itest_write_frame(r->fd, r->devnode, evs, n);
}

void treader_set_repeat(struct treader *r, unsigned delay, unsigned period)
{
	unsigned rep[2] = { delay, period };
	ITEST_ASSERT_SYSCALL(ioctl(treader_fd(r), EVIOCSREP, rep));
	treader_write_frame(r, NULL, 0);
	ITEST_ASSERT(treader_wait_event(r, EV_REP, REP_PERIOD, (int)period, 5000));
	ITEST_ASSERT(treader_wait_event(r, EV_SYN, SYN_REPORT, 0, 5000));
}
