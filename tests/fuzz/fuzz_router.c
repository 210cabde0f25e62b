/* libFuzzer harness for the router: random event streams from random devices,
 * with switches, hotkeys, device add/remove, resyncs, LED writes, refusals,
 * grab failures and reloads in between. Every callback is checked as it
 * happens, the router's state is cross-checked after every operation, and at
 * the end every key still down at the source is released there, after which
 * no target may have a key down, and neither may the host.
 *
 * The harness plays the kernel: each device's frames are stamped and queued
 * as they happen, and read later in batches, as read() returns them. Whether
 * the host (another reader of the device, the compositor) got a frame is
 * decided when it is queued, from the grab state at that moment; a grab
 * change takes effect at an instant after every frame queued so far, so
 * frames still queued at a grab change belong to the old state. Like the
 * shell, the harness takes a grab back at once when a key is down at the
 * source right after it.
 *
 * Checked:
 *  - every emitted frame is non-empty, at most 128 events, for a target that
 *    has virtual devices, and ends with exactly one SYN_REPORT;
 *  - per target, kind and code, presses and releases alternate: a release
 *    never reaches a target without a press before it, a press never twice;
 *    keyboard codes go to keyboards, pointer buttons to pointers/tablets;
 *  - router_target_held() equals what the emitted frames left down;
 *  - grab and ungrab alternate per device, only for devices that exist, and
 *    never while a key of the frames read so far is down (except the
 *    emergency paths, and an ungrab that lets the host read the release of a
 *    key it holds);
 *  - a device with no key down and nothing queued is not grabbed while the
 *    host reads the physical devices (native host, usb target, released),
 *    and is grabbed while a VM target is active, except d5 while g2 is
 *    active: g2 takes d5 whole (router_output.moves, a USB device libvirt
 *    attaches to its domain), so the host reads it then;
 *  - nothing of a frame the host read (a press, motion) reaches a target:
 *    no keystroke is doubled;
 *  - after all keys are released at the source, router_target_held() == 0,
 *    nothing is down on any target and the host holds no key of any device;
 *    after router_shutdown() nothing is grabbed;
 *  - game time (issue 15): a press of a host key, and every press and motion
 *    of a host-only device, reaches only the host; while locked no hotkey
 *    switches; the lock is what start-locked said at start and survives
 *    reloads; with the trace on, every key event read (but autorepeats) gets exactly one
 *    route, a valid one (read by the host only if the host read it, to the
 *    host for host keys and host-only devices).
 *
 * Input (every byte string is valid; letters make seeds readable):
 *   byte 0        config selector (see config_text); with bit 7 set, an
 *                 extras byte follows (see config_text)
 *   then ops, op = byte & 15:
 *     'p' 0 tick: next byte * 25 ms, then router_tick
 *     'a' 1 add device: slot, flags, held
 *     'b' 2 remove device: slot
 *     'c' 3 frame: slot, then events until '.' (or 32 events): a letter
 *           presses (upper case) or releases (lower case) key[b & 31];
 *           other bytes: see feed_other(). The frame is queued; then the
 *           device's queue is read in one batch, unless slot bit 3 is set.
 *     'd' 4 SYN_DROPPED: slot, keep: the queue overflows; the newest
 *           keep % (queued + 1) frames survive, then libevdev's resync
 *           (the difference between the frames read and the source)
 *     'e' 5 switch: target byte
 *     'f' 6 next   'g' 7 prev   'h' 8 toggle   'i' 9 release (emergency)
 *     'j' 10 consumer LED write: target, code, value
 *     'k' 11 reload: config selector (and extras, as byte 0)
 *     'l' 12 toggle "prepare() refuses" for a target
 *     'm' 13 toggle "EVIOCGRAB fails" for a slot
 *     'n' 14 release every key down at the source of a slot
 *     'o' 15 a long frame: slot, count, base: keys base*3 .. +count
 *   With bit 7 set, (byte & 15) < 4 is one of the game-time ops instead:
 *     0 lock, 1 unlock (router_lock), 2 trace on, 3 trace off.
 *   slot = byte & 7: 0..5, 6 = 127 (the last valid), 7 = 128 (invalid).
 *   add's flags: bit 0 keyboard, 1 absolute, 2 LEDs, 3-4 ABS range, 7
 *   host-only. (Bit 7 is never set in the ASCII seeds, whose meaning stays.)
 *   Queued frames stay queued across other ops (switches, grabs) until the
 *   device is read again ('c', 'n', 'o', or the end).
 *
 * FUZZ_TRACE=1 prints the run as a golden script (a tests/golden .t file, with
 * the outputs it produced) on stderr, to turn a finding into a test. What
 * golden scripts cannot say is left as comments or needs editing: EVIOCGRAB
 * failing after a device was added, prepare() accepting a target again,
 * frames of more than 63 events, codes without a name.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/framer.h"
#include "core/router.h"
#include "test.h"

#define N_SLOTS 8
#define MAX_OPS 2000
#define QUEUE_MAX                                                                                                      \
	32             /* frames queued per device (and room for injected ones)                                        \
			*/
#define QFRAME_MAX 200 /* events per frame */

/* A frame in the kernel's queue for kvmswitch's reader. */
struct qframe {
	size_t n;
	bool host_read; /* the device was not grabbed when it was queued */
	struct input_event ev[QFRAME_MAX + 1];
};

static const uint16_t keys[32] = {
	KEY_RESERVED,  KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT, KEY_F1,     KEY_F2,        KEY_SCROLLLOCK,
	KEY_BACKSPACE, KEY_ESC,      KEY_ENTER,     KEY_A,       KEY_B,      KEY_LEFTSHIFT, KEY_CAPSLOCK,
	BTN_LEFT,      BTN_RIGHT,    BTN_MIDDLE,    BTN_TOUCH,   BTN_STYLUS, BTN_STYLUS2,   BTN_TOOL_PEN,
	BTN_TRIGGER,   BTN_0,        KEY_OK,        KEY_MAX,     KEY_CNT,    0xffff,        BTN_TASK,
	BTN_SIDE,      KEY_RIGHTALT, KEY_PAUSE,     KEY_F12,
};

struct fz {
	struct config *cfg;
	struct router *r;
	uint64_t now;
	bool trace;
	int64_t now_us; /* the kernel's clock: every frame and grab change gets a tick */
	/* the source: which devices exist, what they are, which keys are down */
	bool live[N_SLOTS];
	struct router_device_info info[N_SLOTS];
	struct keyset down[N_SLOTS];
	/* the kernel's queue for kvmswitch's reader, and what was read of it */
	struct qframe queue[N_SLOTS][QUEUE_MAX + 8];
	size_t qlen[N_SLOTS];
	struct keyset fed_down[N_SLOTS];
	/* the host, another reader: the keys it holds */
	struct keyset host_down[N_SLOTS];
	/* the batch being read: stamps of the frames the host read too */
	int64_t host_stamps[QUEUE_MAX + 8];
	size_t n_host_stamps;
	/* what the callbacks saw */
	bool grabbed[N_SLOTS];
	bool grab_fails[N_SLOTS];
	bool last_grab_failed[N_SLOTS];
	bool refuse[CONFIG_MAX_TARGETS];
	uint8_t tdown[CONFIG_MAX_TARGETS][VK_COUNT][KEY_CNT];
	size_t tcount[CONFIG_MAX_TARGETS]; /* how many of tdown[t] are set */
	/* within one operation */
	bool in_forced;       /* router_release / router_shutdown */
	bool in_resync;       /* router_feed_resync: its presses may count as the host's */
	bool saw_emergency;   /* switched(..., SWITCH_EMERGENCY) */
	bool grab_while_held; /* a grab change while the source held a key */
	int grab_while_held_slot;
	/* game time */
	int feeding_slot;    /* the device being read (router_feed), or -1 */
	bool tracing;        /* router_set_trace is on */
	size_t key_events;   /* key events but autorepeats fed while tracing */
	size_t key_routes;   /* routes of key events the trace reported */
};

static struct fz F;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz_router: invariant broken: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static void tr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tr(const char *fmt, ...)
{
	if (!F.trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int slot_of(uint8_t b)
{
	int s = b & 7;
	return s < 6 ? s : s == 6 ? 127 : 128;
}

/* Our arrays hold slot 127 in index 6. */
static int idx(int slot)
{
	return slot < 6 ? slot : slot == 127 ? 6 : -1;
}

static const char *dname(int slot)
{
	static char buf[4][16];
	static int n;
	char *b = buf[n++ % 4];
	snprintf(b, 16, "d%d", slot);
	return b;
}

static const char *tname(int t)
{
	return t >= 0 && (size_t)t < F.cfg->n_target ? F.cfg->target[t].name : "-";
}

static const char *kname(unsigned type, unsigned code, char *buf, size_t len)
{
	const char *n = test_code_name(type, code);
	if (n)
		return n;
	snprintf(buf, len, "%u:%u", type, code);
	return buf;
}

/* A failed call, as the golden scripts show it. */
static void note_rc(int rc)
{
	if (rc >= 0)
		return;
	const char *name = rc == -ENOENT      ? "-ENOENT"
			   : rc == -EALREADY  ? "-EALREADY"
			   : rc == -EHOSTDOWN ? "-EHOSTDOWN"
			   : rc == -EINVAL    ? "-EINVAL"
					      : "-E?";
	tr("> rc %s", name);
}

/* ---- callbacks ---- */

static void cb_emit(void *data, int t, enum vkind kind, const struct input_event *ev, size_t n)
{
	if (t < 0 || (size_t)t >= F.cfg->n_target)
		die("emit to target %d of %zu", t, F.cfg->n_target);
	if (F.cfg->target[t].type == TARGET_USB)
		die("emit to target '%s', which has no virtual devices", tname(t));
	if ((unsigned)kind >= VK_COUNT)
		die("emit of kind %d", kind);
	if (n < 2 || n > 128)
		die("frame of %zu events to %s %s", n, tname(t), vkind_name(kind));
	char line[4096];
	size_t off = (size_t)snprintf(line, sizeof(line), "> %s %s:", tname(t), vkind_name(kind));
	for (size_t i = 0; i < n; i++) {
		const struct input_event *e = &ev[i];
		bool syn = e->type == EV_SYN && e->code == SYN_REPORT;
		if (syn != (i + 1 == n))
			die("frame to %s %s: SYN_REPORT at %zu of %zu", tname(t), vkind_name(kind), i, n);
		if (e->type == EV_SYN && !syn)
			die("frame to %s %s: EV_SYN code %u", tname(t), vkind_name(kind), e->code);
		char nb[32];
		if (!syn && off < sizeof(line)) {
			const char *name = kname(e->type, e->code, nb, sizeof(nb));
			if (e->type == EV_KEY && (e->value == 0 || e->value == 1))
				off += (size_t)snprintf(line + off, sizeof(line) - off, " %c%s",
							e->value ? '+' : '-', name);
			else
				off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%d", name,
							e->value);
		}
		if ((e->type == EV_KEY && e->value == 1) || e->type == EV_REL)
			for (size_t k = 0; k < F.n_host_stamps; k++)
				if (framer_stamp_us(e) == F.host_stamps[k])
					die("%s of a frame the host read (stamp %lldus) reached %s %s: "
					    "doubled",
					    e->type == EV_KEY ? "a press" : "motion", (long long)F.host_stamps[k],
					    tname(t), vkind_name(kind));
		int host = config_host_index(F.cfg);
		int fi = F.feeding_slot >= 0 ? idx(F.feeding_slot) : -1;
		if (t != host && fi >= 0 && F.info[fi].host_only &&
		    ((e->type == EV_KEY && e->value == 1) || e->type == EV_REL || e->type == EV_ABS))
			die("%s of host-only device d%d reached %s %s", e->type == EV_KEY ? "a press" : "motion",
			    F.feeding_slot, tname(t), vkind_name(kind));
		if (e->type != EV_KEY)
			continue;
		if (e->code >= KEY_CNT)
			die("key code %u emitted", e->code);
		if (t != host && e->value == 1 && kind != VK_TABLET && keyset_has(&F.cfg->host_keys.keys, e->code))
			die("host key %s pressed on %s %s", kname(EV_KEY, e->code, nb, sizeof(nb)), tname(t),
			    vkind_name(kind));
		bool kb = kind == VK_KEYBOARD;
		if (kb ? !key_is_keyboard(e->code) : !key_is_mouse_button(e->code))
			die("code %u on %s's %s", e->code, tname(t), vkind_name(kind));
		uint8_t *st = &F.tdown[t][kind][e->code];
		if (e->value == 1) {
			if (*st)
				die("%s pressed twice on %s %s", kname(EV_KEY, e->code, nb, sizeof(nb)),
				    tname(t), vkind_name(kind));
			*st = 1;
			F.tcount[t]++;
		} else if (e->value == 0) {
			if (!*st)
				die("%s released on %s %s without a press",
				    kname(EV_KEY, e->code, nb, sizeof(nb)), tname(t), vkind_name(kind));
			*st = 0;
			F.tcount[t]--;
		} else {
			die("key value %d emitted", e->value);
		}
	}
	tr("%s", line);
}

static int cb_grab(void *data, int dev, bool on, struct router_grab *res)
{
	int i = idx(dev);
	if (i < 0 || !F.live[i])
		die("grab(%d, %d) of a device that does not exist", dev, on);
	if (on == F.grabbed[i])
		die("%s of d%d, which is already %s", on ? "grab" : "ungrab", dev, on ? "grabbed" : "free");
	/* Keys down in what the router has read: only the emergency paths,
	 * or an ungrab that gives the host the release of a key it holds (or
	 * may hold: a resync's presses across a grab change count as the
	 * host's). */
	bool retreat = !on && (!keyset_empty(&F.host_down[i]) || F.in_resync);
	if (!keyset_empty(&F.fed_down[i]) && !F.in_forced && !retreat && !F.grab_while_held) {
		F.grab_while_held = true;
		F.grab_while_held_slot = dev;
	}
	tr("> %s %s", on ? "grab" : "ungrab", dname(dev));
	if (on && F.grab_fails[i]) {
		F.last_grab_failed[i] = true;
		return -EBUSY;
	}
	if (on)
		F.last_grab_failed[i] = false;
	/* After every frame queued so far. */
	res->at_us = ++F.now_us;
	res->queue_empty = F.qlen[i] == 0;
	F.grabbed[i] = on;
	if (on && !keyset_empty(&F.down[i])) {
		/* As the shell does: a key is down at the source right after the
		 * grab (its press may be the host's), so the grab is taken back. */
		res->undone = true;
		res->undone_us = ++F.now_us;
		F.grabbed[i] = false;
		tr("> ungrab %s (undone)", dname(dev));
	}
	return 0;
}

static void cb_leds(void *data, int dev, uint32_t leds)
{
	if (dev != -1) {
		int i = idx(dev);
		if (i < 0 || !F.live[i])
			die("leds(%d) of a device that does not exist", dev);
		if (!F.info[i].keyboard)
			die("leds(%d) of a device that is no keyboard", dev);
	}
	tr("> leds %s 0x%x", dev < 0 ? "all" : dname(dev), leds);
}

static int cb_prepare(void *data, int from, int to)
{
	if (to < 0 || (size_t)to >= F.cfg->n_target || from < -1 || from >= (int)F.cfg->n_target)
		die("prepare(%d, %d)", from, to);
	return F.refuse[to] ? -EHOSTDOWN : 0;
}

static void cb_switched(void *data, int from, int to, enum switch_reason why)
{
	if (to < 0 || (size_t)to >= F.cfg->n_target || from < -1 || from >= (int)F.cfg->n_target)
		die("switched(%d, %d)", from, to);
	if (why == SWITCH_EMERGENCY)
		F.saw_emergency = true;
	if (router_is_locked(F.r) && (why == SWITCH_HOTKEY || why == SWITCH_TARGET_HOTKEY))
		die("a hotkey switched %s -> %s while locked", tname(from), tname(to));
	tr("> switched %s -> %s (%s)", tname(from), tname(to), switch_reason_name(why));
}

static void cb_locked(void *data, bool on)
{
	if (router_is_locked(F.r) != on)
		die("locked(%d) but router_is_locked says %d", on, router_is_locked(F.r));
	tr("> lock %s", on ? "on" : "off");
}

/* A route for the monitor: valid, and as the harness knows the event was
 * read (the host read it, or it came from a resync that counts as the
 * host's). Printed as golden/monitor.t shows it. */
static void cb_trace(void *data, int dev, const struct input_event *e, enum router_route route, int target,
		     unsigned flags)
{
	static const char *const routes[] = { [ROUTE_TARGET] = "?", [ROUTE_HOST_READ] = "host-read",
					       [ROUTE_HOTKEY] = "hotkey", [ROUTE_NOWHERE] = "nowhere" };
	if (!F.tracing)
		die("a route while the trace is off");
	if (dev != F.feeding_slot)
		die("a route of d%d while d%d is read", dev, F.feeding_slot);
	if ((unsigned)route > ROUTE_NOWHERE)
		die("route %d", route);
	int host = config_host_index(F.cfg);
	if ((route == ROUTE_TARGET) != (target >= 0) || target >= (int)F.cfg->n_target)
		die("route %d to target %d", route, target);
	if (route == ROUTE_TARGET && (flags & (ROUTE_F_HOST_KEY | ROUTE_F_HOST_ONLY)) && target != host)
		die("a host key or a host-only device's event routed to %s", tname(target));
	if (route == ROUTE_HOST_READ && !F.in_resync) {
		bool read = false;
		for (size_t k = 0; k < F.n_host_stamps; k++)
			read |= framer_stamp_us(e) == F.host_stamps[k];
		if (!read)
			die("route host-read of an event only kvmswitch read (stamp %lldus)",
			    (long long)framer_stamp_us(e));
	}
	if (e->type == EV_KEY)
		F.key_routes++;
	char ev[64], nb[32];
	const char *name = kname(e->type, e->code, nb, sizeof(nb));
	if (e->type == EV_KEY)
		snprintf(ev, sizeof(ev), "%c%s", e->value ? '+' : '-', name);
	else
		snprintf(ev, sizeof(ev), "%s=%d", name, e->value);
	tr("> route %s %s %s%s%s%s%s", dname(dev), ev, route == ROUTE_TARGET ? tname(target) : routes[route],
	   flags & ROUTE_F_SHARED ? " shared" : "", flags & ROUTE_F_HOST_KEY ? " host-key" : "",
	   flags & ROUTE_F_HOST_ONLY ? " host-only" : "", flags & ROUTE_F_CHORD ? " chord" : "");
}

/* The key events of a batch the router will route (for the trace's count). */
static void count_key_events(const struct input_event *ev, size_t n)
{
	if (!F.tracing)
		return;
	for (size_t k = 0; k < n; k++)
		if (ev[k].type == EV_KEY && ev[k].code < KEY_CNT && ev[k].value != 2) /* -1 is a press too */
			F.key_events++;
}

static void inject_frame(int i, unsigned code, int value);

/* The shell writes a press and a release into the (ungrabbed) device: the
 * kernel queues them for every reader. */
static void cb_host_release(void *data, int dev, unsigned code)
{
	int i = idx(dev);
	if (i < 0 || !F.live[i])
		die("host_release(%d) of a device that does not exist", dev);
	if (F.grabbed[i])
		die("host_release(d%d) while it is grabbed: the host would not read it", dev);
	if (!keyset_has(&F.host_down[i], code))
		die("host_release(d%d, %u) of a key the host does not hold", dev, code);
	tr("> host-release %s %s", dname(dev), test_code_name(EV_KEY, code) ? test_code_name(EV_KEY, code) : "?");
	inject_frame(i, code, 1);
	inject_frame(i, code, 0);
}

static bool cb_queued(void *data, int dev)
{
	int i = idx(dev);
	if (i < 0 || !F.live[i])
		die("queued(%d) of a device that does not exist", dev);
	return F.qlen[i] > 0;
}

/* g2 takes d5 whole while it is active (an evdev target's usb device). */
static bool cb_moves(void *data, int dev, int target)
{
	if (target < 0 || (size_t)target >= F.cfg->n_target)
		die("moves(%d, %d)", dev, target);
	return dev == 5 && target == config_target_index(F.cfg, "g2");
}

static const struct router_output out = {
	NULL, cb_emit, cb_grab, cb_leds, cb_prepare, cb_switched, cb_host_release, cb_locked, cb_queued, cb_moves,
};

/* ---- configs ---- */

/* bit 0: host virtual; bits 1-2: 1-3 evdev targets; bit 3: a usb target;
 * bit 4: host declared last (else first, or implicit); bit 5: target
 * hotkeys; bit 6: return-after on g1; bit 7: the extras byte `x` counts.
 * Extras (game time): bit 0 host-keys, 1 shared-keys, 2 a lock chord, 3
 * hotkey-action = toggle, 4 start-locked, 6 start on g1. (Before the
 * extras, bit 7 of s was "start on g1"; no seed has it set.) */
static void config_text(uint8_t s, uint8_t x, char *buf, size_t len)
{
	int n_ev = 1 + ((s >> 1) & 3) % 3;
	bool host_virtual = s & 1, usb = s & 8, host_last = s & 16, hot = s & 32, ret = s & 64;
	if (!(s & 128))
		x = 0;
	size_t off = 0;
#define ADD(...) (off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__))
	ADD("[general]\n");
	if (x & 64)
		ADD("start = g1\n");
	if (x & 1)
		ADD("host-keys = a pause btn_middle\n");
	if (x & 2)
		ADD("shared-keys = b capslock btn_right\n");
	if (x & 4)
		ADD("lock = leftshift+f1\n");
	if (x & 8)
		ADD("hotkey-action = toggle\n");
	if (x & 16)
		ADD("start-locked = yes\n");
	const char *host = host_virtual ? "[target host]\nmode = virtual\n" : hot ? "[target host]\n" : "";
	if (!host_last)
		ADD("%s", host);
	if (hot && !host_last && host[0])
		ADD("hotkey = scrolllock\n");
	for (int i = 1; i <= n_ev; i++) {
		ADD("[target g%d]\n", i);
		if (hot && i < 3)
			ADD("hotkey = leftalt+f%d\n", i);
		if (hot && i == 3)
			ADD("hotkey = Either_Ctrl+BTN_SIDE\n");
		if (ret && i == 1)
			ADD("return-after = 1\n");
	}
	if (usb)
		ADD("[target u]\ntype = usb\ndomain = d\nusb = 1234:5678\n%s",
		    hot ? "hotkey = rightalt+f12\n" : "");
	if (host_last)
		ADD("%s", host_virtual || hot ? "[target host]\n" : "[target host]\n");
	if (host_last && host_virtual)
		ADD("mode = virtual\n");
	if (host_last && hot)
		ADD("hotkey = scrolllock\n");
#undef ADD
}

static struct config *make_config(uint8_t s, uint8_t x)
{
	char text[1024], err[CONFIG_ERR_MAX];
	config_text(s, x, text, sizeof(text));
	struct config *cfg = config_parse(text, strlen(text), "fuzz.conf", err, sizeof(err));
	if (!cfg || config_resolve_keys(cfg, &test_resolver, err, sizeof(err)) < 0)
		die("config %#x does not load: %s\n%s", s, err, text);
	if (F.trace) {
		fprintf(stderr, "%s", text);
		fprintf(stderr, "end\n");
	}
	return cfg;
}

/* ---- checks ---- */

static bool forwarding_now(void)
{
	return !router_is_released(F.r) && config_target_forwards(F.cfg, router_active(F.r));
}

static void check_state(const char *after)
{
	if (F.grab_while_held && !F.saw_emergency)
		die("after %s: d%d changed grab while a key was down at its source", after,
		    F.grab_while_held_slot);
	F.grab_while_held = F.saw_emergency = false;
	if (F.key_events != F.key_routes)
		die("after %s: %zu key events were read with the trace on, but %zu routes reported", after,
		    F.key_events, F.key_routes);
	int active = router_active(F.r);
	if (active < 0 || (size_t)active >= F.cfg->n_target)
		die("after %s: active target %d", after, active);
	for (size_t t = 0; t < F.cfg->n_target; t++) {
		size_t n = F.tcount[t];
		if (n != router_target_held(F.r, (int)t))
			die("after %s: router_target_held(%s) = %zu, but %zu keys are down there", after,
			    tname((int)t), router_target_held(F.r, (int)t), n);
	}
	bool fwd_all = forwarding_now();
	/* A host-only device is grabbed while the host reads our devices. */
	bool fwd_host = !router_is_released(F.r) && config_target_forwards(F.cfg, config_host_index(F.cfg));
	for (int i = 0; i < N_SLOTS; i++) {
		if (!F.live[i])
			continue;
		int slot = i < 6 ? i : 127;
		bool fwd = F.info[i].host_only ? fwd_host : fwd_all;
		if (router_device_grabbed(F.r, slot) != F.grabbed[i])
			die("after %s: d%d grabbed says %d, the callbacks say %d", after, slot,
			    router_device_grabbed(F.r, slot), F.grabbed[i]);
		/* What the router cannot know yet (queued frames), or keys down. */
		if (!keyset_empty(&F.down[i]) || !keyset_empty(&F.fed_down[i]) || F.qlen[i])
			continue;
		bool dfwd = fwd && !(!F.info[i].host_only && slot == 5 && active == config_target_index(F.cfg, "g2"));
		if (!dfwd && F.grabbed[i])
			die("after %s: d%d stays grabbed although the host reads the devices and "
			    "it has no key down",
			    after, slot);
		if (dfwd && !F.grabbed[i] && !F.last_grab_failed[i])
			die("after %s: d%d is not grabbed although %s is active and it has no "
			    "key down%s",
			    after, slot, tname(active), F.info[i].host_only ? " (host-only, virtual host)" : "");
	}
}

/* ---- operations ---- */

static void trace_frames(const char *prefix, int slot, const struct input_event *ev, size_t n)
{
	if (!F.trace)
		return;
	char line[8192];
	size_t off = (size_t)snprintf(line, sizeof(line), "%s%s:", prefix, dname(slot));
	bool start = true;
	for (size_t k = 0; k < n && off < sizeof(line); k++) {
		if (start)
			off += (size_t)snprintf(line + off, sizeof(line) - off, " @%lldus",
						(long long)framer_stamp_us(&ev[k]));
		start = ev[k].type == EV_SYN && ev[k].code == SYN_REPORT;
		if (start) {
			if (k + 1 < n)
				off += (size_t)snprintf(line + off, sizeof(line) - off, " |");
			continue;
		}
		char nb[32];
		const char *name = kname(ev[k].type, ev[k].code, nb, sizeof(nb));
		if (ev[k].type == EV_KEY && (ev[k].value == 0 || ev[k].value == 1))
			off += (size_t)snprintf(line + off, sizeof(line) - off, " %c%s", ev[k].value ? '+' : '-', name);
		else
			off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%d", name, ev[k].value);
	}
	tr("%s", line);
}

static void track_keys(struct keyset *set, const struct input_event *ev, size_t n)
{
	for (size_t m = 0; m < n; m++)
		if (ev[m].type == EV_KEY && ev[m].code < KEY_CNT && ev[m].value != 2)
			keyset_set(set, ev[m].code, ev[m].value != 0);
}

/* The host reader: a press it reads it holds until it reads the release. */
static void host_reads(int i, const struct input_event *ev, size_t n)
{
	track_keys(&F.host_down[i], ev, n);
}

/* One read() of device `slot`: its whole queue in one batch. */
static void read_queue(int slot)
{
	int i = idx(slot);
	if (i < 0 || !F.qlen[i])
		return;
	static struct input_event batch[(QUEUE_MAX + 8) * (QFRAME_MAX + 1)];
	size_t n = 0;
	F.n_host_stamps = 0;
	for (size_t q = 0; q < F.qlen[i]; q++) {
		struct qframe *f = &F.queue[i][q];
		memcpy(batch + n, f->ev, f->n * sizeof(*batch));
		n += f->n;
		if (f->host_read)
			F.host_stamps[F.n_host_stamps++] = framer_stamp_us(&f->ev[0]);
	}
	F.qlen[i] = 0;
	trace_frames("", slot, batch, n);
	track_keys(&F.fed_down[i], batch, n);
	count_key_events(batch, n);
	F.feeding_slot = slot;
	router_feed(F.r, slot, batch, n, F.now);
	F.feeding_slot = -1;
	F.n_host_stamps = 0;
}

/* The device sends a frame: the kernel stamps it and queues it for every
 * reader (the host only while the device is not grabbed). */
static void queue_frame(int slot, struct input_event *ev, size_t n, bool read_now)
{
	int i = idx(slot);
	ev[n++] = (struct input_event){ .type = EV_SYN, .code = SYN_REPORT };
	int64_t t = ++F.now_us;
	for (size_t k = 0; k < n; k++)
		framer_set_stamp_us(&ev[k], t);
	if (i < 0 || !F.live[i]) {
		/* No such device: the router must ignore it. */
		trace_frames("", slot, ev, n);
		router_feed(F.r, slot, ev, n, F.now);
		return;
	}
	if (F.qlen[i] >= QUEUE_MAX)
		read_queue(slot);
	struct qframe *f = &F.queue[i][F.qlen[i]++];
	f->n = n;
	f->host_read = !F.grabbed[i];
	memcpy(f->ev, ev, n * sizeof(*ev));
	track_keys(&F.down[i], ev, n);
	if (f->host_read)
		host_reads(i, ev, n);
	if (read_now)
		read_queue(slot);
}

/* An event written into device i: queued for every reader (it is not
 * grabbed), without reading (this runs inside a router callback). */
static void inject_frame(int i, unsigned code, int value)
{
	if (F.qlen[i] >= QUEUE_MAX + 8)
		die("no room to inject into d%d", i);
	struct qframe *f = &F.queue[i][F.qlen[i]++];
	int64_t t = ++F.now_us;
	f->n = 2;
	f->host_read = true;
	f->ev[0] = (struct input_event){ .type = EV_KEY, .code = (uint16_t)code, .value = value };
	f->ev[1] = (struct input_event){ .type = EV_SYN, .code = SYN_REPORT };
	framer_set_stamp_us(&f->ev[0], t);
	framer_set_stamp_us(&f->ev[1], t);
	host_reads(i, f->ev, 2);
}

/* SYN_DROPPED: the queue overflowed; the newest `keep` frames survive. The
 * shell meets the drop, reads the frames after it, then libevdev yields the
 * difference between what was read and the device's state. */
static void drop_queue(int slot, uint8_t keep)
{
	int i = idx(slot);
	if (i < 0 || !F.live[i])
		return;
	size_t k = keep % (F.qlen[i] + 1), lost = F.qlen[i] - k;
	memmove(F.queue[i], F.queue[i] + lost, k * sizeof(F.queue[i][0]));
	F.qlen[i] = k;
	tr("drop %s", dname(slot));
	router_note_resync(F.r, slot);
	read_queue(slot);
	struct input_event ev[KEY_CNT + 1];
	size_t n = 0;
	int64_t t = ++F.now_us;
	for (unsigned c = 0; c < KEY_CNT; c++)
		if (keyset_has(&F.down[i], c) != keyset_has(&F.fed_down[i], c))
			ev[n++] = (struct input_event){ .type = EV_KEY,
							.code = (uint16_t)c,
							.value = keyset_has(&F.down[i], c) };
	ev[n++] = (struct input_event){ .type = EV_SYN, .code = SYN_REPORT };
	for (size_t m = 0; m < n; m++)
		framer_set_stamp_us(&ev[m], t);
	trace_frames("resync ", slot, ev, n);
	track_keys(&F.fed_down[i], ev, n);
	F.in_resync = true;
	count_key_events(ev, n);
	F.feeding_slot = slot;
	router_feed_resync(F.r, slot, ev, n, F.now);
	F.feeding_slot = -1;
	F.in_resync = false;
}

static size_t feed_other(uint8_t b, const uint8_t **p, const uint8_t *end, struct input_event *e)
{
	uint8_t arg = *p < end ? *(*p)++ : 0;
	switch (b & 15) {
	case 0:
		*e = (struct input_event){ .type = EV_REL, .code = REL_X, .value = (int8_t)arg };
		return 1;
	case 1:
		*e = (struct input_event){ .type = EV_REL,
					   .code = arg & 1 ? REL_WHEEL_HI_RES : REL_WHEEL,
					   .value = (int8_t)arg };
		return 1;
	case 2:
	case 3:
		*e = (struct input_event){ .type = EV_ABS,
					   .code = (b & 15) == 2 ? ABS_X : ABS_Y,
					   .value = (int32_t)((uint32_t)arg * 0x01010101u) };
		return 1;
	case 4:
		*e = (struct input_event){ .type = EV_MSC, .code = MSC_SCAN, .value = 0x70000 + arg };
		return 1;
	case 5:
	case 6:
		*e = (struct input_event){ .type = EV_LED, .code = arg & 31, .value = (b & 15) == 5 };
		return 1;
	case 7:
		*e = (struct input_event){ .type = EV_SYN, .code = SYN_REPORT };
		return 1;
	case 8:
	case 9:
		*e = (struct input_event){ .type = EV_KEY,
					   .code = keys[arg & 31],
					   .value = (b & 15) == 8 ? 2 : -1 };
		return 1;
	case 10:
		*e = (struct input_event){ .type = EV_SW, .code = SW_LID, .value = arg & 1 };
		return 1;
	case 11:
		*e = (struct input_event){ .type = EV_SYN, .code = SYN_DROPPED };
		return 1;
	case 12:
		*e = (struct input_event){ .type = EV_ABS, .code = ABS_MT_POSITION_X, .value = arg };
		return 1;
	case 13:
		*e = (struct input_event){ .type = EV_MSC, .code = MSC_TIMESTAMP, .value = arg };
		return 1;
	default:
		*e = (struct input_event){ .type = EV_REL, .code = REL_Y, .value = -(int8_t)arg };
		return 1;
	}
}

static void op_frame(const uint8_t **p, const uint8_t *end)
{
	uint8_t sb = *p < end ? *(*p)++ : 0;
	int slot = slot_of(sb);
	struct input_event ev[40];
	size_t n = 0;
	while (*p < end && n < 32) {
		uint8_t b = *(*p)++;
		if (b & 0x40) {
			ev[n++] = (struct input_event){ .type = EV_KEY,
							.code = keys[b & 31],
							.value = !(b & 0x20) };
		} else if ((b & 15) == 14) {
			break;
		} else {
			n += feed_other(b, p, end, &ev[n]);
		}
	}
	queue_frame(slot, ev, n, !(sb & 8));
}

static void op_long_frame(const uint8_t **p, const uint8_t *end)
{
	int slot = slot_of(*p < end ? *(*p)++ : 0);
	unsigned count = *p < end ? *(*p)++ & 0x7f : 0;
	unsigned base = *p < end ? *(*p)++ * 3u : 0;
	bool up = base & 1;
	struct input_event ev[200];
	size_t n = 0;
	for (unsigned k = 0; k < count; k++)
		ev[n++] = (struct input_event){ .type = EV_KEY, .code = (uint16_t)(base + k), .value = !up };
	queue_frame(slot, ev, n, true);
}

static void op_add(const uint8_t **p, const uint8_t *end)
{
	int slot = slot_of(*p < end ? *(*p)++ : 0);
	uint8_t flags = *p < end ? *(*p)++ : 0;
	uint8_t held = *p < end ? *(*p)++ : 0;
	static const int32_t ranges[4][2] = {
		{ 0, 32767 }, { -100, 100 }, { 5, 5 }, { INT32_MIN, INT32_MAX }
	};
	struct router_device_info info = { 0 };
	info.keyboard = flags & 1;
	info.absolute = flags & 2;
	if (info.absolute) {
		int r = (flags >> 3) & 3;
		info.abs_min[0] = info.abs_min[1] = ranges[r][0];
		info.abs_max[0] = info.abs_max[1] = ranges[r][1];
	}
	info.leds = flags & 4 ? 0x3 : 0;
	info.host_only = flags & 128;
	if ((held & 31) && keys[held & 31] < KEY_CNT)
		keyset_set(&info.held, keys[held & 31], true);
	if (held & 32)
		keyset_set(&info.held, KEY_LEFTCTRL, true);
	int i = idx(slot);
	if (F.trace) {
		char hl[128] = "";
		size_t off = 0;
		for (unsigned c = 0; c < KEY_CNT; c++)
			if (keyset_has(&info.held, c))
				off += (size_t)snprintf(hl + off, sizeof(hl) - off, "%s%s",
							off ? "," : " held ", test_code_name(EV_KEY, c));
		char ab[64] = "";
		if (info.absolute)
			snprintf(ab, sizeof(ab), " absolute %d %d", info.abs_min[0], info.abs_max[0]);
		tr("device %s%s%s%s%s%s%s", dname(slot), info.keyboard ? " keyboard" : "", ab,
		   info.leds ? " leds 0x3" : "", hl, info.host_only ? " host-only" : "",
		   slot == 5 && config_target_index(F.cfg, "g2") >= 0 ? " moved-by g2" : "");
	}
	bool was_live = i >= 0 && F.live[i];
	if (i >= 0 && !was_live) {
		/* Before the call: the callbacks may see the device at once. The
		 * host read the presses of the keys held at the start. */
		F.live[i] = true;
		F.info[i] = info;
		F.down[i] = info.held;
		F.fed_down[i] = info.held;
		F.host_down[i] = info.held;
		F.qlen[i] = 0;
		F.grabbed[i] = false;
		F.last_grab_failed[i] = false;
	}
	int rc = router_device_add(F.r, slot, &info, F.now);
	note_rc(rc);
	if ((rc == 0) != (i >= 0 && !was_live))
		die("router_device_add(%d) returned %d", slot, rc);
}

static void op_remove(int slot)
{
	int i = idx(slot);
	tr("remove %s", dname(slot));
	router_device_remove(F.r, slot, F.now);
	if (i >= 0 && F.live[i]) {
		F.live[i] = false;
		memset(&F.down[i], 0, sizeof(F.down[i]));
		memset(&F.fed_down[i], 0, sizeof(F.fed_down[i]));
		memset(&F.host_down[i], 0, sizeof(F.host_down[i]));
		F.qlen[i] = 0;
		/* A removed device's fd is closed: whatever grab it had is gone. */
		F.grabbed[i] = false;
	}
}

static void release_source(int slot)
{
	int i = idx(slot);
	if (i < 0 || !F.live[i])
		return;
	struct input_event ev[KEY_CNT + 1];
	size_t n = 0;
	for (unsigned c = 0; c < KEY_CNT; c++)
		if (keyset_has(&F.down[i], c))
			ev[n++] = (struct input_event){ .type = EV_KEY, .code = (uint16_t)c, .value = 0 };
	/* At most 32 per frame, as a real device would send them. */
	for (size_t k = 0; k < n; k += 32) {
		struct input_event fr[33];
		size_t m = n - k < 32 ? n - k : 32;
		memcpy(fr, ev + k, m * sizeof(*fr));
		queue_frame(slot, fr, m, false);
	}
	read_queue(slot);
}

static void reload(uint8_t s, uint8_t x)
{
	tr("reload");
	bool locked = router_is_locked(F.r);
	struct config *next = make_config(s, x);
	int map[CONFIG_MAX_TARGETS];
	config_map_targets(F.cfg, next, map);
	router_release_vanishing(F.r, map);
	/* Vanished targets have nothing down any more. */
	for (size_t t = 0; t < F.cfg->n_target; t++)
		if (map[t] < 0 && F.tcount[t])
			die("target '%s' vanished with %zu keys down", tname((int)t), F.tcount[t]);
	static uint8_t nd[CONFIG_MAX_TARGETS][VK_COUNT][KEY_CNT];
	memset(nd, 0, sizeof(nd));
	for (size_t t = 0; t < F.cfg->n_target; t++)
		if (map[t] >= 0)
			memcpy(nd[map[t]], F.tdown[t], sizeof(nd[0]));
	memcpy(F.tdown, nd, sizeof(nd));
	size_t nc[CONFIG_MAX_TARGETS] = { 0 };
	for (size_t t = 0; t < F.cfg->n_target; t++)
		if (map[t] >= 0)
			nc[map[t]] = F.tcount[t];
	memcpy(F.tcount, nc, sizeof(nc));
	bool refuse[CONFIG_MAX_TARGETS] = { false };
	for (size_t t = 0; t < F.cfg->n_target; t++)
		if (map[t] >= 0)
			refuse[map[t]] = F.refuse[t];
	memcpy(F.refuse, refuse, sizeof(refuse));
	struct config *old = F.cfg;
	F.cfg = next;
	router_reconfigure(F.r, next, map, F.now);
	config_destroy(old);
	if (router_is_locked(F.r) != locked)
		die("a reload changed the lock");
}

/* lock, unlock, trace on, trace off. */
static void game_op(uint8_t op)
{
	switch (op) {
	case 0:
	case 1:
		tr("%s", op == 0 ? "lock" : "unlock");
		note_rc(router_lock(F.r, op == 0));
		if (router_is_locked(F.r) != (op == 0))
			die("router_lock(%d) left locked = %d", op == 0, router_is_locked(F.r));
		break;
	default:
		tr("monitor %s", op == 2 ? "on" : "off");
		F.tracing = op == 2;
		router_set_trace(F.r, F.tracing ? cb_trace : NULL, NULL);
		break;
	}
}

static int target_of(uint8_t b)
{
	return (b & 31) < 20 ? (int)((b & 31) % (F.cfg->n_target + 1)) : 99;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(&F, 0, sizeof(F));
	F.trace = getenv("FUZZ_TRACE") != NULL;
	if (size < 1)
		return 0;
	const uint8_t *p = data, *end = data + size;
	tr("config");
	F.feeding_slot = -1;
	uint8_t sel = *p++, extras = (sel & 128) && p < end ? *p++ : 0;
	F.cfg = make_config(sel, extras);
	F.r = router_create(F.cfg, &out);
	if (!F.r)
		die("router_create failed");
	F.now = 1000;
	tr("start");
	router_start(F.r, F.now);
	if (router_is_locked(F.r) != F.cfg->start_locked)
		die("start-locked = %d, but locked = %d after the start", F.cfg->start_locked, router_is_locked(F.r));
	check_state("start");
	for (int ops = 0; p < end && ops < MAX_OPS; ops++) {
		uint8_t opb = *p++, op = opb & 15;
		tr("clock %lldus", (long long)F.now_us + 1);
		uint8_t a = p < end ? *p : 0;
		const char *what = "?";
		if ((opb & 128) && op < 4) {
			game_op(op);
			check_state("a game-time op");
			continue;
		}
		switch (op) {
		case 0:
			p++;
			F.now += (uint64_t)a * 25;
			tr("%ums", (unsigned)a * 25);
			router_tick(F.r, F.now);
			what = "tick";
			break;
		case 1:
			op_add(&p, end);
			what = "device add";
			break;
		case 2:
			p++;
			op_remove(slot_of(a));
			what = "device remove";
			break;
		case 3:
			op_frame(&p, end);
			what = "frame";
			break;
		case 4: {
			p++;
			uint8_t keep = p < end ? *p++ : 0;
			drop_queue(slot_of(a), keep);
			what = "drop";
			break;
		}
		case 5: {
			p++;
			int t = target_of(a);
			tr("switch %s", tname(t));
			note_rc(router_switch(F.r, t, SWITCH_COMMAND, F.now));
			what = "switch";
			break;
		}
		case 6:
		case 7:
			tr("%s", op == 6 ? "cycle" : "prev");
			note_rc(router_cycle(F.r, op == 6 ? 1 : -1, SWITCH_COMMAND, F.now));
			what = "cycle";
			break;
		case 8:
			tr("toggle");
			note_rc(router_toggle(F.r, SWITCH_COMMAND, F.now));
			what = "toggle";
			break;
		case 9:
			tr("release");
			F.in_forced = true;
			router_release(F.r, SWITCH_EMERGENCY, F.now);
			F.in_forced = false;
			what = "release";
			break;
		case 10: {
			p++;
			uint8_t code = p < end ? *p++ : 0, val = p < end ? *p++ : 0;
			int t = target_of(a);
			tr("# led %s code %u value %d", tname(t), code & 63, val & 1);
			router_target_led(F.r, t, code & 63, val & 1);
			what = "led";
			break;
		}
		case 11: {
			p++;
			uint8_t x = (a & 128) && p < end ? *p++ : 0;
			reload(a, x);
			what = "reload";
			break;
		}
		case 12: {
			p++;
			int t = target_of(a);
			if (t < (int)F.cfg->n_target && F.cfg->target[t].type != TARGET_HOST) {
				F.refuse[t] = !F.refuse[t];
				if (F.refuse[t])
					tr("refuse %s", tname(t));
				else
					tr("# prepare() accepts %s again", tname(t));
			}
			what = "refuse";
			break;
		}
		case 13: {
			p++;
			int i = idx(slot_of(a));
			if (i >= 0) {
				F.grab_fails[i] = !F.grab_fails[i];
				tr("# EVIOCGRAB of %s %s", dname(slot_of(a)),
				   F.grab_fails[i] ? "fails" : "works");
			}
			what = "grab failure";
			break;
		}
		case 14:
			p++;
			release_source(slot_of(a));
			what = "source release";
			break;
		case 15:
			op_long_frame(&p, end);
			what = "long frame";
			break;
		}
		check_state(what);
	}
	/* Every key up at the source: nothing may stay down anywhere, on a
	 * target or on the host. */
	tr("# all keys released at the source");
	for (int i = 0; i < N_SLOTS; i++)
		if (F.live[i])
			release_source(i < 6 ? i : 127);
	check_state("releasing everything");
	for (size_t t = 0; t < F.cfg->n_target; t++) {
		if (router_target_held(F.r, (int)t) != 0)
			die("%zu keys still held on '%s' after every key was released at the "
			    "source",
			    router_target_held(F.r, (int)t), tname((int)t));
		tr("? held %s 0", tname((int)t));
	}
	for (int i = 0; i < N_SLOTS; i++) {
		if (!F.live[i])
			continue;
		for (unsigned c = 0; c < KEY_CNT; c++)
			if (keyset_has(&F.host_down[i], c))
				die("the host still holds %s of d%d after every key was released at "
				    "the "
				    "source",
				    test_code_name(EV_KEY, c) ? test_code_name(EV_KEY, c) : "a key", i < 6 ? i : 127);
		tr("? host-held %s 0", dname(i < 6 ? i : 127));
	}
	tr("shutdown");
	F.in_forced = true;
	router_shutdown(F.r);
	for (int i = 0; i < N_SLOTS; i++)
		if (F.live[i] && F.grabbed[i])
			die("d%d still grabbed after router_shutdown", i < 6 ? i : 127);
	router_destroy(F.r);
	config_destroy(F.cfg);
	return 0;
}
