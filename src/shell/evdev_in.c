#include "evdev_in.h"

#include <errno.h>
#include <fcntl.h>
#include <libevdev/libevdev.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_MAX 256 /* events per read(); a frame longer than this is split */

struct evdev_in {
	int fd;
	bool writable;
	bool grabbed;
	struct libevdev *dev;
	char *node;
	size_t n;    /* events in buf: complete frames first, then a partial one */
	struct input_event buf[READ_MAX];
};

struct evdev_in *evdev_in_open(const char *node)
{
	struct evdev_in *d = calloc(1, sizeof(*d));
	int err;
	if (!d)
		return NULL;
	d->writable = true;
	d->fd = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (d->fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) {
		d->writable = false;
		d->fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	}
	if (d->fd < 0) {
		err = errno;
		goto fail;
	}
	err = -libevdev_new_from_fd(d->fd, &d->dev);
	if (err)
		goto fail;
	d->node = strdup(node);
	if (!d->node) {
		err = ENOMEM;
		goto fail;
	}
	return d;
fail:
	if (d->dev)
		libevdev_free(d->dev);
	if (d->fd >= 0)
		close(d->fd);
	free(d);
	errno = err;
	return NULL;
}

void evdev_in_close(struct evdev_in *d)
{
	if (!d)
		return;
	libevdev_free(d->dev);
	close(d->fd);
	free(d->node);
	free(d);
}

int evdev_in_fd(const struct evdev_in *d)
{
	return d->fd;
}

const char *evdev_in_node(const struct evdev_in *d)
{
	return d->node;
}

const char *evdev_in_name(const struct evdev_in *d)
{
	const char *n = libevdev_get_name(d->dev);
	return n ? n : "";
}

void evdev_in_describe(struct evdev_in *d, struct router_device_info *info)
{
	memset(info, 0, sizeof(*info));
	info->keyboard = libevdev_has_event_type(d->dev, EV_LED) &&
			 libevdev_has_event_code(d->dev, EV_KEY, KEY_A);
	if (libevdev_has_event_code(d->dev, EV_ABS, ABS_X) && libevdev_has_event_code(d->dev, EV_ABS, ABS_Y)) {
		info->absolute = true;
		for (int a = 0; a < 2; a++) {
			const struct input_absinfo *ai = libevdev_get_abs_info(d->dev, a == 0 ? ABS_X : ABS_Y);
			info->abs_min[a] = ai ? ai->minimum : 0;
			info->abs_max[a] = ai ? ai->maximum : 0;
		}
	}
	for (unsigned l = 0; l < 32 && l <= LED_MAX; l++)
		if (libevdev_get_event_value(d->dev, EV_LED, l))
			info->leds |= 1u << l;
	for (unsigned c = 0; c < KEY_CNT; c++)
		if (libevdev_get_event_value(d->dev, EV_KEY, c))
			keyset_set(&info->held, c, true);
}

int evdev_in_grab(struct evdev_in *d, bool on)
{
	int rc = libevdev_grab(d->dev, on ? LIBEVDEV_GRAB : LIBEVDEV_UNGRAB);
	if (rc == 0)
		d->grabbed = on;
	return rc;
}

bool evdev_in_grabbed(const struct evdev_in *d)
{
	return d->grabbed;
}

int evdev_in_set_leds(struct evdev_in *d, uint32_t leds)
{
	if (!d->writable)
		return -EACCES;
	/* One write for all lock LEDs (libevdev skips those the device lacks).
	 * Always all of them: libevdev's cached values can be stale while
	 * echoes of earlier writes are queued, and the kernel ignores a write
	 * that changes nothing. */
#define LED(l) (l), ((leds >> (l)) & 1 ? LIBEVDEV_LED_ON : LIBEVDEV_LED_OFF)
	return libevdev_kernel_set_led_values(d->dev, LED(LED_NUML), LED(LED_CAPSL), LED(LED_SCROLLL),
					      LED(LED_COMPOSE), LED(LED_KANA), -1);
#undef LED
}

/* libevdev keeps the device's state for its resync: the events of each frame
 * we pass on go into it, as libevdev_next_event would have put them. */
static void track_state(struct evdev_in *d, const struct input_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (ev[i].type) {
		case EV_KEY:
		case EV_ABS:
		case EV_LED:
		case EV_SW:
			libevdev_set_event_value(d->dev, ev[i].type, ev[i].code, ev[i].value);
			break;
		}
	}
}

/* Frames to the sink, their state into libevdev's. */
static void pass(struct evdev_in *d, const struct evdev_in_sink *sink, const struct input_event *ev, size_t n)
{
	if (!n)
		return;
	track_state(d, ev, n);
	sink->frames(sink->data, ev, n);
}

/* After SYN_DROPPED: libevdev drains what is queued, asks the kernel for the
 * real state and yields the difference as frames, which go to the sink. */
static int resync(struct evdev_in *d, const struct evdev_in_sink *sink)
{
	struct input_event ev;
	size_t n = 0;
	int rc = libevdev_next_event(d->dev, LIBEVDEV_READ_FLAG_FORCE_SYNC, &ev);
	if (rc < 0 && rc != -EAGAIN)
		return rc;
	sink->dropped(sink->data);
	while ((rc = libevdev_next_event(d->dev, LIBEVDEV_READ_FLAG_SYNC, &ev)) == LIBEVDEV_READ_STATUS_SYNC) {
		if (n == READ_MAX) {
			sink->frames(sink->data, d->buf, n);
			n = 0;
		}
		d->buf[n++] = ev;
	}
	if (n)
		sink->frames(sink->data, d->buf, n);
	return rc == -EAGAIN ? 0 : rc;
}

/* The number of events up to and including the last SYN_REPORT of buf[0..n). */
static size_t complete(const struct input_event *buf, size_t n)
{
	for (size_t i = n; i > 0; i--)
		if (buf[i - 1].type == EV_SYN && buf[i - 1].code == SYN_REPORT)
			return i;
	return 0;
}

/* The hot path: one read() per call (the loop's epoll is level-triggered,
 * so more data wakes us again), whole frames to the sink, no EAGAIN read. */
int evdev_in_read(struct evdev_in *d, const struct evdev_in_sink *sink)
{
	ssize_t r = read(d->fd, d->buf + d->n, (READ_MAX - d->n) * sizeof(d->buf[0]));
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ENODEV;
	size_t end = d->n + (size_t)r / sizeof(d->buf[0]);
	for (size_t i = d->n; i < end; i++) {
		if (d->buf[i].type == EV_SYN && d->buf[i].code == SYN_DROPPED) {
			/* The complete frames before it stand; the partial one
			 * is void, and so is the frame the kernel was queueing
			 * at the drop, up to the next SYN_REPORT. */
			pass(d, sink, d->buf, complete(d->buf, i));
			size_t j = i + 1;
			while (j < end && !(d->buf[j].type == EV_SYN && d->buf[j].code == SYN_REPORT))
				j++;
			/* The complete frames after that are newer than the drop:
			 * they stand too (a fast mouse's motion is not thrown
			 * away), and libevdev's resync then only adds what the
			 * kernel's state says was lost; libevdev would drain and
			 * discard them. (One drop per read: a second overflow
			 * before the read replaces the first.) */
			if (j < end)
				pass(d, sink, d->buf + j + 1, complete(d->buf + j + 1, end - j - 1));
			d->n = 0;
			return resync(d, sink);
		}
	}
	/* Pass the complete frames; keep a partial one for the next read. */
	size_t done = complete(d->buf, end);
	if (done == 0 && end == READ_MAX)
		done = end; /* a frame longer than the buffer: pass it in pieces */
	if (done) {
		pass(d, sink, d->buf, done);
		memmove(d->buf, d->buf + done, (end - done) * sizeof(d->buf[0]));
	}
	d->n = end - done;
	return 0;
}
