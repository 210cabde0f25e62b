/* The router. Invariants (docs/DESIGN.md):
 *  - a key pressed on a target is released on that same target;
 *  - on a switch every key still down on the old target is released there,
 *    and the physical release that follows later is swallowed;
 *  - a device changes grab only when none of its keys is held, so the host
 *    never sees a press without its release (the emergency path excepted);
 *  - every frame has one owner, decided by the kernel as it queued it: the
 *    host if the device was not grabbed then, else kvmswitch alone, and a
 *    frame only kvmswitch read always reaches a target;
 *  - a hotkey's completing key never reaches any target;
 *  - a host key (and the host's copy of a shared key) goes to the host and
 *    stays there until it is up, whatever switches come in between; a
 *    host-only device's events never reach a VM.
 */
#include "core/router.h"

#include "core/framer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Per-device key state: KS_UP, KS_HOST, KS_SWALLOWED or target index + 1. */
#define KS_UP 0
#define KS_HOST 0xfe      /* down; the host read the press, so it must read the release */
#define KS_SWALLOWED 0xff /* down; its release goes nowhere (its press went nowhere, or
			   * to a target that was given the release already) */

#define OBUF_MAX 128
/* For the event path's own helpers: the compiler would not always inline
 * them into both copies of it (feed_plain, feed_traced). */
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define GRAB_HISTORY 16

/* A grab change: from at_us on, the device was (not) grabbed. */
struct grab_change {
	int64_t at_us;
	bool grabbed;
};

struct rdev {
	struct router_device_info info;
	bool grabbed;
	bool want_grab;
	bool grab_failed;
	/* The active target takes this device whole (libvirt attaches it to
	 * its domain): it is not grabbed, the host reads it until it leaves. */
	bool moved;
	uint16_t n_down;
	uint16_t n_host; /* keys in KS_HOST */
	uint8_t key[KEY_CNT];
	/* Keys whose press the host read but whose release only kvmswitch did
	 * (it came after a grab): the host must be given them. */
	struct keyset missed;
	bool any_missed;
	/* The grab changes frames not read yet may predate, oldest first, and
	 * the state before the first: who read a frame of a given stamp. */
	bool grabbed_before;
	uint8_t n_change;
	struct grab_change change[GRAB_HISTORY];
	/* A SYN_DROPPED was met; its resync is still to come. It straddles a
	 * grab change if one lies after the last event read before the drop. */
	bool resync_pending, resync_straddles;
	/* Keys whose press went to the host as a host or shared key: held
	 * there until the key is up, whatever switches come in between. Their
	 * key[] state is a shared key's other target, or KS_SWALLOWED. */
	struct keyset pinned;
	uint16_t n_pinned;
};

struct rtarget {
	/* Devices holding each key on this target: up to two per device (a
	 * tablet's BTN_TOUCH and BTN_LEFT are both its left button). */
	uint16_t count[VK_COUNT][KEY_CNT];
	uint32_t held;                    /* (kind, code) pairs with count > 0 */
	uint32_t leds;
};

/* A source event's kernel stamp, as the event carries it: copied to the
 * events it becomes without converting it (make bench counts that). */
struct stamp {
	int64_t sec, usec;
};

struct obuf {
	int target;
	struct stamp stamp; /* the source frame's kernel stamp, or 0 */
	size_t n;
	struct input_event ev[OBUF_MAX];
};

struct router {
	const struct config *cfg;
	struct router_output out;
	struct rdev *dev[ROUTER_MAX_DEVICES];
	struct rtarget *tgt;
	size_t n_tgt;
	int active;
	int last_vm;
	bool started;
	bool released;
	uint8_t phys[KEY_CNT]; /* devices physically holding each key */
	struct keyset held;    /* keys physically held on any device */
	uint32_t host_leds;
	uint64_t deadline;
	int msc_pending;       /* MSC_SCAN value waiting for the event it belongs to */
	bool msc_have;
	int last_kind;         /* kind of the last event queued in this frame, or -1 */
	int feeding;           /* the device whose batch is being fed, or -1 */
	struct stamp cur;      /* stamp of the source event being routed, or 0 */
	struct obuf obuf[VK_COUNT];
	unsigned queued;       /* kinds whose obuf holds events (bit 1 << kind) */
	struct router_stats stats;
	int dest, host;        /* dest_target() of other devices and of host-only ones */
	bool locked;           /* the cycling and target hotkeys do nothing */
	bool any_kept;         /* the config has host or shared keys */
	struct keyset kept;    /* its host and shared keys */
	router_trace_fn trace; /* where events go, for the monitor; NULL: nobody asks */
	void *trace_data;
};

const char *switch_reason_name(enum switch_reason why)
{
	static const char *const names[] = {
		[SWITCH_START] = "start",
		[SWITCH_HOTKEY] = "hotkey",
		[SWITCH_TARGET_HOTKEY] = "target-hotkey",
		[SWITCH_COMMAND] = "command",
		[SWITCH_EMERGENCY] = "emergency",
		[SWITCH_TIMER] = "timer",
		[SWITCH_DOMAIN_GONE] = "domain-gone",
		[SWITCH_RELOAD] = "reload",
		[SWITCH_ATTACH_FAILED] = "attach-failed",
		[SWITCH_DOMAIN_STARTED] = "domain-started",
	};
	if ((unsigned)why < sizeof(names) / sizeof(names[0]) && names[why])
		return names[why];
	return "?";
}

static int host_index(const struct router *r)
{
	return config_host_index(r->cfg);
}

static const struct target_conf *tconf(const struct router *r, int t)
{
	return &r->cfg->target[t];
}

/* True when the active target gets our virtual devices' events; false when
 * the host reads the physical devices itself (native host, released, usb). */
static bool forwarding(const struct router *r)
{
	return r->started && !r->released && config_target_forwards(r->cfg, r->active);
}

/* Does the host get our virtual devices' events (virtual mode)? Then
 * host-only devices are grabbed and forwarded to it; else it reads them. */
static bool host_forwards(const struct router *r)
{
	return r->started && !r->released && config_target_forwards(r->cfg, host_index(r));
}

/* Does the active target take device i whole (out.moves)? Asked when the
 * device comes and at every switch, kept in rdev.moved. A host-only device
 * never leaves the host. */
static bool moved(const struct router *r, int i)
{
	return r->started && !r->released && !r->dev[i]->info.host_only && r->out.moves &&
	       r->out.moves(r->out.data, i, r->active);
}

/* A device the active target takes whole is not grabbed: the host reads it
 * until it leaves, and it leaves ungrabbed once its keys are up. */
static bool want_grab(const struct router *r, const struct rdev *d)
{
	return d->info.host_only ? host_forwards(r) : forwarding(r) && !d->moved;
}

/* Where a frame only kvmswitch read goes: the active target, or while the
 * host reads the devices itself (on the way to it, a grab that waits for
 * keys to come up; a device the active target takes whole) the host,
 * through kvmswitch's host devices. Never nowhere: the host did not read it.
 * A host-only device's go to the host. Computed at every change of the
 * active target, the mode or the config (update_dest), not per event. */
static int dest_target(const struct router *r, const struct rdev *d)
{
	return d->info.host_only || d->moved ? r->host : r->dest;
}

static void update_dest(struct router *r)
{
	r->host = host_index(r);
	r->dest = forwarding(r) ? r->active : r->host;
}

/* The host and shared keys of the config in force. */
static void set_kept(struct router *r)
{
	r->any_kept = false;
	for (size_t w = 0; w < sizeof(r->kept.bits) / sizeof(r->kept.bits[0]); w++) {
		r->kept.bits[w] = r->cfg->host_keys.keys.bits[w] | r->cfg->shared_keys.keys.bits[w];
		r->any_kept |= r->kept.bits[w] != 0;
	}
}

/* Where a key of device d goes: the kind of target device and the code it
 * has there. The tablet is an absolute pointer, so a touch or a pen tip is
 * its left button and the pen's side buttons are right and middle. Returns
 * false for keys no target device carries (joystick, gamepad, misc). */
static bool route_key(const struct rdev *d, unsigned code, int *kind, unsigned *out)
{
	*out = code;
	if (key_is_mouse_button(code)) {
		*kind = d->info.absolute ? VK_TABLET : VK_POINTER;
		return true;
	}
	if (key_is_digitizer(code)) {
		*kind = VK_TABLET;
		*out = code == BTN_TOUCH ? BTN_LEFT : code == BTN_STYLUS ? BTN_RIGHT : code == BTN_STYLUS2 ? BTN_MIDDLE : 0;
		return *out != 0;
	}
	/* Joystick and gamepad buttons, and KEY_RESERVED: no target device
	 * carries them. */
	if (!key_is_keyboard(code))
		return false;
	*kind = VK_KEYBOARD;
	return true;
}

/* Appends an event stamped like the source frame it comes from. */
static ALWAYS_INLINE void put(struct obuf *b, unsigned type, unsigned code, int value)
{
	struct input_event *e = &b->ev[b->n++];
	e->input_event_sec = b->stamp.sec;
	e->input_event_usec = b->stamp.usec;
	e->type = (uint16_t)type;
	e->code = (uint16_t)code;
	e->value = value;
}

static ALWAYS_INLINE void flush_kind(struct router *r, int kind)
{
	struct obuf *b = &r->obuf[kind];
	if (b->n == 0)
		return;
	put(b, EV_SYN, SYN_REPORT, 0);
	r->out.emit(r->out.data, b->target, (enum vkind)kind, b->ev, b->n);
	r->stats.frames_out[kind]++;
	b->n = 0;
	r->queued &= ~(1u << kind);
}

/* Every queued frame goes out, in the order of the kinds. */
static void flush_all(struct router *r)
{
	for (unsigned m = r->queued; m; m &= m - 1)
		flush_kind(r, __builtin_ctz(m));
	r->msc_have = false;
	r->last_kind = -1;
}

/* End of a source frame: an MSC_SCAN that no event followed belongs with
 * the last event queued; then every queued frame goes out. */
static void end_frame(struct router *r)
{
	if (r->msc_have && r->last_kind >= 0 && r->obuf[r->last_kind].n)
		put(&r->obuf[r->last_kind], EV_MSC, MSC_SCAN, r->msc_pending);
	flush_all(r);
}

static ALWAYS_INLINE void queue(struct router *r, int target, int kind, unsigned type, unsigned code, int value)
{
	struct obuf *b = &r->obuf[kind];
	if (b->n && b->target != target)
		flush_kind(r, kind);
	if (b->n + 4 > OBUF_MAX) /* room for two MSC_SCANs, the event and the SYN */
		flush_kind(r, kind);
	b->target = target;
	b->stamp = r->cur;
	if (r->msc_have) {
		put(b, EV_MSC, MSC_SCAN, r->msc_pending);
		r->msc_have = false;
	}
	put(b, type, code, value);
	r->queued |= 1u << kind;
	r->last_kind = kind;
}

/* A key goes down or up on target t's device of the given kind; devices are
 * merged by counting, so the virtual device sees one press and one release. */
static void target_key(struct router *r, int t, int kind, unsigned code, bool down)
{
	struct rtarget *tg = &r->tgt[t];
	if (down) {
		if (tg->count[kind][code]++ == 0) {
			tg->held++;
			queue(r, t, kind, EV_KEY, code, 1);
			return;
		}
	} else if (tg->count[kind][code] > 0) {
		if (--tg->count[kind][code] == 0) {
			tg->held--;
			queue(r, t, kind, EV_KEY, code, 0);
			return;
		}
	}
	r->stats.dropped++;
}

static void phys_key(struct router *r, unsigned code, bool down)
{
	if (down) {
		if (r->phys[code]++ == 0)
			keyset_set(&r->held, code, true);
	} else if (r->phys[code] > 0 && --r->phys[code] == 0) {
		keyset_set(&r->held, code, false);
	}
}

static void apply_leds(struct router *r, int dev)
{
	uint32_t leds = forwarding(r) ? r->tgt[r->active].leds : r->host_leds;
	if (dev >= 0 && !r->dev[dev]->info.keyboard)
		return;
	r->out.leds(r->out.data, dev, leds);
}

static void set_key(struct rdev *d, unsigned code, uint8_t st)
{
	d->n_host = (uint16_t)(d->n_host + (st == KS_HOST) - (d->key[code] == KS_HOST));
	d->key[code] = st;
}

/* ---- who read a frame: the grab history ---- */

static void history_add(struct rdev *d, int64_t at_us, bool grabbed)
{
	if (d->n_change == GRAB_HISTORY) {
		/* Sixteen changes with none of the device's frames read in
		 * between: the oldest can only matter to frames older still. */
		d->grabbed_before = d->change[0].grabbed;
		memmove(d->change, d->change + 1, sizeof(d->change[0]) * (GRAB_HISTORY - 1));
		d->n_change--;
	}
	d->change[d->n_change++] = (struct grab_change){ at_us, grabbed };
	if (d->resync_pending)
		d->resync_straddles = true;
}

/* Was the device grabbed when the kernel queued an event stamped t? Stamps
 * of one device only grow, so changes before the newest one at or before t
 * decide nothing any more and are dropped. */
static ALWAYS_INLINE bool grabbed_at(struct rdev *d, int64_t t)
{
	if (d->n_change == 0) /* no grab change since the last frame read */
		return d->grabbed_before;
	int k = d->n_change;
	while (k > 0 && d->change[k - 1].at_us > t)
		k--;
	if (k > 0) {
		d->grabbed_before = d->change[k - 1].grabbed;
		memmove(d->change, d->change + k, sizeof(d->change[0]) * (size_t)(d->n_change - k));
		d->n_change = (uint8_t)(d->n_change - k);
	}
	return d->grabbed_before;
}

/* EVIOCGRAB on or off through the shell, and what it learned. */
static int grab_change(struct router *r, int i, bool on)
{
	struct rdev *d = r->dev[i];
	struct router_grab g = { 0 };
	int rc = r->out.grab(r->out.data, i, on, &g);
	if (rc < 0 && on)
		return rc;
	/* A failed ungrab means the device is gone or the fd is bad: either
	 * way we no longer hold it. */
	if (g.queue_empty) {
		d->n_change = 0;
		d->grabbed_before = d->grabbed;
	}
	history_add(d, g.at_us, on);
	d->grabbed = on;
	if (on && g.undone) {
		history_add(d, g.undone_us, false);
		d->grabbed = false;
		r->stats.retracts++;
	}
	return 0;
}

/* Is there room in device i's grab history for a change and the undo that
 * may come with it? When it is full, frames not read yet may predate its
 * oldest change, which history_add would then drop and so misjudge them
 * (found by fuzz_router: seventeen switches while a mouse frame waited). If
 * the shell says nothing is queued, no frame predates any change any more;
 * else the change waits for the device's next batch (the frames are queued,
 * so it comes). Without the shell's answer, the oldest change is dropped. */
static bool history_room(struct router *r, int i)
{
	struct rdev *d = r->dev[i];
	if (d->n_change <= GRAB_HISTORY - 2 || !r->out.queued)
		return true;
	if (r->out.queued(r->out.data, i))
		return false;
	d->n_change = 0;
	d->grabbed_before = d->grabbed;
	return true;
}

/* Nothing for dev_update_grab to do (none of its branches applies): the
 * grab is what it should be (or cannot be), and the host holds no key of
 * the device it must be let at. The event path asks it after every batch,
 * so that a settled device costs no call. */
static ALWAYS_INLINE bool grab_settled(const struct rdev *d)
{
	return !d->any_missed && !(d->grabbed && d->n_host > 0) &&
	       (d->grabbed == d->want_grab || (d->want_grab && d->grab_failed));
}

/* Changes the device's grab if it should and may: nothing held (or forced),
 * and not in the middle of the device's batch (the frames of a read were
 * all queued before the grab could change). A grabbed device whose key the
 * host holds (its press was queued before the grab) lets go at once, so
 * that the host reads the release. */
static void dev_update_grab(struct router *r, int i, bool force)
{
	struct rdev *d = r->dev[i];
	bool mid_batch = r->feeding == i;
	if (d->any_missed && !mid_batch) {
		/* The host holds keys whose release only kvmswitch read: let
		 * go, then give the host the releases. The device is grabbed
		 * again after the frames that brings. */
		if (d->grabbed) {
			if (!force && !history_room(r, i))
				return;
			r->stats.retracts++;
			grab_change(r, i, false);
		}
		d->any_missed = false;
		for (unsigned c = 0; c < KEY_CNT; c++)
			if (keyset_has(&d->missed, c) && r->out.host_release)
				r->out.host_release(r->out.data, i, c);
		memset(&d->missed, 0, sizeof(d->missed));
		return;
	}
	if (d->grabbed && d->n_host > 0 && !mid_batch) {
		/* The host read a press queued before the grab: let go, so
		 * that it reads the release. */
		if (!force && !history_room(r, i))
			return;
		r->stats.retracts++;
		grab_change(r, i, false);
		return;
	}
	if (d->grabbed == d->want_grab || (d->want_grab && d->grab_failed))
		return;
	if (!force && (d->n_down > 0 || mid_batch || !history_room(r, i)))
		return;
	if (grab_change(r, i, d->want_grab) < 0)
		d->grab_failed = true;
}

/* Releases the host's copy of device d's pinned keys (host and shared keys
 * still down): only when everything is let go (emergency, exit), the device
 * goes, or the host loses its devices (a reload changes its mode). */
static void release_pinned(struct router *r, struct rdev *d)
{
	if (d->n_pinned == 0)
		return;
	int host = host_index(r);
	for (unsigned c = 0; c < KEY_CNT; c++) {
		if (!keyset_has(&d->pinned, c))
			continue;
		int kind;
		unsigned out;
		keyset_set(&d->pinned, c, false);
		if (route_key(d, c, &kind, &out))
			target_key(r, host, kind, out, false);
	}
	d->n_pinned = 0;
}

/* Releases on target t every key any device holds there; the physical
 * releases that follow are swallowed. A switch leaves the host's copies of
 * host and shared keys held (they go up with the key); `pinned_too`
 * releases those as well. */
static void release_target(struct router *r, int t, bool pinned_too)
{
	if (r->tgt[t].held == 0)
		return;
	bool host = pinned_too && t == host_index(r);
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		struct rdev *d = r->dev[i];
		if (!d)
			continue;
		for (unsigned c = 0; c < KEY_CNT; c++) {
			if (d->key[c] != t + 1)
				continue;
			int kind;
			unsigned out;
			set_key(d, c, KS_SWALLOWED);
			if (route_key(d, c, &kind, &out))
				target_key(r, t, kind, out, false);
		}
		if (host)
			release_pinned(r, d);
	}
	flush_all(r);
}

static void set_grabs(struct router *r, bool force)
{
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		struct rdev *d = r->dev[i];
		if (!d)
			continue;
		d->moved = moved(r, i);
		d->want_grab = want_grab(r, d);
		d->grab_failed = false;
		dev_update_grab(r, i, force);
	}
}

static void arm_timer(struct router *r, uint64_t now)
{
	uint32_t ms = tconf(r, r->active)->return_after_ms;
	r->deadline = ms && !r->released ? now + ms : UINT64_MAX;
}

static int do_switch(struct router *r, int to, enum switch_reason why, uint64_t now, bool force)
{
	if (to < 0 || (size_t)to >= r->n_tgt)
		return -ENOENT;
	if (r->started && to == r->active && !r->released)
		return -EALREADY;
	if (r->out.prepare) {
		int rc = r->out.prepare(r->out.data, r->started ? r->active : -1, to);
		if (rc < 0)
			return rc;
	}
	int from = r->started ? r->active : -1;
	flush_all(r);
	if (from >= 0)
		release_target(r, from, false);
	r->active = to;
	r->released = false;
	r->started = true;
	if (tconf(r, to)->type != TARGET_HOST)
		r->last_vm = to;
	update_dest(r);
	set_grabs(r, force);
	apply_leds(r, -1);
	arm_timer(r, now);
	if (from >= 0)
		r->stats.switches++;
	r->out.switched(r->out.data, from, to, why);
	return 0;
}

struct router *router_create(const struct config *cfg, const struct router_output *out)
{
	struct router *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->tgt = calloc(cfg->n_target, sizeof(*r->tgt));
	if (!r->tgt) {
		free(r);
		return NULL;
	}
	r->cfg = cfg;
	r->n_tgt = cfg->n_target;
	r->out = *out;
	r->active = config_host_index(cfg);
	r->last_vm = -1;
	r->deadline = UINT64_MAX;
	r->last_kind = -1;
	r->feeding = -1;
	set_kept(r);
	update_dest(r);
	for (size_t i = 0; i < cfg->n_target && r->last_vm < 0; i++)
		if (cfg->target[i].type != TARGET_HOST)
			r->last_vm = (int)i;
	return r;
}

void router_destroy(struct router *r)
{
	if (!r)
		return;
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++)
		free(r->dev[i]);
	free(r->tgt);
	free(r);
}

void router_start(struct router *r, uint64_t now)
{
	if (r->cfg->start_locked)
		router_lock(r, true);
	int start = config_target_index(r->cfg, r->cfg->start);
	if (start < 0 || do_switch(r, start, SWITCH_START, now, false) < 0)
		do_switch(r, host_index(r), SWITCH_START, now, false);
}

int router_switch(struct router *r, int target, enum switch_reason why, uint64_t now)
{
	return do_switch(r, target, why, now, false);
}

int router_cycle(struct router *r, int step, enum switch_reason why, uint64_t now)
{
	int n = (int)r->n_tgt, rc = -EALREADY;
	for (int k = 1; k < n; k++) {
		int to = ((r->active + step * k) % n + n) % n;
		rc = do_switch(r, to, why, now, false);
		if (rc == 0)
			return 0;
	}
	return rc;
}

int router_toggle(struct router *r, enum switch_reason why, uint64_t now)
{
	int host = host_index(r);
	if (r->active != host || r->released)
		return do_switch(r, host, why, now, false);
	if (r->last_vm < 0)
		return -ENOENT;
	return do_switch(r, r->last_vm, why, now, false);
}

void router_release(struct router *r, enum switch_reason why, uint64_t now)
{
	int from = r->active;
	flush_all(r);
	for (size_t t = 0; t < r->n_tgt; t++)
		release_target(r, (int)t, true);
	r->active = host_index(r);
	r->released = true;
	r->started = true;
	update_dest(r);
	set_grabs(r, true);
	apply_leds(r, -1);
	r->deadline = UINT64_MAX;
	r->stats.switches++;
	r->out.switched(r->out.data, from, r->active, why);
}

void router_shutdown(struct router *r)
{
	flush_all(r);
	for (size_t t = 0; t < r->n_tgt; t++)
		release_target(r, (int)t, true);
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		if (!r->dev[i])
			continue;
		r->dev[i]->want_grab = false;
		dev_update_grab(r, i, true);
	}
}

void router_release_vanishing(struct router *r, const int *map)
{
	flush_all(r);
	for (size_t t = 0; t < r->n_tgt; t++)
		if (map[t] < 0)
			release_target(r, (int)t, true);
}

void router_reconfigure(struct router *r, const struct config *cfg, const int *map, uint64_t now)
{
	struct rtarget *nt = calloc(cfg->n_target, sizeof(*nt));
	if (!nt)
		return; /* keep the old configuration; the caller checks router_active */
	router_release_vanishing(r, map); /* nothing left to release if step 1 ran */
	for (size_t t = 0; t < r->n_tgt; t++)
		if (map[t] >= 0)
			nt[map[t]] = r->tgt[t];
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		struct rdev *d = r->dev[i];
		if (!d)
			continue;
		for (unsigned c = 0; c < KEY_CNT; c++)
			if (d->key[c] != KS_UP && d->key[c] <= r->n_tgt)
				set_key(d, c, (uint8_t)(map[d->key[c] - 1] + 1));
	}
	int old_active = r->active;
	bool gone = map[old_active] < 0;
	free(r->tgt);
	r->tgt = nt;
	r->n_tgt = cfg->n_target;
	r->cfg = cfg;
	set_kept(r);
	r->last_vm = r->last_vm >= 0 ? map[r->last_vm] : -1;
	if (r->last_vm < 0)
		for (size_t i = 0; i < cfg->n_target && r->last_vm < 0; i++)
			if (cfg->target[i].type != TARGET_HOST)
				r->last_vm = (int)i;
	if (gone) {
		r->active = host_index(r);
		r->started = false; /* do_switch: no old target to release */
		update_dest(r);     /* the host, should the switch be refused */
		do_switch(r, r->active, SWITCH_RELOAD, now, false);
		return;
	}
	r->active = map[old_active];
	/* The active target may have changed type or mode. */
	update_dest(r);
	set_grabs(r, false);
	apply_leds(r, -1);
	if (r->deadline != UINT64_MAX && !tconf(r, r->active)->return_after_ms)
		r->deadline = UINT64_MAX;
}

int router_device_add(struct router *r, int i, const struct router_device_info *info, uint64_t now)
{
	if (i < 0 || i >= ROUTER_MAX_DEVICES || r->dev[i])
		return -EINVAL;
	struct rdev *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->info = *info;
	for (unsigned c = 0; c < KEY_CNT; c++) {
		if (!keyset_has(&info->held, c))
			continue;
		set_key(d, c, KS_HOST);
		d->n_down++;
		phys_key(r, c, true);
	}
	r->dev[i] = d;
	if (!forwarding(r) && info->keyboard)
		r->host_leds = info->leds;
	d->moved = moved(r, i);
	d->want_grab = want_grab(r, d);
	dev_update_grab(r, i, false);
	if (info->keyboard && forwarding(r))
		apply_leds(r, i);
	return 0;
}

void router_device_remove(struct router *r, int i, uint64_t now)
{
	if (i < 0 || i >= ROUTER_MAX_DEVICES || !r->dev[i])
		return;
	struct rdev *d = r->dev[i];
	flush_all(r);
	for (unsigned c = 0; c < KEY_CNT; c++) {
		uint8_t st = d->key[c];
		if (st == KS_UP)
			continue;
		phys_key(r, c, false);
		int kind;
		unsigned out;
		if (st != KS_HOST && st != KS_SWALLOWED && route_key(d, c, &kind, &out))
			target_key(r, st - 1, kind, out, false);
	}
	release_pinned(r, d);
	flush_all(r);
	free(d);
	r->dev[i] = NULL;
}

/* The keys held, as chords see them: host and shared keys do not count.
 * Like pointer buttons they are no part of what is typed on a target, and
 * a push-to-talk key held must not stop a switch. (No chord may use them:
 * config_resolve_keys.) */
static const struct keyset *chord_held(const struct router *r, struct keyset *buf)
{
	if (!r->any_kept)
		return &r->held;
	for (size_t w = 0; w < sizeof(buf->bits) / sizeof(buf->bits[0]); w++)
		buf->bits[w] = r->held.bits[w] & ~r->kept.bits[w];
	return buf;
}

/* Returns true if the press completed a chord and was acted on. While
 * locked, the cycling and target hotkeys are swallowed and do nothing: their
 * keys are not ordinary keys then either, or a QEMU whose grab-toggle is the
 * same chord would let go of its devices. */
static bool hotkeys(struct router *r, unsigned code, uint64_t now)
{
	const struct config *cfg = r->cfg;
	struct keyset buf;
	const struct keyset *held = chord_held(r, &buf);
	if (hotkey_match(&cfg->emergency, held, code)) {
		router_release(r, SWITCH_EMERGENCY, now);
		return true;
	}
	if (hotkey_match(&cfg->lock, held, code)) {
		router_lock(r, !r->locked);
		return true;
	}
	for (size_t t = 0; t < r->n_tgt; t++) {
		if (hotkey_match(&cfg->target[t].hotkey, held, code)) {
			if (!r->locked && ((int)t != r->active || r->released))
				do_switch(r, (int)t, SWITCH_TARGET_HOTKEY, now, false);
			return true;
		}
	}
	if (hotkey_match(&cfg->hotkey, held, code)) {
		if (r->locked)
			return true;
		if (cfg->hotkey_action == HOTKEY_TOGGLE)
			router_toggle(r, SWITCH_HOTKEY, now);
		else
			router_cycle(r, 1, SWITCH_HOTKEY, now);
		return true;
	}
	return false;
}

/* The route flags of a key that goes to the host whatever is active. */
static unsigned kept_flags(const struct router *r, const struct rdev *d, unsigned code)
{
	return d->info.host_only ? ROUTE_F_HOST_ONLY
	       : keyset_has(&r->cfg->shared_keys.keys, code) ? ROUTE_F_SHARED
							      : ROUTE_F_HOST_KEY;
}

/* A press only kvmswitch read of a host key, a shared key or a key of a
 * host-only device: the host gets it through its devices and keeps it until
 * the key is up (it is pinned there: a switch does not release it); a
 * shared key goes to target t as well. */
static void press_kept(struct router *r, struct rdev *d, unsigned code, int kind, unsigned out, int t,
		       unsigned flags)
{
	int host = host_index(r);
	keyset_set(&d->pinned, code, true);
	d->n_pinned++;
	target_key(r, host, kind, out, true);
	if (flags == ROUTE_F_SHARED && t != host) {
		set_key(d, code, (uint8_t)(t + 1));
		target_key(r, t, kind, out, true);
	}
}

/* Where an event went, for the monitor: compiled out of the plain path. */
#define TRACE(route_, target_, flags_)                                                                         \
	do {                                                                                                   \
		if (traced && r->trace)                                                                        \
			r->trace(r->trace_data, i, e, (route_), (target_), (flags_));                          \
	} while (0)

/* A key event of device i. `ours`: only kvmswitch read it (the device was
 * grabbed when the kernel queued it); else the host read it itself. */
static ALWAYS_INLINE void feed_key(struct router *r, int i, const struct input_event *e, bool ours, uint64_t now,
				   const bool traced)
{
	struct rdev *d = r->dev[i];
	unsigned code = e->code;
	if (code >= KEY_CNT || e->value == 2) {
		/* Autorepeat is made by the kernel on each virtual keyboard (EV_REP),
		 * so the source's repeats are never forwarded. */
		r->stats.dropped++;
		return;
	}
	int kind;
	unsigned out;
	if (e->value != 0) {
		if (d->key[code] != KS_UP) {
			r->stats.dropped++;
			TRACE(ROUTE_NOWHERE, -1, 0);
			return;
		}
		d->n_down++;
		phys_key(r, code, true);
		if (!ours) {
			/* The host read this press, so it must read the release
			 * too, which it cannot while the device is grabbed (the
			 * press was queued before the grab took effect): see
			 * dev_update_grab. */
			set_key(d, code, KS_HOST);
			bool fired = hotkeys(r, code, now);
			r->stats.dropped++;
			TRACE(ROUTE_HOST_READ, -1, fired ? ROUTE_F_CHORD : 0);
			return;
		}
		set_key(d, code, KS_SWALLOWED);
		if (hotkeys(r, code, now)) {
			/* The completing key goes nowhere. (If hotkeys() ungrabbed
			 * the device, the emergency path, the host reads a release
			 * it never read the press of, and ignores it.) */
			r->stats.dropped++;
			TRACE(ROUTE_HOTKEY, -1, 0);
			return;
		}
		if (!route_key(d, code, &kind, &out)) {
			r->stats.dropped++;
			TRACE(ROUTE_NOWHERE, -1, 0);
			return;
		}
		int t = dest_target(r, d);
		if (d->info.host_only || (r->any_kept && keyset_has(&r->kept, code))) {
			unsigned f = kept_flags(r, d, code);
			press_kept(r, d, code, kind, out, t, f);
			TRACE(ROUTE_TARGET, f == ROUTE_F_SHARED ? t : host_index(r), f);
			return;
		}
		set_key(d, code, (uint8_t)(t + 1));
		target_key(r, t, kind, out, true);
		TRACE(ROUTE_TARGET, t, 0);
		return;
	}
	uint8_t st = d->key[code];
	if (st == KS_UP) {
		r->stats.dropped++;
		TRACE(ROUTE_NOWHERE, -1, 0);
		return;
	}
	if (st == KS_HOST && ours) {
		/* The host read the press, but this release came after a grab
		 * and only kvmswitch read it. */
		keyset_set(&d->missed, code, true);
		d->any_missed = true;
	}
	set_key(d, code, KS_UP);
	d->n_down--;
	phys_key(r, code, false);
	bool routed = route_key(d, code, &kind, &out);
	unsigned flags = 0;
	if (d->n_pinned && keyset_has(&d->pinned, code)) {
		/* The host's copy of a host or shared key goes up with it. */
		keyset_set(&d->pinned, code, false);
		d->n_pinned--;
		/* (A copy on a target too: a shared key, whatever the config
		 * says since it was pressed.) */
		flags = !d->info.host_only && st != KS_SWALLOWED ? ROUTE_F_SHARED : kept_flags(r, d, code);
		if (routed)
			target_key(r, host_index(r), kind, out, false);
	}
	if (st != KS_HOST && st != KS_SWALLOWED && routed) {
		target_key(r, st - 1, kind, out, false);
		TRACE(ROUTE_TARGET, st - 1, flags);
	} else if (flags) {
		TRACE(ROUTE_TARGET, host_index(r), flags);
	} else {
		r->stats.dropped++;
		TRACE(st == KS_HOST ? ROUTE_HOST_READ : ROUTE_NOWHERE, -1, 0);
	}
}

static int32_t scale_abs(const struct rdev *d, int axis, int32_t v)
{
	int64_t lo = d->info.abs_min[axis], hi = d->info.abs_max[axis];
	if (hi <= lo)
		return v;
	if (v < lo)
		v = (int32_t)lo;
	if (v > hi)
		v = (int32_t)hi;
	return (int32_t)(((int64_t)v - lo) * ROUTER_TABLET_MAX / (hi - lo));
}

static void feed_led(struct router *r, const struct input_event *e)
{
	if (e->code >= 32)
		return;
	/* The physical keyboard echoes LED changes. While the host reads it
	 * directly these are the host's LEDs; otherwise they are our own writes. */
	if (!forwarding(r)) {
		if (e->value)
			r->host_leds |= 1u << e->code;
		else
			r->host_leds &= ~(1u << e->code);
	}
}

/* How a batch's presses are owned. */
enum owner_rule {
	OWN_BY_STAMP,     /* as the kernel queued each event */
	OWN_HOST_PRESSES, /* presses are the host's: their moment is unknown */
};

/* The path every event takes, in two copies: `traced` tells the monitor
 * where each event went, the plain copy has no trace of it (a monitor that
 * nobody runs costs no instruction). */
static ALWAYS_INLINE void feed_body(struct router *r, int i, const struct input_event *ev, size_t n,
				    enum owner_rule rule, uint64_t now, const bool traced)
{
	int prev = r->feeding;
	r->feeding = i;
	size_t k;
	for (k = 0; k < n; k++) {
		const struct input_event *e = &ev[k];
		struct rdev *d = r->dev[i];
		if (!d)
			break;
		bool ours = grabbed_at(d, framer_stamp_us(e));
		r->cur = (struct stamp){ e->input_event_sec, e->input_event_usec };
		switch (e->type) {
		case EV_SYN:
			if (e->code == SYN_REPORT) {
				r->stats.frames_in++;
				if (!ours)
					r->stats.host_read++;
				end_frame(r);
			}
			break;
		case EV_KEY:
			feed_key(r, i, e, ours && !(rule == OWN_HOST_PRESSES && e->value == 1), now, traced);
			break;
		case EV_REL:
			if (ours) {
				int to = dest_target(r, d);
				queue(r, to, VK_POINTER, EV_REL, e->code, e->value);
				TRACE(ROUTE_TARGET, to, d->info.host_only ? ROUTE_F_HOST_ONLY : 0);
			} else {
				r->stats.dropped++;
				TRACE(ROUTE_HOST_READ, -1, 0);
			}
			break;
		case EV_ABS:
			if (ours && (e->code == ABS_X || e->code == ABS_Y)) {
				int to = dest_target(r, d);
				queue(r, to, VK_TABLET, EV_ABS, e->code,
				      scale_abs(d, e->code == ABS_X ? 0 : 1, e->value));
				TRACE(ROUTE_TARGET, to, d->info.host_only ? ROUTE_F_HOST_ONLY : 0);
			} else {
				r->stats.dropped++;
			}
			break;
		case EV_MSC:
			if (ours && e->code == MSC_SCAN) {
				/* It belongs with the event it describes: the next one
				 * queued in this frame, or the last one if none follows. */
				r->msc_pending = e->value;
				r->msc_have = true;
			} else {
				r->stats.dropped++;
			}
			break;
		case EV_LED:
			feed_led(r, e);
			break;
		default:
			r->stats.dropped++;
			break;
		}
	}
	r->stats.events_in += k;
	if (r->queued || r->msc_have) /* a batch that ends mid-frame */
		end_frame(r);
	r->cur = (struct stamp){ 0, 0 };
	r->feeding = prev;
	/* The grab change the batch allows (its last key came up), or the
	 * retreat it requires, now that the host has had every frame of it. */
	if (r->dev[i] && prev != i && !grab_settled(r->dev[i]))
		dev_update_grab(r, i, false);
}

static void feed_plain(struct router *r, int i, const struct input_event *ev, size_t n, enum owner_rule rule,
		       uint64_t now)
{
	feed_body(r, i, ev, n, rule, now, false);
}

static void feed_traced(struct router *r, int i, const struct input_event *ev, size_t n, enum owner_rule rule,
			uint64_t now)
{
	feed_body(r, i, ev, n, rule, now, true);
}

static void feed(struct router *r, int i, const struct input_event *ev, size_t n, enum owner_rule rule, uint64_t now)
{
	if (r->trace)
		feed_traced(r, i, ev, n, rule, now);
	else
		feed_plain(r, i, ev, n, rule, now);
}

void router_feed(struct router *r, int i, const struct input_event *ev, size_t n, uint64_t now)
{
	if (i < 0 || i >= ROUTER_MAX_DEVICES || !r->dev[i])
		return;
	feed(r, i, ev, n, OWN_BY_STAMP, now);
}

void router_note_resync(struct router *r, int i)
{
	r->stats.resyncs++;
	if (i < 0 || i >= ROUTER_MAX_DEVICES || !r->dev[i])
		return;
	/* The lost events came after the last one read before the drop: a
	 * grab change still in the history is later than that, and so is one
	 * made before the resync. */
	struct rdev *d = r->dev[i];
	d->resync_pending = true;
	d->resync_straddles = d->n_change > 0;
}

void router_feed_resync(struct router *r, int i, const struct input_event *ev, size_t n, uint64_t now)
{
	if (i < 0 || i >= ROUTER_MAX_DEVICES || !r->dev[i])
		return;
	struct rdev *d = r->dev[i];
	enum owner_rule rule = d->resync_straddles ? OWN_HOST_PRESSES : OWN_BY_STAMP;
	d->resync_pending = d->resync_straddles = false;
	feed(r, i, ev, n, rule, now);
}

void router_target_led(struct router *r, int t, unsigned code, int value)
{
	if (t < 0 || (size_t)t >= r->n_tgt || code >= 32)
		return;
	/* Only the active target's consumer speaks for its lock state: a
	 * target's lock keys reach it only while it is active, and writes to
	 * an inactive target's keyboard come from the host (the VT keyboard
	 * handler, a compositor), not from the guest. */
	if (t != r->active || !forwarding(r)) {
		r->stats.dropped++;
		return;
	}
	uint32_t old = r->tgt[t].leds;
	if (value)
		r->tgt[t].leds |= 1u << code;
	else
		r->tgt[t].leds &= ~(1u << code);
	if (old != r->tgt[t].leds)
		apply_leds(r, -1);
}

void router_tick(struct router *r, uint64_t now)
{
	if (r->deadline == UINT64_MAX || now < r->deadline)
		return;
	r->deadline = UINT64_MAX;
	do_switch(r, host_index(r), SWITCH_TIMER, now, false);
}

int router_lock(struct router *r, bool on)
{
	if (r->locked == on)
		return -EALREADY;
	r->locked = on;
	if (r->out.locked)
		r->out.locked(r->out.data, on);
	return 0;
}

bool router_is_locked(const struct router *r)
{
	return r->locked;
}

void router_set_trace(struct router *r, router_trace_fn fn, void *data)
{
	r->trace = fn;
	r->trace_data = fn ? data : NULL;
}

uint64_t router_next_deadline(const struct router *r)
{
	return r->deadline;
}

int router_active(const struct router *r)
{
	return r->active;
}

bool router_is_released(const struct router *r)
{
	return r->released;
}

size_t router_target_held(const struct router *r, int t)
{
	if (t < 0 || (size_t)t >= r->n_tgt)
		return 0;
	return r->tgt[t].held;
}

uint32_t router_target_leds(const struct router *r, int t)
{
	if (t < 0 || (size_t)t >= r->n_tgt)
		return 0;
	if (tconf(r, t)->type == TARGET_HOST && tconf(r, t)->mode == HOST_NATIVE)
		return r->host_leds;
	return r->tgt[t].leds;
}

bool router_device_grabbed(const struct router *r, int i)
{
	return i >= 0 && i < ROUTER_MAX_DEVICES && r->dev[i] && r->dev[i]->grabbed;
}

bool router_device_pending(const struct router *r, int i)
{
	return i >= 0 && i < ROUTER_MAX_DEVICES && r->dev[i] &&
	       r->dev[i]->grabbed != r->dev[i]->want_grab && !r->dev[i]->grab_failed;
}

const struct router_stats *router_get_stats(const struct router *r)
{
	return &r->stats;
}
