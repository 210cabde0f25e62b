/* Golden event scripts for the router (tests/golden/NAME.t).
 *
 * Each action line is followed by the exact outputs it must produce, as
 * "> ..." lines; anything missing, extra or different fails the script with
 * a readable diff. Virtual time advances with lines like "300ms".
 *
 *   config ... end            config text (default: built-in defaults)
 *   device NAME [keyboard] [absolute MIN MAX] [leds 0xN] [held k,k] [nograb]
 *          [host-only]
 *          [moved-by T]     target T takes the device whole (out.moves)
 *   remove NAME
 *   start | switch T | cycle | prev | toggle | release | shutdown
 *   reload ... end            a new config; targets kept by name and type
 *   refuse T                  prepare() refuses T (domain not running)
 *   lock | unlock             router_lock (a command; the chord is a key)
 *   monitor on|off            router_set_trace: then each routed event
 *                             gives "> route NAME EVENT WHERE [FLAGS]",
 *                             WHERE a target, host-read, hotkey or
 *                             nowhere; FLAGS shared, host-key, host-only,
 *                             chord
 *   led T NAME VALUE          a consumer wrote an LED to T's keyboard
 *   NAME: +a -a rel_x=5 a=2   one frame from device NAME (SYN added)
 *   NAME: -a | +s | @12ms +d  several frames in one call, as one read()
 *                             returns them; a frame may start with its
 *                             kernel stamp @TIME (e.g. @12ms, @12001us);
 *                             unstamped frames get the virtual clock, which
 *                             then moves on by 1us
 *   grab-at TIME              the next grab change takes effect at TIME
 *                             (default: the virtual clock), so frames
 *                             stamped before it, fed later, were queued
 *                             before it (the kernel's queue at a grab)
 *   grab-undo TIME            the next grab is taken back at TIME (the
 *                             shell found a key down right after it)
 *   clock TIME                set the virtual clock (it only moves on)
 *   drop NAME                 a SYN_DROPPED was read from NAME
 *   resync NAME: EVENTS       libevdev's resync after it (stamped now)
 *   ? active T | ? held T N | ? grabbed NAME yes|no | ? pending NAME yes|no
 *   ? leds T 0xN | ? deadline N|none | ? locked yes|no
 *   ? host-held NAME N        keys of NAME the host holds, as a reader of
 *                             the physical device that is not kvmswitch
 *                             sees them (every frame queued while NAME was
 *                             not grabbed)
 *   ? host-presses NAME N     presses of NAME that host reader has read
 *   300ms                     advance time and tick
 *
 * Outputs: "> T KIND: events", "> grab NAME", "> ungrab NAME",
 * "> ungrab NAME (undone)", "> host-release NAME KEY",
 * "> leds NAME|all 0xN", "> switched FROM -> TO (reason)", "> rc -EXXX",
 * "> lock on|off".
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>

#include "core/framer.h"
#include "core/router.h"
#include "test.h"

#define MAX_OUT 256
#define MAX_DEV 16
#define MAX_CHANGES 64

/* A reader of a physical device that is not kvmswitch (the compositor):
 * it reads every frame the kernel queued while the device was not grabbed,
 * and holds a key from its press to its release. */
struct host_view {
	int n_change;
	int64_t at[MAX_CHANGES];
	bool grabbed[MAX_CHANGES];
	bool down[KEY_CNT];
	unsigned held, presses;
};

struct golden {
	const char *file;
	struct config *cfg, *old_cfg;
	struct router *r;
	char dev_name[MAX_DEV][32];
	bool dev_nograb[MAX_DEV];
	int dev_moved_by[MAX_DEV]; /* target index + 1, 0: none */
	struct host_view host[MAX_DEV];
	int n_dev;
	bool refuse[CONFIG_MAX_TARGETS];
	uint64_t now;
	int64_t now_us;
	bool grab_at_set, grab_undo_set;
	int64_t grab_at, grab_undo;
	char *out[MAX_OUT];
	int n_out;
	char err[1024];
};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static void out_add(struct golden *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_add(struct golden *g, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (g->n_out < MAX_OUT)
		g->out[g->n_out++] = strdup(buf);
}

static const char *tname(struct golden *g, int t)
{
	return t < 0 ? "-" : g->cfg->target[t].name;
}

static void fmt_event(char *buf, size_t len, const struct input_event *e)
{
	const char *name = test_code_name(e->type, e->code);
	char num[32];
	if (!name) {
		snprintf(num, sizeof(num), "%u:%u", e->type, e->code);
		name = num;
	}
	if (e->type == EV_KEY && (e->value == 0 || e->value == 1))
		snprintf(buf, len, "%c%s", e->value ? '+' : '-', name);
	else
		snprintf(buf, len, "%s=%d", name, e->value);
}

static void cb_emit(void *data, int target, enum vkind kind, const struct input_event *ev, size_t n)
{
	struct golden *g = data;
	char line[1024];
	size_t off = (size_t)snprintf(line, sizeof(line), "%s %s:", tname(g, target), vkind_name(kind));
	for (size_t i = 0; i < n; i++) {
		bool last = i + 1 == n;
		bool syn = ev[i].type == EV_SYN && ev[i].code == SYN_REPORT;
		if (last && syn)
			break;
		char e[64];
		if (syn)
			snprintf(e, sizeof(e), "!SYN-in-frame");
		else
			fmt_event(e, sizeof(e), &ev[i]);
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s", e);
		if (off >= sizeof(line))
			break;
	}
	if (n == 0 || ev[n - 1].type != EV_SYN || ev[n - 1].code != SYN_REPORT)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " !no-SYN");
	out_add(g, "%s", line);
}

static void host_change(struct host_view *h, int64_t at, bool grabbed)
{
	if (h->n_change < MAX_CHANGES) {
		h->at[h->n_change] = at;
		h->grabbed[h->n_change++] = grabbed;
	}
}

static bool host_reads(const struct host_view *h, int64_t t)
{
	bool grabbed = false;
	for (int k = 0; k < h->n_change && h->at[k] <= t; k++)
		grabbed = h->grabbed[k];
	return !grabbed;
}

/* What the host reader makes of the events it reads: like libinput, it
 * ignores a press of a key it holds and a release of one it does not. */
static void host_read(struct host_view *h, const struct input_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct input_event *e = &ev[i];
		if (e->type != EV_KEY || e->code >= KEY_CNT || e->value == 2 || !host_reads(h, framer_stamp_us(e)))
			continue;
		if (e->value && !h->down[e->code]) {
			h->down[e->code] = true;
			h->held++;
			h->presses++;
		} else if (!e->value && h->down[e->code]) {
			h->down[e->code] = false;
			h->held--;
		}
	}
}

static int cb_grab(void *data, int dev, bool on, struct router_grab *res)
{
	struct golden *g = data;
	out_add(g, "%s %s", on ? "grab" : "ungrab", g->dev_name[dev]);
	if (on && g->dev_nograb[dev])
		return -EBUSY;
	/* The virtual clock is at least at the instant of the last change. */
	res->at_us = g->grab_at_set ? g->grab_at : g->now_us;
	g->grab_at_set = false;
	host_change(&g->host[dev], res->at_us, on);
	if (g->now_us < res->at_us)
		g->now_us = res->at_us;
	if (on && g->grab_undo_set) {
		res->undone = true;
		res->undone_us = g->grab_undo;
		g->grab_undo_set = false;
		host_change(&g->host[dev], res->undone_us, false);
		if (g->now_us < res->undone_us)
			g->now_us = res->undone_us;
		out_add(g, "ungrab %s (undone)", g->dev_name[dev]);
	}
	return 0;
}

/* The shell writes a press and a release into the device: a script feeds
 * them as the frames they are (the host reader ignores the press of a key
 * it holds and takes the release). */
static void cb_host_release(void *data, int dev, unsigned code)
{
	struct golden *g = data;
	const char *name = test_code_name(EV_KEY, code);
	out_add(g, "host-release %s %s", g->dev_name[dev], name ? name : "?");
}

static void cb_leds(void *data, int dev, uint32_t leds)
{
	struct golden *g = data;
	out_add(g, "leds %s 0x%x", dev < 0 ? "all" : g->dev_name[dev], leds);
}

static int cb_prepare(void *data, int from, int to)
{
	struct golden *g = data;
	return g->refuse[to] ? -EHOSTDOWN : 0;
}

static bool cb_moves(void *data, int dev, int target)
{
	struct golden *g = data;
	return g->dev_moved_by[dev] == target + 1;
}

static void cb_switched(void *data, int from, int to, enum switch_reason why)
{
	struct golden *g = data;
	out_add(g, "switched %s -> %s (%s)", tname(g, from), tname(g, to), switch_reason_name(why));
}

static void cb_locked(void *data, bool on)
{
	struct golden *g = data;
	out_add(g, "lock %s", on ? "on" : "off");
}

static void cb_trace(void *data, int dev, const struct input_event *ev, enum router_route route, int target,
		     unsigned flags)
{
	static const char *const routes[] = { [ROUTE_TARGET] = "?", [ROUTE_HOST_READ] = "host-read",
					       [ROUTE_HOTKEY] = "hotkey", [ROUTE_NOWHERE] = "nowhere" };
	struct golden *g = data;
	char e[64];
	fmt_event(e, sizeof(e), ev);
	out_add(g, "route %s %s %s%s%s%s%s", g->dev_name[dev], e, route == ROUTE_TARGET ? tname(g, target) : routes[route],
		flags & ROUTE_F_SHARED ? " shared" : "", flags & ROUTE_F_HOST_KEY ? " host-key" : "",
		flags & ROUTE_F_HOST_ONLY ? " host-only" : "", flags & ROUTE_F_CHORD ? " chord" : "");
}

static const char *errname(int rc)
{
	switch (-rc) {
	case ENOENT:
		return "-ENOENT";
	case EALREADY:
		return "-EALREADY";
	case EHOSTDOWN:
		return "-EHOSTDOWN";
	case EINVAL:
		return "-EINVAL";
	}
	return "-E?";
}

static void note_rc(struct golden *g, int rc)
{
	if (rc < 0)
		out_add(g, "rc %s", errname(rc));
}

static int find_dev(struct golden *g, const char *name)
{
	for (int i = 0; i < g->n_dev; i++)
		if (strcmp(g->dev_name[i], name) == 0)
			return i;
	return -1;
}

static int find_target(struct golden *g, const char *name)
{
	return config_target_index(g->cfg, name);
}

static int fail_at(struct golden *g, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(struct golden *g, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(g->err, sizeof(g->err), "%s:%d: ", g->file, line);
	va_start(ap, fmt);
	vsnprintf(g->err + n, sizeof(g->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static struct config *load_config(struct golden *g, const char *text, int line)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = config_parse(text, strlen(text), "golden.conf", err, sizeof(err));
	if (!cfg || config_resolve_keys(cfg, &test_resolver, err, sizeof(err)) < 0) {
		config_destroy(cfg);
		fail_at(g, line, "config: %s", err);
		return NULL;
	}
	return cfg;
}

static const struct router_output *output(struct golden *g)
{
	static struct router_output o;
	o = (struct router_output){ g, cb_emit, cb_grab, cb_leds, cb_prepare, cb_switched, cb_host_release, cb_locked, NULL,
				   cb_moves };
	return &o;
}

static int ensure_router(struct golden *g, int line)
{
	if (g->r)
		return 0;
	if (!g->cfg && !(g->cfg = load_config(g, "", line)))
		return -1;
	g->r = router_create(g->cfg, output(g));
	return g->r ? 0 : fail_at(g, line, "router_create failed");
}

/* "12ms", "12.5ms", "12001us" -> µs. */
static int parse_time(const char *s, int64_t *us)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	if (!strcmp(end, "ms"))
		*us = (int64_t)(v * 1000 + 0.5);
	else if (!strcmp(end, "us"))
		*us = (int64_t)(v + 0.5);
	else
		return -1;
	return 0;
}

/* One call to the router with the frames of `events` ("a b | c"). */
static int feed_frames(struct golden *g, int dev, char *events, bool resync, int line)
{
	struct input_event ev[256];
	size_t n = 0;
	int64_t stamp = -1;
	for (char *save = NULL, *tok = strtok_r(events, " \t", &save);; tok = strtok_r(NULL, " \t", &save)) {
		if (!tok || !strcmp(tok, "|")) {
			/* End of a frame. */
			if (n >= 256)
				return fail_at(g, line, "batch too long");
			ev[n++] = (struct input_event){ .type = EV_SYN, .code = SYN_REPORT };
			if (stamp < 0 || resync)
				stamp = resync ? g->now_us : g->now_us++;
			else if (g->now_us <= stamp)
				g->now_us = stamp + 1;
			for (size_t k = n;
			     k > 0 && (k == n || ev[k - 1].type != EV_SYN || ev[k - 1].code != SYN_REPORT); k--)
				framer_set_stamp_us(&ev[k - 1], stamp);
			stamp = -1;
			if (!tok)
				break;
			continue;
		}
		if (tok[0] == '@') {
			if (parse_time(tok + 1, &stamp) < 0)
				return fail_at(g, line, "bad stamp '%s' (@12ms, @12.5ms, @12001us)", tok);
			continue;
		}
		unsigned type, code;
		int value;
		char *eq = strchr(tok, '=');
		if (tok[0] == '+' || tok[0] == '-') {
			value = tok[0] == '+';
			tok++;
		} else if (eq) {
			*eq = '\0';
			value = atoi(eq + 1);
		} else {
			return fail_at(g, line, "bad event '%s' (+key, -key or name=value)", tok);
		}
		if (test_code_from_name(tok, &type, &code) < 0)
			return fail_at(g, line, "unknown event code '%s'", tok);
		if (n >= 255)
			return fail_at(g, line, "batch too long");
		ev[n++] = (struct input_event){ .type = (uint16_t)type, .code = (uint16_t)code, .value = value };
	}
	host_read(&g->host[dev], ev, n);
	if (resync)
		router_feed_resync(g->r, dev, ev, n, g->now);
	else
		router_feed(g->r, dev, ev, n, g->now);
	return 0;
}

static int add_device(struct golden *g, char *args, int line)
{
	struct router_device_info info = { 0 };
	char *save = NULL, *name = strtok_r(args, " \t", &save);
	if (!name || g->n_dev >= MAX_DEV)
		return fail_at(g, line, "device needs a name");
	int id = find_dev(g, name);
	if (id < 0) {
		id = g->n_dev++;
		snprintf(g->dev_name[id], sizeof(g->dev_name[id]), "%s", name);
	}
	g->dev_nograb[id] = false;
	g->dev_moved_by[id] = 0;
	memset(&g->host[id], 0, sizeof(g->host[id]));
	for (char *tok; (tok = strtok_r(NULL, " \t", &save));) {
		if (!strcmp(tok, "keyboard")) {
			info.keyboard = true;
		} else if (!strcmp(tok, "nograb")) {
			g->dev_nograb[id] = true;
		} else if (!strcmp(tok, "host-only")) {
			info.host_only = true;
		} else if (!strcmp(tok, "moved-by")) {
			char *t = strtok_r(NULL, " \t", &save);
			int ti = t ? find_target(g, t) : -1;
			if (ti < 0)
				return fail_at(g, line, "moved-by needs a target");
			g->dev_moved_by[id] = ti + 1;
		} else if (!strcmp(tok, "absolute")) {
			char *lo = strtok_r(NULL, " \t", &save), *hi = strtok_r(NULL, " \t", &save);
			if (!lo || !hi)
				return fail_at(g, line, "absolute MIN MAX");
			info.absolute = true;
			info.abs_min[0] = info.abs_min[1] = atoi(lo);
			info.abs_max[0] = info.abs_max[1] = atoi(hi);
		} else if (!strcmp(tok, "leds")) {
			char *v = strtok_r(NULL, " \t", &save);
			info.leds = v ? (uint32_t)strtoul(v, NULL, 0) : 0;
		} else if (!strcmp(tok, "held")) {
			char *list = strtok_r(NULL, " \t", &save), *s2 = NULL;
			for (char *k = list ? strtok_r(list, ",", &s2) : NULL; k; k = strtok_r(NULL, ",", &s2)) {
				unsigned type, code;
				if (test_code_from_name(k, &type, &code) < 0 || type != EV_KEY)
					return fail_at(g, line, "unknown key '%s'", k);
				keyset_set(&info.held, code, true);
				if (!g->host[id].down[code]) {
					g->host[id].down[code] = true;
					g->host[id].held++;
				}
			}
		} else {
			return fail_at(g, line, "unknown device option '%s'", tok);
		}
	}
	note_rc(g, router_device_add(g->r, id, &info, g->now));
	return 0;
}

static int check_state(struct golden *g, char *args, int line)
{
	char what[32], a[64] = "", b[64] = "";
	if (sscanf(args, "%31s %63s %63s", what, a, b) < 2)
		return fail_at(g, line, "bad assertion");
	if (!strcmp(what, "active")) {
		const char *act = tname(g, router_active(g->r));
		if (strcmp(act, a))
			return fail_at(g, line, "active target is %s, expected %s", act, a);
	} else if (!strcmp(what, "held")) {
		int t = find_target(g, a);
		size_t held = router_target_held(g->r, t);
		if (t < 0 || held != strtoul(b, NULL, 0))
			return fail_at(g, line, "%zu keys held on %s, expected %s", held, a, b);
	} else if (!strcmp(what, "leds")) {
		int t = find_target(g, a);
		uint32_t leds = router_target_leds(g->r, t);
		if (t < 0 || leds != strtoul(b, NULL, 0))
			return fail_at(g, line, "leds of %s are 0x%x, expected %s", a, leds, b);
	} else if (!strcmp(what, "grabbed") || !strcmp(what, "pending")) {
		int d = find_dev(g, a);
		bool v = what[0] == 'g' ? router_device_grabbed(g->r, d) : router_device_pending(g->r, d);
		if (d < 0 || v != !strcmp(b, "yes"))
			return fail_at(g, line, "%s %s is %s, expected %s", what, a, v ? "yes" : "no", b);
	} else if (!strcmp(what, "host-held") || !strcmp(what, "host-presses")) {
		int d = find_dev(g, a);
		if (d < 0)
			return fail_at(g, line, "unknown device '%s'", a);
		unsigned v = what[5] == 'h' ? g->host[d].held : g->host[d].presses;
		if (v != strtoul(b, NULL, 0))
			return fail_at(g, line, "%s %s is %u, expected %s", what, a, v, b);
	} else if (!strcmp(what, "locked")) {
		bool v = router_is_locked(g->r);
		if (v != !strcmp(a, "yes"))
			return fail_at(g, line, "locked is %s, expected %s", v ? "yes" : "no", a);
	} else if (!strcmp(what, "deadline")) {
		uint64_t dl = router_next_deadline(g->r);
		bool ok = !strcmp(a, "none") ? dl == UINT64_MAX : dl == strtoull(a, NULL, 0);
		if (!ok)
			return fail_at(g, line, "deadline is %llu, expected %s", (unsigned long long)dl, a);
	} else {
		return fail_at(g, line, "unknown assertion '%s'", what);
	}
	return 0;
}

static int run_action(struct golden *g, char *s, int line, char **lines, int n_lines, int *idx)
{
	char *sp = s + strcspn(s, " \t");
	char *arg = *sp ? sp + 1 : sp;
	char cmd[32];
	snprintf(cmd, sizeof(cmd), "%.*s", (int)(sp - s), s);
	while (*arg == ' ' || *arg == '\t')
		arg++;

	if (!strcmp(cmd, "config") || !strcmp(cmd, "reload")) {
		size_t len = 0, cap = 4096;
		char *text = calloc(1, cap);
		while (++*idx < n_lines && strcmp(trim(lines[*idx]), "end") != 0) {
			size_t l = strlen(lines[*idx]);
			if (len + l + 2 > cap)
				text = realloc(text, cap = (len + l + 2) * 2);
			memcpy(text + len, lines[*idx], l);
			len += l;
			text[len++] = '\n';
			text[len] = '\0';
		}
		struct config *cfg = load_config(g, text, line);
		free(text);
		if (!cfg)
			return -1;
		if (cmd[0] == 'c') {
			if (g->r)
				return fail_at(g, line, "config after the router started");
			g->cfg = cfg;
			return 0;
		}
		if (ensure_router(g, line) < 0)
			return -1;
		int map[CONFIG_MAX_TARGETS];
		config_map_targets(g->cfg, cfg, map);
		router_release_vanishing(g->r, map);
		g->old_cfg = g->cfg;
		g->cfg = cfg;
		router_reconfigure(g->r, cfg, map, g->now);
		config_destroy(g->old_cfg);
		g->old_cfg = NULL;
		return 0;
	}
	if (ensure_router(g, line) < 0)
		return -1;
	size_t sl = strlen(s);
	if (sl > 2 && !strcmp(s + sl - 2, "ms") && strspn(s, "0123456789") == sl - 2) {
		uint64_t ms = strtoull(s, NULL, 10);
		g->now += ms;
		g->now_us += (int64_t)ms * 1000;
		router_tick(g->r, g->now);
		return 0;
	}
	bool resync = !strcmp(cmd, "resync");
	if (s[sl - 1] == ':' || strchr(cmd, ':') || (resync && strchr(arg, ':'))) {
		char *name = resync ? arg : s, *colon = strchr(name, ':');
		*colon = '\0';
		int d = find_dev(g, trim(name));
		if (d < 0)
			return fail_at(g, line, "unknown device '%s'", name);
		return feed_frames(g, d, colon + 1, resync, line);
	}
	if (!strcmp(cmd, "device"))
		return add_device(g, arg, line);
	if (!strcmp(cmd, "clock")) {
		int64_t t;
		if (parse_time(arg, &t) < 0 || t < g->now_us)
			return fail_at(g, line, "bad time '%s' (the clock only moves on)", arg);
		g->now_us = t;
		return 0;
	}
	if (!strcmp(cmd, "grab-at") || !strcmp(cmd, "grab-undo")) {
		int64_t t;
		if (parse_time(arg, &t) < 0)
			return fail_at(g, line, "bad time '%s' (12ms, 12.5ms, 12001us)", arg);
		if (cmd[5] == 'a') {
			g->grab_at = t;
			g->grab_at_set = true;
		} else {
			g->grab_undo = t;
			g->grab_undo_set = true;
		}
		return 0;
	}
	if (!strcmp(cmd, "remove") || !strcmp(cmd, "drop")) {
		int d = find_dev(g, arg);
		if (d < 0)
			return fail_at(g, line, "unknown device '%s'", arg);
		if (cmd[0] == 'r')
			router_device_remove(g->r, d, g->now);
		else
			router_note_resync(g->r, d);
		return 0;
	}
	if (!strcmp(cmd, "start")) {
		router_start(g->r, g->now);
	} else if (!strcmp(cmd, "switch")) {
		int t = find_target(g, arg);
		note_rc(g, router_switch(g->r, t < 0 ? 99 : t, SWITCH_COMMAND, g->now));
	} else if (!strcmp(cmd, "cycle")) {
		note_rc(g, router_cycle(g->r, 1, SWITCH_COMMAND, g->now));
	} else if (!strcmp(cmd, "prev")) {
		note_rc(g, router_cycle(g->r, -1, SWITCH_COMMAND, g->now));
	} else if (!strcmp(cmd, "toggle")) {
		note_rc(g, router_toggle(g->r, SWITCH_COMMAND, g->now));
	} else if (!strcmp(cmd, "release")) {
		router_release(g->r, SWITCH_EMERGENCY, g->now);
	} else if (!strcmp(cmd, "shutdown")) {
		router_shutdown(g->r);
	} else if (!strcmp(cmd, "lock") || !strcmp(cmd, "unlock")) {
		note_rc(g, router_lock(g->r, cmd[0] == 'l'));
	} else if (!strcmp(cmd, "monitor")) {
		if (strcmp(arg, "on") && strcmp(arg, "off"))
			return fail_at(g, line, "monitor on|off");
		router_set_trace(g->r, !strcmp(arg, "on") ? cb_trace : NULL, g);
	} else if (!strcmp(cmd, "refuse")) {
		int t = find_target(g, arg);
		if (t < 0)
			return fail_at(g, line, "unknown target '%s'", arg);
		g->refuse[t] = true;
	} else if (!strcmp(cmd, "led")) {
		char t[32], name[32];
		int v;
		unsigned type, code;
		if (sscanf(arg, "%31s %31s %d", t, name, &v) != 3)
			return fail_at(g, line, "led TARGET NAME VALUE");
		char full[40];
		snprintf(full, sizeof(full), "led_%s", name);
		if (test_code_from_name(full, &type, &code) < 0)
			return fail_at(g, line, "unknown LED '%s'", name);
		router_target_led(g->r, find_target(g, t), code, v);
	} else if (!strcmp(cmd, "?")) {
		return check_state(g, arg, line);
	} else {
		return fail_at(g, line, "unknown command '%s'", cmd);
	}
	return 0;
}

static void clear_out(struct golden *g)
{
	for (int i = 0; i < g->n_out; i++)
		free(g->out[i]);
	g->n_out = 0;
}

/* Compares the outputs of the action at `line` with the "> " lines. */
static int compare(struct golden *g, int line, const char *action, char **expect, int n_expect)
{
	bool same = n_expect == g->n_out;
	for (int i = 0; same && i < n_expect; i++)
		same = strcmp(expect[i], g->out[i]) == 0;
	if (same)
		return 0;
	size_t off = (size_t)snprintf(g->err, sizeof(g->err), "%s:%d: after '%s'\n    expected:\n", g->file, line,
				      action);
	for (int i = 0; i < n_expect && off < sizeof(g->err); i++)
		off += (size_t)snprintf(g->err + off, sizeof(g->err) - off, "      > %s\n", expect[i]);
	if (off < sizeof(g->err))
		off += (size_t)snprintf(g->err + off, sizeof(g->err) - off, "    got:\n");
	for (int i = 0; i < g->n_out && off < sizeof(g->err); i++)
		off += (size_t)snprintf(g->err + off, sizeof(g->err) - off, "      > %s\n", g->out[i]);
	return -1;
}


static int run_script(struct golden *g, char *text)
{
	static char *lines[8192];
	int n = 0, rc = 0;
	/* One entry per line, empty ones included, so line i is lines[i - 1]. */
	for (char *p = text; p && n < 8192;) {
		lines[n++] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	for (int i = 0; i < n && rc == 0; i++) {
		char *s = trim(lines[i]);
		if (*s == '\0' || *s == '#')
			continue;
		if (*s == '>')
			return fail_at(g, i + 1, "expected output without an action before it");
		char action[256];
		snprintf(action, sizeof(action), "%s", s);
		int start = i;
		clear_out(g);
		rc = run_action(g, s, start + 1, lines, n, &i);
		if (rc < 0)
			break;
		char *expect[MAX_OUT];
		int n_expect = 0;
		while (i + 1 < n) {
			char *e = trim(lines[i + 1]);
			if (*e == '#' || *e == '\0') {
				i++;
				continue;
			}
			if (*e != '>')
				break;
			e = trim(e + 1);
			if (n_expect < MAX_OUT)
				expect[n_expect++] = e;
			i++;
		}
		rc = compare(g, start + 1, action, expect, n_expect);
	}
	clear_out(g);
	return rc;
}

static void golden_finish(struct golden *g)
{
	router_destroy(g->r);
	config_destroy(g->cfg);
	clear_out(g);
}

int golden_run_all(const char *dir, const char *filter, int *failed);
int golden_run_all(const char *dir, const char *filter, int *failed)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		printf("not ok golden - cannot read %s: %s\n", dir, strerror(errno));
		(*failed)++;
		return -1;
	}
	int ran = 0;
	for (int i = 0; i < n; i++) {
		const char *f = ents[i]->d_name;
		size_t l = strlen(f);
		char name[512], path[1024];
		if (l < 3 || strcmp(f + l - 2, ".t") != 0) {
			free(ents[i]);
			continue;
		}
		snprintf(name, sizeof(name), "golden/%.*s", (int)(l - 2), f);
		snprintf(path, sizeof(path), "%s/%s", dir, f);
		free(ents[i]);
		if (filter && fnmatch(filter, name, 0) != 0)
			continue;
		FILE *fp = fopen(path, "r");
		char *text = NULL;
		size_t cap = 0;
		ssize_t len = fp ? getdelim(&text, &cap, '\0', fp) : -1;
		if (fp)
			fclose(fp);
		struct golden g = { .file = path };
		int rc = len < 0 ? fail_at(&g, 0, "cannot read") : run_script(&g, text);
		ran++;
		if (rc < 0) {
			printf("not ok %s - %s\n", name, g.err);
			(*failed)++;
		} else {
			printf("ok %s\n", name);
		}
		fflush(stdout);
		free(text);
		golden_finish(&g);
	}
	free(ents);
	if (ran == 0 && !filter) {
		printf("not ok golden - no scripts in %s\n", dir);
		(*failed)++;
	}
	return 0;
}
