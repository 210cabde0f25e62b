#include "evdev_in.h"

#include <errno.h>
#include <fcntl.h>
#include <libevdev/libevdev.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "core/framer.h"

struct evdev_in {
	int fd;
	bool writable;
	struct libevdev *dev;
	char *node;
	struct framer fr;
	/* Set once, so that a read builds nothing: the framer's callbacks,
	 * and the sink of the read under way. */
	struct framer_out out;
	const struct evdev_in_sink *sink;
};

static void out_frames(void *data, const struct input_event *ev, size_t n);
static void out_dropped(void *data, const struct input_event *drop);

struct evdev_in *evdev_in_open(const char *node)
{
	struct evdev_in *d = calloc(1, sizeof(*d));
	int err;
	if (!d)
		return NULL;
	framer_init(&d->fr);
	d->out = (struct framer_out){ d, out_frames, out_dropped };
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
	/* Stamps on the clock the grab instants are read from (and the
	 * latency figures): CLOCK_MONOTONIC, not the default wall clock. */
	err = -libevdev_set_clock_id(d->dev, CLOCK_MONOTONIC);
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

/* ---- the instant of a grab change ----
 *
 * The kernel decides who reads a frame as it queues it: every reader, or
 * only the one holding the grab. To find that instant on the frames' own
 * clock, a second reader of the node (the observer) is open only around the
 * change: it gets exactly what every reader other than kvmswitch got. The
 * frames it holds, and the microsecond boundaries the clock is spun past,
 * bound the instant exactly (docs/DESIGN.md, "Who owns an event at a grab
 * change"). Costs a few syscalls per grab change, none per event. */

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Spins until the clock has left microsecond t (at most a microsecond):
 * whatever the kernel stamps from then on is stamped after t. */
static int64_t past(int64_t t)
{
	int64_t now;
	while ((now = mono_us()) <= t)
		;
	return now;
}

/* The kernel holds the device's event lock while it queues a frame for
 * every reader; EVIOCGKEYCODE takes that lock (and changes nothing), so once
 * it returns, a frame being queued when it was called is in every queue. */
static void barrier(int fd)
{
	unsigned int kc[2] = { 0, 0 };
	int rc = ioctl(fd, EVIOCGKEYCODE, kc);
	(void)rc; /* -EINVAL without a keymap: the lock was taken all the same */
}

static int observer_open(const char *node)
{
	int fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int clk = CLOCK_MONOTONIC;
	if (fd >= 0 && ioctl(fd, EVIOCSCLOCKID, &clk) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* What the observer read: the frames stamped after `after`. */
struct seen {
	unsigned frames;
	int64_t first, last;      /* their stamps */
	unsigned n_first, n_last; /* frames stamped exactly first / last */
	bool overflowed;          /* its queue overflowed (SYN_DROPPED) */
};

static void observer_read(int fd, int64_t after, struct seen *s)
{
	struct input_event ev[64];
	ssize_t r;
	while ((r = read(fd, ev, sizeof(ev))) > 0) {
		for (size_t i = 0; i < (size_t)r / sizeof(ev[0]); i++) {
			if (ev[i].type != EV_SYN)
				continue;
			if (ev[i].code == SYN_DROPPED) {
				s->overflowed = true;
				continue;
			}
			int64_t t = framer_stamp_us(&ev[i]);
			if (ev[i].code != SYN_REPORT || t <= after)
				continue;
			if (s->frames++ == 0) {
				s->first = t;
				s->n_first = 0;
			}
			s->n_first += t == s->first;
			if (t != s->last)
				s->n_last = 0;
			s->last = t;
			s->n_last++;
		}
	}
}

static bool any_key_down(int fd)
{
	unsigned long bits[(KEY_CNT + 8 * sizeof(long) - 1) / (8 * sizeof(long))] = { 0 };
	if (ioctl(fd, EVIOCGKEY(sizeof(bits)), bits) < 0)
		return false;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (bits[i])
			return true;
	return false;
}

/* The grab took effect after every frame the observer has (it read all the
 * host read between opening and the grab), and after o_us, the instant it
 * was open; frames the kernel stamped at the observer's last microsecond
 * beyond its count are kvmswitch's alone. */
static int64_t grab_instant(struct evdev_in *d, int ob, int64_t o_us)
{
	struct seen s = { 0 };
	barrier(ob);
	observer_read(ob, o_us, &s);
	if (!s.frames)
		return o_us + 1;
	framer_set_edge(&d->fr, FRAMER_EDGE_KEEP_FIRST, s.last, s.n_last);
	return s.last + 1;
}

/* The ungrab took effect before every frame the observer has; o_us is the
 * clock just before the ungrab. */
static int64_t ungrab_instant(struct evdev_in *d, int ob, int64_t o_us)
{
	struct seen s = { 0 };
	int64_t t1 = mono_us();
	past(t1);
	barrier(ob);
	observer_read(ob, INT64_MIN, &s);
	if (s.overflowed)
		/* More frames since the ungrab than a reader's queue holds:
		 * kvmswitch's own queue overflowed as well, so what it reads
		 * next came after the ungrab (and its resync decides the rest). */
		return o_us + 1;
	if (!s.frames)
		return t1 + 1;
	if (s.first >= t1) {
		/* More frames may yet be stamped at that microsecond. */
		past(s.first);
		barrier(ob);
		observer_read(ob, INT64_MIN, &s);
	}
	framer_set_edge(&d->fr, FRAMER_EDGE_BUMP_LAST, s.first, s.n_first);
	return s.first + 1;
}

int evdev_in_grab(struct evdev_in *d, bool on, struct router_grab *res)
{
	memset(res, 0, sizeof(*res));
	int ob = observer_open(d->node);
	int64_t o_us = past(mono_us());
	/* A frame is stamped a moment before the kernel hands it to the
	 * readers, in one hold of the event lock: a grab that takes effect in
	 * between gives kvmswitch alone a frame stamped before it. The barrier
	 * waits until every frame stamped before o_us is in every reader's
	 * queue, so that they are all the host's too. (Seen in the test VM
	 * with kvmswitch at real-time priority: a key stamped before the grab,
	 * read by kvmswitch alone, was judged the host's and lost.) */
	if (ob >= 0)
		barrier(ob);
	int rc = libevdev_grab(d->dev, on ? LIBEVDEV_GRAB : LIBEVDEV_UNGRAB);
	if (rc < 0 && on) {
		if (ob >= 0)
			close(ob);
		return rc;
	}
	if (ob < 0) {
		/* No second reader (out of fds): the instant is known to the
		 * microsecond the syscall began in. */
		res->at_us = o_us;
	} else if (on) {
		res->at_us = grab_instant(d, ob, o_us - 1);
		/* A key down now was pressed since the router last read the
		 * device: if the host read the press, it must read the release,
		 * so the grab is taken back (the router grabs again once the
		 * key is up). */
		if (any_key_down(ob)) {
			int64_t u_us = past(mono_us());
			libevdev_grab(d->dev, LIBEVDEV_UNGRAB);
			res->undone = true;
			res->undone_us = ungrab_instant(d, ob, u_us - 1);
		}
	} else {
		res->at_us = ungrab_instant(d, ob, o_us - 1);
	}
	if (ob >= 0)
		close(ob);
	res->queue_empty = !evdev_in_queued(d);
	return rc < 0 ? rc : 0;
}

bool evdev_in_queued(const struct evdev_in *d)
{
	struct pollfd pfd = { d->fd, POLLIN, 0 };
	return d->fr.n != 0 || poll(&pfd, 1, 0) != 0;
}

int evdev_in_inject_release(struct evdev_in *d, unsigned code)
{
	if (!d->writable)
		return -EACCES;
	/* The kernel drops a release of a key it has up (which it is: only
	 * kvmswitch read its release), so a press goes first. */
	const struct input_event ev[4] = {
		{ .type = EV_KEY, .code = (uint16_t)code, .value = 1 },
		{ .type = EV_SYN, .code = SYN_REPORT },
		{ .type = EV_KEY, .code = (uint16_t)code, .value = 0 },
		{ .type = EV_SYN, .code = SYN_REPORT },
	};
	ssize_t w = write(d->fd, ev, sizeof(ev));
	if (w < 0)
		return -errno;
	return w == (ssize_t)sizeof(ev) ? 0 : -EIO;
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

/* ---- reading ---- */

/* Which event types libevdev's state tracks (a bit per type). */
#define STATEFUL_TYPES ((1u << EV_KEY) | (1u << EV_ABS) | (1u << EV_LED) | (1u << EV_SW))

/* Frames to the sink, their state into libevdev's, which its resync after a
 * SYN_DROPPED compares with the kernel's. */
static void out_frames(void *data, const struct input_event *ev, size_t n)
{
	struct evdev_in *d = data;
	/* Pointer motion, most frames, has none: the framer says so. */
	for (size_t i = 0; (d->fr.out_types & STATEFUL_TYPES) && i < n; i++)
		if (ev[i].type < 32 && (STATEFUL_TYPES >> ev[i].type & 1))
			libevdev_set_event_value(d->dev, ev[i].type, ev[i].code, ev[i].value);
	d->sink->frames(d->sink->data, ev, n);
}

static void out_dropped(void *data, const struct input_event *drop)
{
	struct evdev_in *d = data;
	d->sink->dropped(d->sink->data);
}

/* After SYN_DROPPED: libevdev drains what is queued, asks the kernel for the
 * real state and yields the difference, stamped with when it asked. */
static int resync(struct evdev_in *d, const struct evdev_in_sink *sink)
{
	struct input_event ev, buf[FRAMER_MAX];
	size_t n = 0;
	int rc = libevdev_next_event(d->dev, LIBEVDEV_READ_FLAG_FORCE_SYNC, &ev);
	if (rc < 0 && rc != -EAGAIN)
		return rc;
	int64_t now = mono_us();
	while ((rc = libevdev_next_event(d->dev, LIBEVDEV_READ_FLAG_SYNC, &ev)) == LIBEVDEV_READ_STATUS_SYNC) {
		if (n == FRAMER_MAX) {
			sink->resync(sink->data, buf, n);
			n = 0;
		}
		framer_set_stamp_us(&ev, now);
		buf[n++] = ev;
	}
	if (n)
		sink->resync(sink->data, buf, n);
	return rc == -EAGAIN ? 0 : rc;
}

/* The hot path: one read() per call (the loop's epoll is level-triggered,
 * so more data wakes us again), whole frames to the sink. */
int evdev_in_read(struct evdev_in *d, const struct evdev_in_sink *sink)
{
	size_t space;
	struct input_event *p = framer_space(&d->fr, &space);
	ssize_t r = read(d->fd, p, space * sizeof(*p));
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ENODEV;
	size_t n = (size_t)r / sizeof(*p);
	d->sink = sink;
	if (framer_feed(&d->fr, n, n < space, &d->out))
		return resync(d, sink);
	return 0;
}
