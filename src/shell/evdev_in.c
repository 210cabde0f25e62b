#include "evdev_in.h"

#include <errno.h>
#include <fcntl.h>
#include <libevdev/libevdev.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FRAME_MAX 256

struct evdev_in {
	int fd;
	bool writable;
	bool grabbed;
	struct libevdev *dev;
	char *node;
	size_t n;                       /* events of the frame being read */
	struct input_event buf[FRAME_MAX];
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
	int rc = 0;
	if (!d->writable)
		return -EACCES;
	/* Every LED, always: libevdev's cached value can be stale while echoes
	 * of earlier writes are still queued, and the kernel ignores a write
	 * that changes nothing. */
	for (unsigned l = 0; l < LED_CNT && l < 32 && rc == 0; l++) {
		if (libevdev_has_event_code(d->dev, EV_LED, l))
			rc = libevdev_kernel_set_led_value(d->dev, l, (leds >> l) & 1 ? LIBEVDEV_LED_ON : LIBEVDEV_LED_OFF);
	}
	return rc;
}

int evdev_in_read(struct evdev_in *d, const struct evdev_in_sink *sink)
{
	unsigned flags = LIBEVDEV_READ_FLAG_NORMAL;
	size_t done = 0; /* events of complete frames in buf not yet passed on */
	for (;;) {
		struct input_event ev;
		int rc = libevdev_next_event(d->dev, flags, &ev);
		if (rc == -EAGAIN) {
			if (flags == LIBEVDEV_READ_FLAG_SYNC) {
				/* Resync done; back to the live stream. */
				flags = LIBEVDEV_READ_FLAG_NORMAL;
				continue;
			}
			break;
		}
		if (rc < 0) {
			if (done)
				sink->frames(sink->data, d->buf, done);
			return rc;
		}
		if (rc == LIBEVDEV_READ_STATUS_SYNC && flags == LIBEVDEV_READ_FLAG_NORMAL) {
			/* SYN_DROPPED: the partial frame is void. Pass the complete
			 * ones, then read libevdev's resync as frames of their own. */
			if (done)
				sink->frames(sink->data, d->buf, done);
			d->n = done = 0;
			sink->dropped(sink->data);
			flags = LIBEVDEV_READ_FLAG_SYNC;
			continue;
		}
		if (d->n >= FRAME_MAX) {
			/* A frame longer than any device writes: pass what we have. */
			sink->frames(sink->data, d->buf, d->n);
			d->n = done = 0;
		}
		d->buf[d->n++] = ev;
		if (ev.type == EV_SYN && ev.code == SYN_REPORT) {
			done = d->n;
			/* Batch frames, but hand them on before the buffer fills. */
			if (FRAME_MAX - d->n < 64) {
				sink->frames(sink->data, d->buf, done);
				d->n = done = 0;
			}
		}
	}
	if (done) {
		sink->frames(sink->data, d->buf, done);
		memmove(d->buf, d->buf + done, (d->n - done) * sizeof(d->buf[0]));
		d->n -= done;
	}
	return 0;
}
