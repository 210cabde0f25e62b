/* The physical input devices (inputs.h). */
#include "inputs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evdev_in.h"
#include "log.h"
#include "virt.h"

/* A just-appeared node we could not open yet (udev may not have applied
 * its permissions): retried with backoff. */
#define RETRY_SLOTS 32
#define RETRY_FIRST_MS 50
#define RETRY_LIMIT 8 /* 50 ms doubling: about 12 s in all */

struct retry {
	bool used;
	int attempts;
	uint64_t when;
	struct discovered dev;
};

struct pdev {
	struct evdev_in *in;
	struct discovered disc; /* for the match rules again on reload */
	bool host_only;         /* [input] host-only */
};

struct inputs {
	struct router *router;
	struct inputs_env env;
	const struct config *cfg;
	struct pdev *dev[ROUTER_MAX_DEVICES];
	struct retry retry[RETRY_SLOTS];
	int n_retry; /* slots used: inputs_deadline skips the scan when 0 */
	struct inputs_counters n;
	uint64_t now;
	int cur; /* the device whose frames are being routed, or -1 */
	struct evdev_in_sink sink; /* set once: the event path builds nothing per read */
};

static void frames_in(void *data, const struct input_event *ev, size_t n);
static void dropped_in(void *data);
static void resync_in(void *data, const struct input_event *ev, size_t n);

struct inputs *inputs_create(struct router *r, const struct inputs_env *env)
{
	struct inputs *in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	in->router = r;
	in->env = *env;
	in->cur = -1;
	in->sink = (struct evdev_in_sink){ in, frames_in, dropped_in, resync_in };
	return in;
}

void inputs_destroy(struct inputs *in)
{
	if (!in)
		return;
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		if (!in->dev[i])
			continue;
		evdev_in_close(in->dev[i]->in);
		free(in->dev[i]);
	}
	free(in);
}

static int find_node(const struct inputs *in, const char *node)
{
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++)
		if (in->dev[i] && strcmp(in->dev[i]->disc.node, node) == 0)
			return i;
	return -1;
}

static void remove_slot(struct inputs *in, int i, const char *why)
{
	struct pdev *p = in->dev[i];
	router_device_remove(in->router, i, in->now);
	in->env.watch(in->env.data, evdev_in_fd(p->in), i, false);
	evdev_in_close(p->in);
	log_info("input %s (%s) %s", p->disc.node, p->disc.name, why);
	free(p);
	in->dev[i] = NULL;
	in->n.devices_removed++;
}

static void retry_schedule(struct inputs *in, const struct discovered *dev, int attempts)
{
	struct retry *free_slot = NULL;
	for (int i = 0; i < RETRY_SLOTS; i++) {
		if (in->retry[i].used && strcmp(in->retry[i].dev.node, dev->node) == 0) {
			free_slot = &in->retry[i];
			break;
		}
		if (!in->retry[i].used && !free_slot)
			free_slot = &in->retry[i];
	}
	if (!free_slot)
		return;
	discover_copy(&free_slot->dev, dev);
	if (!free_slot->used)
		in->n_retry++;
	free_slot->used = true;
	free_slot->attempts = attempts;
	free_slot->when = in->now + ((uint64_t)RETRY_FIRST_MS << (attempts - 1));
}

static void retry_cancel(struct inputs *in, const char *node)
{
	for (int i = 0; i < RETRY_SLOTS; i++)
		if (in->retry[i].used && strcmp(in->retry[i].dev.node, node) == 0) {
			in->retry[i].used = false;
			in->n_retry--;
		}
}

/* Takes a device the match rules select. `attempts` counts EACCES retries. */
/* The match rules' verdict on a device, host-only lines included. */
static void decide(const struct config *cfg, const struct device_desc *desc, struct match_verdict *v)
{
	match_decide(cfg->match, cfg->n_match, cfg->exclude, cfg->n_exclude, desc, v);
	match_host_only(cfg->host_only, cfg->n_host_only, desc, v);
}

static void add(struct inputs *in, const struct discovered *dev, int attempts)
{
	const struct config *cfg = in->cfg;
	struct match_verdict v;
	if (find_node(in, dev->node) >= 0)
		return;
	decide(cfg, &dev->desc, &v);
	if (!v.take) {
		log_debug("input %s (%s) not taken: %s", dev->node, dev->name, v.reason);
		return;
	}
	int slot = -1;
	for (int i = 0; i < ROUTER_MAX_DEVICES && slot < 0; i++)
		if (!in->dev[i])
			slot = i;
	if (slot < 0) {
		log_warn("input %s (%s) not taken: more than %d devices", dev->node, dev->name, ROUTER_MAX_DEVICES);
		return;
	}
	struct evdev_in *ev = evdev_in_open(dev->node);
	if (!ev) {
		int e = errno;
		if ((e == EACCES || e == EPERM || e == ENOENT) && attempts < RETRY_LIMIT) {
			retry_schedule(in, dev, attempts + 1);
			return;
		}
		in->n.open_failures++;
		retry_cancel(in, dev->node);
		log_warn("cannot open %s (%s): %s%s", dev->node, dev->name, strerror(e),
			 e == EACCES ? " (kvmswitch needs read access to input devices: see kvmswitch(1), PERMISSIONS)" : "");
		return;
	}
	retry_cancel(in, dev->node);
	struct pdev *p = calloc(1, sizeof(*p));
	if (!p) {
		evdev_in_close(ev);
		return;
	}
	p->in = ev;
	discover_copy(&p->disc, dev);
	p->host_only = v.host_only;
	struct router_device_info info;
	evdev_in_describe(ev, &info);
	info.host_only = v.host_only;
	if (info.absolute)
		in->env.absolute(in->env.data);
	in->dev[slot] = p;
	if (in->env.watch(in->env.data, evdev_in_fd(ev), slot, true) < 0 ||
	    router_device_add(in->router, slot, &info, in->now) < 0) {
		log_warn("cannot watch %s: %s", dev->node, strerror(errno));
		in->env.watch(in->env.data, evdev_in_fd(ev), slot, false);
		evdev_in_close(ev);
		free(p);
		in->dev[slot] = NULL;
		return;
	}
	in->n.devices_added++;
	log_info("input %s (%s) taken: %s", p->disc.node, p->disc.name, v.reason);
}

static void on_enumerated(void *data, const struct discovered *dev)
{
	add(data, dev, 0);
}

void inputs_enumerate(struct inputs *in, struct discover *ds, const struct config *cfg, uint64_t now)
{
	in->cfg = cfg;
	in->now = now;
	discover_enumerate(ds, on_enumerated, in);
}

void inputs_reconfigure(struct inputs *in, struct discover *ds, const struct config *cfg, uint64_t now)
{
	in->cfg = cfg;
	in->now = now;
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		struct match_verdict v;
		if (!in->dev[i])
			continue;
		decide(cfg, &in->dev[i]->disc.desc, &v);
		if (!v.take)
			remove_slot(in, i, v.reason);
		else if (v.host_only != in->dev[i]->host_only) /* taken again below, as it now is */
			remove_slot(in, i, v.host_only ? "becomes host-only" : "is no longer host-only");
	}
	discover_enumerate(ds, on_enumerated, in);
}

static void on_hotplug(void *data, enum discover_action action, const struct discovered *dev)
{
	struct inputs *in = data;
	if (action == DISCOVER_ADD) {
		add(in, dev, 0);
		return;
	}
	retry_cancel(in, dev->node);
	int i = find_node(in, dev->node);
	if (i >= 0)
		remove_slot(in, i, "removed");
}

void inputs_hotplug(struct inputs *in, struct discover *ds, uint64_t now)
{
	in->now = now;
	discover_dispatch(ds, on_hotplug, in);
}

/* ---- reading: evdev_in's sink ---- */

static void frames_in(void *data, const struct input_event *ev, size_t n)
{
	struct inputs *in = data;
	router_feed(in->router, in->cur, ev, n, in->now);
}

static void dropped_in(void *data)
{
	struct inputs *in = data;
	in->n.syn_dropped++;
	router_note_resync(in->router, in->cur);
}

static void resync_in(void *data, const struct input_event *ev, size_t n)
{
	struct inputs *in = data;
	router_feed_resync(in->router, in->cur, ev, n, in->now);
}

void inputs_readable(struct inputs *in, int slot, uint64_t now)
{
	if (slot < 0 || slot >= ROUTER_MAX_DEVICES || !in->dev[slot])
		return;
	in->now = now;
	in->cur = slot;
	int rc = evdev_in_read(in->dev[slot]->in, &in->sink);
	in->cur = -1;
	if (rc < 0)
		remove_slot(in, slot, rc == -ENODEV ? "unplugged" : "failed");
}

uint64_t inputs_deadline(const struct inputs *in)
{
	uint64_t when = UINT64_MAX;
	for (int i = 0; in->n_retry > 0 && i < RETRY_SLOTS; i++)
		if (in->retry[i].used && in->retry[i].when < when)
			when = in->retry[i].when;
	return when;
}

void inputs_tick(struct inputs *in, uint64_t now)
{
	in->now = now;
	for (int i = 0; in->n_retry > 0 && i < RETRY_SLOTS; i++) {
		struct retry *r = &in->retry[i];
		if (!r->used || r->when > now)
			continue;
		r->used = false;
		in->n_retry--;
		struct discovered dev;
		discover_copy(&dev, &r->dev);
		add(in, &dev, r->attempts);
	}
}

/* ---- the router's orders ---- */

int inputs_grab(struct inputs *in, int slot, bool on, struct router_grab *res)
{
	struct pdev *p = in->dev[slot];
	int rc = evdev_in_grab(p->in, on, res);
	if (rc < 0)
		log_warn("%s %s (%s): %s%s", on ? "cannot grab" : "cannot release", p->disc.node, p->disc.name,
			 strerror(-rc), rc == -EBUSY ? " (another program holds it)" : "");
	else if (res->undone)
		log_debug("grabbed %s (%s) and let go at once: a key is down on it", p->disc.node, p->disc.name);
	else
		log_debug("%s %s (%s)", on ? "grabbed" : "released", p->disc.node, p->disc.name);
	return rc;
}

void inputs_host_release(struct inputs *in, int slot, unsigned code)
{
	struct pdev *p = in->dev[slot];
	int rc = evdev_in_inject_release(p->in, code);
	in->n.host_releases++;
	/* Which key is not said: this program sees passwords. */
	if (rc < 0)
		log_warn("%s (%s): the host read a key's press but not its release (it came right after a grab), "
			 "and it cannot be given back: %s%s",
			 p->disc.node, p->disc.name, strerror(-rc),
			 rc == -EACCES ? " (the node is read-only for kvmswitch; press the key again)" : "");
	else
		log_debug("%s (%s): gave the host a release it missed at a grab", p->disc.node, p->disc.name);
}

bool inputs_queued(const struct inputs *in, int slot)
{
	return in->dev[slot] && evdev_in_queued(in->dev[slot]->in);
}

void inputs_set_leds(struct inputs *in, int slot, uint32_t leds)
{
	for (int k = 0; k < ROUTER_MAX_DEVICES; k++) {
		if (!in->dev[k] || (slot >= 0 && k != slot))
			continue;
		int rc = evdev_in_set_leds(in->dev[k]->in, leds);
		if (rc < 0 && rc != -EACCES)
			log_debug("cannot set the LEDs of %s: %s", in->dev[k]->disc.node, strerror(-rc));
		else
			log_debug("LEDs of %s: 0x%x", in->dev[k]->disc.node, leds);
	}
}

/* ---- what others ask ---- */

const char *inputs_node(const struct inputs *in, int slot)
{
	return slot >= 0 && slot < ROUTER_MAX_DEVICES && in->dev[slot] ? in->dev[slot]->disc.node : NULL;
}

const char *inputs_name(const struct inputs *in, int slot)
{
	return slot >= 0 && slot < ROUTER_MAX_DEVICES && in->dev[slot] ? in->dev[slot]->disc.name : NULL;
}

bool inputs_host_only(const struct inputs *in, int slot)
{
	return slot >= 0 && slot < ROUTER_MAX_DEVICES && in->dev[slot] && in->dev[slot]->host_only;
}

bool inputs_holding(const struct inputs *in, const struct config *cfg, int target)
{
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++)
		if (in->dev[i] && router_device_grabbed(in->router, i) &&
		    virt_moves(cfg, target, &in->dev[i]->disc.desc, in->dev[i]->disc.syspath))
			return true;
	return false;
}

bool inputs_moves(const struct inputs *in, const struct config *cfg, int slot, int target)
{
	return slot >= 0 && slot < ROUTER_MAX_DEVICES && in->dev[slot] &&
	       virt_moves(cfg, target, &in->dev[slot]->disc.desc, in->dev[slot]->disc.syspath);
}

const struct inputs_counters *inputs_counters(const struct inputs *in)
{
	return &in->n;
}
