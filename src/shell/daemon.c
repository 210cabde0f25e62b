/* The daemon: one thread, one epoll loop. Fixed slots for signals, the timer,
 * udev and the control socket; dynamic slots for physical and virtual
 * devices. The hot path (evdev_in_read -> router_feed -> vdev_write) does no
 * allocation, no logging and one write() per frame. */
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "conffile.h"
#include "core/json.h"
#include "core/router.h"
#include "ctl.h"
#include "discover.h"
#include "evdev_in.h"
#include "fdstore.h"
#include "hooks.h"
#include "latstats.h"
#include "listener.h"
#include "log.h"
#include "realtime.h"
#include "vdev.h"
#include "virt.h"

enum tag {
	TAG_SIGNAL = 1,
	TAG_TIMER,
	TAG_UDEV,
	TAG_CTL,
	TAG_HOOKS,    /* output of a running on-enter/on-leave hook */
	TAG_LISTENER, /* the network listener */
	TAG_VIRT,     /* results of the libvirt worker (virt.c) */
	TAG_PDEV, /* index: device slot */
	TAG_VDEV, /* index: target * VK_COUNT + kind */
};

#define TAGGED(tag, idx) (((uint64_t)(tag) << 32) | (uint32_t)(idx))

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
	const char *node, *name;
};

struct counters {
	uint64_t write_errors;
	uint64_t syn_dropped;
	uint64_t devices_added, devices_removed;
	uint64_t open_failures;
	uint64_t reloads;
};

struct daemon {
	const struct daemon_options *opt;
	char config_path[PATH_MAX];
	struct config *cfg;
	struct router *router;
	int epfd, sigfd, tfd;
	uint64_t armed;
	struct discover *ds;
	struct ctl *ctl;
	char sock_path[PATH_MAX];
	struct hooks *hooks;
	struct listener *listener;
	struct virt *virt; /* libvirt: usb targets, domain lifecycle */
	struct pdev *dev[ROUTER_MAX_DEVICES];
	struct vdev *vd[CONFIG_MAX_TARGETS][VK_COUNT];
	struct fdstore *store; /* systemd's fd store: VM targets' devices survive a restart */
	bool want_tablet;
	struct retry retry[RETRY_SLOTS];
	int n_retry; /* slots used: arm_timer skips the scan when 0 */
	uint32_t echo; /* targets whose keyboard was sent an MSC_SCAN in this wake-up */
	struct counters n;
	struct latstats *lat; /* the hop of every forwarded frame */
	uint64_t now;
	uint64_t next_ctl_tick;
	bool quit;
	int cur_dev;    /* the device whose frames are being routed, or -1 */
	int led_target; /* the target whose keyboard is being read */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int epoll_set(struct daemon *d, int op, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	return epoll_ctl(d->epfd, op, fd, &ev);
}

static bool target_has_vdevs(const struct config *cfg, int t)
{
	const struct target_conf *tc = &cfg->target[t];
	return tc->type == TARGET_EVDEV || (tc->type == TARGET_HOST && tc->mode == HOST_VIRTUAL);
}

/* ---- virtual devices ---- */

static int vdev_open(struct daemon *d, int t, enum vkind kind)
{
	if (d->vd[t][kind])
		return 0;
	const char *name = d->cfg->target[t].name;
	bool guest = d->cfg->target[t].type == TARGET_EVDEV;
	/* A VM target's device kept by systemd across our restart: adopt it. */
	int fd = guest ? fdstore_take(d->store, name, kind) : -1;
	struct vdev *v = fd >= 0 ? vdev_adopt(fd, name, kind) : NULL;
	if (fd >= 0 && !v) {
		log_warn("target '%s': cannot adopt the stored %s (%s); creating a new one", name, vkind_name(kind),
			 strerror(errno));
		fdstore_remove(d->store, name, kind);
		close(fd);
	}
	if (!v && (v = vdev_create(name, kind, guest)) && guest && fdstore_active(d->store)) {
		int rc = fdstore_put(d->store, vdev_fd(v), name, kind);
		if (rc < 0)
			log_warn("target '%s': cannot put the %s into the service manager's fd store: %s", name,
				 vkind_name(kind), strerror(-rc));
	}
	if (!v) {
		int e = errno;
		log_error("cannot create the virtual %s of target '%s': %s%s", vkind_name(kind),
			  d->cfg->target[t].name, strerror(e),
			  e == ENOENT || e == EACCES ? " (is the uinput module loaded and /dev/uinput writable?)" : "");
		return -e;
	}
	d->vd[t][kind] = v;
	/* Only keyboards are watched, for the LEDs their consumers set. Every
	 * MSC_SCAN we write to a uinput device also comes back on its fd;
	 * reading those echoes would cost a wake-up and a read() per mouse
	 * frame (the pointer's unread echoes just overwrite each other). */
	if (kind == VK_KEYBOARD)
		epoll_set(d, EPOLL_CTL_ADD, vdev_fd(v), TAGGED(TAG_VDEV, t * VK_COUNT + kind));
	log_info("target '%s': %s is %s%s", d->cfg->target[t].name, vdev_name(v), vdev_devnode(v),
		 fd >= 0 ? " (kept across the restart)" : "");
	return 0;
}

/* Every target that forwards gets a keyboard and a pointer, and a tablet
 * once an absolute device has been taken. */
static int vdevs_ensure(struct daemon *d)
{
	for (size_t t = 0; t < d->cfg->n_target; t++) {
		if (!target_has_vdevs(d->cfg, (int)t))
			continue;
		for (int k = 0; k < VK_COUNT; k++) {
			if (k == VK_TABLET && !d->want_tablet)
				continue;
			int rc = vdev_open(d, (int)t, (enum vkind)k);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static void on_led(void *data, unsigned code, int value)
{
	struct daemon *d = data;
	log_debug("target '%s': LED %u set to %d by a consumer", d->cfg->target[d->led_target].name, code, value);
	router_target_led(d->router, d->led_target, code, value);
}

/* ---- router output ---- */

static void out_emit(void *data, int target, enum vkind kind, const struct input_event *ev, size_t n)
{
	struct daemon *d = data;
	struct vdev *v = d->vd[target][kind];
	if (!v || vdev_write(v, ev, n) < 0)
		d->n.write_errors++;
	else
		latstats_record(d->lat, target, kind, ev, n);
	/* The kernel hands each MSC_SCAN back to the keyboard's uinput fd (we
	 * watch it for LEDs): read_echoes() reads it before the next
	 * epoll_wait, which would otherwise return at once just for it. */
	if (kind == VK_KEYBOARD)
		for (size_t i = 0; i < n; i++)
			if (ev[i].type == EV_MSC) {
				d->echo |= 1u << target;
				break;
			}
}

static void read_echoes(struct daemon *d)
{
	for (int t = 0; d->echo && t < CONFIG_MAX_TARGETS; t++) {
		if (!(d->echo & (1u << t)))
			continue;
		d->echo &= ~(1u << t);
		if ((size_t)t < d->cfg->n_target && d->vd[t][VK_KEYBOARD]) {
			d->led_target = t;
			vdev_read(d->vd[t][VK_KEYBOARD], on_led, d);
		}
	}
}

static int out_grab(void *data, int i, bool on)
{
	struct daemon *d = data;
	struct pdev *p = d->dev[i];
	int rc = evdev_in_grab(p->in, on);
	if (rc < 0)
		log_warn("%s %s (%s): %s%s", on ? "cannot grab" : "cannot release", p->node, p->name, strerror(-rc),
			 rc == -EBUSY ? " (another program holds it)" : "");
	else
		log_debug("%s %s (%s)", on ? "grabbed" : "released", p->node, p->name);
	return rc;
}

static void out_leds(void *data, int i, uint32_t leds)
{
	struct daemon *d = data;
	for (int k = 0; k < ROUTER_MAX_DEVICES; k++) {
		if (!d->dev[k] || (i >= 0 && k != i))
			continue;
		int rc = evdev_in_set_leds(d->dev[k]->in, leds);
		if (rc < 0 && rc != -EACCES)
			log_debug("cannot set the LEDs of %s: %s", d->dev[k]->node, strerror(-rc));
		else
			log_debug("LEDs of %s: 0x%x", d->dev[k]->node, leds);
	}
}

/* A target that should have virtual devices but has none (creation failed,
 * e.g. after a reload), or NULL. */
/* Target t should have a keyboard and a pointer but lacks one (uinput
 * failed at start or on reload). */
static bool target_lacks_vdevs(const struct daemon *d, int t)
{
	return target_has_vdevs(d->cfg, t) && (!d->vd[t][VK_KEYBOARD] || !d->vd[t][VK_POINTER]);
}

static const char *target_without_vdevs(struct daemon *d)
{
	for (size_t t = 0; t < d->cfg->n_target; t++)
		if (target_lacks_vdevs(d, (int)t))
			return d->cfg->target[t].name;
	return NULL;
}

static int out_prepare(void *data, int from, int to)
{
	struct daemon *d = data;
	if (target_lacks_vdevs(d, to))
		return -ENODEV;
	return d->virt ? virt_prepare(d->virt, from, to) : 0;
}

static void out_switched(void *data, int from, int to, enum switch_reason why)
{
	struct daemon *d = data;
	const char *fn = from >= 0 && (size_t)from < d->cfg->n_target ? d->cfg->target[from].name : "-";
	const char *tn = d->cfg->target[to].name;
	char line[160];
	log_info("active target: %s (was %s; %s)", tn, fn, switch_reason_name(why));
	if (d->ctl) {
		snprintf(line, sizeof(line), "event switch %s %s %s", fn, tn, switch_reason_name(why));
		ctl_broadcast(d->ctl, line);
	}
	if (d->hooks)
		hooks_switched(d->hooks, d->cfg, from, to, switch_reason_name(why), d->now);
	if (d->virt)
		virt_switched(d->virt, from, to);
}

/* ---- physical devices ---- */

static void frames_in(void *data, const struct input_event *ev, size_t n)
{
	struct daemon *d = data;
	router_feed(d->router, d->cur_dev, ev, n, d->now);
}

static void dropped_in(void *data)
{
	struct daemon *d = data;
	d->n.syn_dropped++;
	router_note_resync(d->router, d->cur_dev);
}

static int find_node(struct daemon *d, const char *node)
{
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++)
		if (d->dev[i] && strcmp(d->dev[i]->node, node) == 0)
			return i;
	return -1;
}

static void pdev_remove(struct daemon *d, int i, const char *why)
{
	struct pdev *p = d->dev[i];
	router_device_remove(d->router, i, d->now);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, evdev_in_fd(p->in), NULL);
	evdev_in_close(p->in);
	log_info("input %s (%s) %s", p->node, p->name, why);
	free(p);
	d->dev[i] = NULL;
	d->n.devices_removed++;
}

static void retry_schedule(struct daemon *d, const struct discovered *dev, int attempts)
{
	struct retry *free_slot = NULL;
	for (int i = 0; i < RETRY_SLOTS; i++) {
		if (d->retry[i].used && strcmp(d->retry[i].dev.node, dev->node) == 0) {
			free_slot = &d->retry[i];
			break;
		}
		if (!d->retry[i].used && !free_slot)
			free_slot = &d->retry[i];
	}
	if (!free_slot)
		return;
	discover_copy(&free_slot->dev, dev);
	if (!free_slot->used)
		d->n_retry++;
	free_slot->used = true;
	free_slot->attempts = attempts;
	free_slot->when = d->now + ((uint64_t)RETRY_FIRST_MS << (attempts - 1));
}

static void retry_cancel(struct daemon *d, const char *node)
{
	for (int i = 0; i < RETRY_SLOTS; i++)
		if (d->retry[i].used && strcmp(d->retry[i].dev.node, node) == 0) {
			d->retry[i].used = false;
			d->n_retry--;
		}
}

/* Takes a device the match rules select. `attempts` counts EACCES retries. */
static void pdev_add(struct daemon *d, const struct discovered *dev, int attempts)
{
	struct match_verdict v;
	if (find_node(d, dev->node) >= 0)
		return;
	match_decide(d->cfg->match, d->cfg->n_match, d->cfg->exclude, d->cfg->n_exclude, &dev->desc, &v);
	if (!v.take) {
		log_debug("input %s (%s) not taken: %s", dev->node, dev->name, v.reason);
		return;
	}
	int slot = -1;
	for (int i = 0; i < ROUTER_MAX_DEVICES && slot < 0; i++)
		if (!d->dev[i])
			slot = i;
	if (slot < 0) {
		log_warn("input %s (%s) not taken: more than %d devices", dev->node, dev->name, ROUTER_MAX_DEVICES);
		return;
	}
	struct evdev_in *in = evdev_in_open(dev->node);
	if (!in) {
		int e = errno;
		if ((e == EACCES || e == EPERM || e == ENOENT) && attempts < RETRY_LIMIT) {
			retry_schedule(d, dev, attempts + 1);
			return;
		}
		d->n.open_failures++;
		retry_cancel(d, dev->node);
		log_warn("cannot open %s (%s): %s%s", dev->node, dev->name, strerror(e),
			 e == EACCES ? " (kvmswitch needs read access to input devices: see kvmswitch(1), PERMISSIONS)" : "");
		return;
	}
	retry_cancel(d, dev->node);
	struct pdev *p = calloc(1, sizeof(*p));
	if (!p) {
		evdev_in_close(in);
		return;
	}
	p->in = in;
	discover_copy(&p->disc, dev);
	p->node = p->disc.node;
	p->name = p->disc.name;
	struct router_device_info info;
	evdev_in_describe(in, &info);
	if (info.absolute && !d->want_tablet) {
		d->want_tablet = true;
		vdevs_ensure(d);
	}
	d->dev[slot] = p;
	if (epoll_set(d, EPOLL_CTL_ADD, evdev_in_fd(in), TAGGED(TAG_PDEV, slot)) < 0 ||
	    router_device_add(d->router, slot, &info, d->now) < 0) {
		log_warn("cannot watch %s: %s", dev->node, strerror(errno));
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, evdev_in_fd(in), NULL);
		evdev_in_close(in);
		free(p);
		d->dev[slot] = NULL;
		return;
	}
	d->n.devices_added++;
	log_info("input %s (%s) taken: %s", p->node, p->name, v.reason);
}

static void on_enumerated(void *data, const struct discovered *dev)
{
	pdev_add(data, dev, 0);
}

static void on_hotplug(void *data, enum discover_action action, const struct discovered *dev)
{
	struct daemon *d = data;
	if (action == DISCOVER_ADD) {
		pdev_add(d, dev, 0);
		return;
	}
	retry_cancel(d, dev->node);
	int i = find_node(d, dev->node);
	if (i >= 0)
		pdev_remove(d, i, "removed");
}

static void pdev_readable(struct daemon *d, int i)
{
	const struct evdev_in_sink sink = { d, frames_in, dropped_in };
	d->cur_dev = i;
	int rc = evdev_in_read(d->dev[i]->in, &sink);
	d->cur_dev = -1;
	if (rc < 0)
		pdev_remove(d, i, rc == -ENODEV ? "unplugged" : "failed");
}

static void retries_run(struct daemon *d)
{
	for (int i = 0; i < RETRY_SLOTS; i++) {
		struct retry *r = &d->retry[i];
		if (!r->used || r->when > d->now)
			continue;
		r->used = false;
		d->n_retry--;
		struct discovered dev;
		discover_copy(&dev, &r->dev);
		pdev_add(d, &dev, r->attempts);
	}
}

/* ---- status ---- */

/* "inputs": the devices taken, for status and list. */
static void inputs_json(struct daemon *d, struct json *j)
{
	json_key(j, "inputs");
	json_array_begin(j);
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		if (!d->dev[i])
			continue;
		json_object_begin(j);
		json_key(j, "node");
		json_string(j, d->dev[i]->node);
		json_key(j, "name");
		json_string(j, d->dev[i]->name);
		json_key(j, "grabbed");
		json_bool(j, router_device_grabbed(d->router, i));
		json_key(j, "pending");
		json_bool(j, router_device_pending(d->router, i));
		json_object_end(j);
	}
	json_array_end(j);
}

static void status_json(struct daemon *d, struct json *j)
{
	const struct router_stats *st = router_get_stats(d->router);
	int active = router_active(d->router);
	json_object_begin(j);
	json_key(j, "version");
	json_string(j, KVMSWITCH_VERSION);
	json_key(j, "pid");
	json_int(j, getpid());
	json_key(j, "config");
	json_string(j, d->config_path[0] ? d->config_path : NULL);
	json_key(j, "active");
	json_string(j, d->cfg->target[active].name);
	json_key(j, "released");
	json_bool(j, router_is_released(d->router));
	json_key(j, "targets");
	json_array_begin(j);
	for (size_t t = 0; t < d->cfg->n_target; t++) {
		const struct target_conf *tc = &d->cfg->target[t];
		json_object_begin(j);
		json_key(j, "name");
		json_string(j, tc->name);
		json_key(j, "type");
		json_string(j, target_type_name(tc->type));
		if (tc->type == TARGET_HOST) {
			json_key(j, "mode");
			json_string(j, tc->mode == HOST_NATIVE ? "native" : "virtual");
		}
		json_key(j, "active");
		json_bool(j, (int)t == active);
		json_key(j, "held");
		json_uint(j, router_target_held(d->router, (int)t));
		json_key(j, "leds");
		json_uint(j, router_target_leds(d->router, (int)t));
		json_key(j, "devices");
		json_object_begin(j);
		for (int k = 0; k < VK_COUNT; k++) {
			if (!d->vd[t][k])
				continue;
			json_key(j, vkind_name((enum vkind)k));
			json_string(j, vdev_devnode(d->vd[t][k]));
		}
		json_object_end(j);
		if (d->virt)
			virt_status_json(d->virt, (int)t, j);
		json_object_end(j);
	}
	json_array_end(j);
	inputs_json(d, j);
	json_key(j, "counters");
	json_object_begin(j);
	json_key(j, "frames_in");
	json_uint(j, st->frames_in);
	json_key(j, "events_in");
	json_uint(j, st->events_in);
	for (int k = 0; k < VK_COUNT; k++) {
		char key[32];
		snprintf(key, sizeof(key), "frames_out_%s", vkind_name((enum vkind)k));
		json_key(j, key);
		json_uint(j, st->frames_out[k]);
	}
	json_key(j, "dropped");
	json_uint(j, st->dropped);
	json_key(j, "switches");
	json_uint(j, st->switches);
	json_key(j, "syn_dropped");
	json_uint(j, d->n.syn_dropped);
	json_key(j, "write_errors");
	json_uint(j, d->n.write_errors);
	json_key(j, "hooks_run");
	json_uint(j, d->hooks ? hooks_runs(d->hooks) : 0);
	json_key(j, "hooks_failed");
	json_uint(j, d->hooks ? hooks_failures(d->hooks) : 0);
	json_key(j, "devices_added");
	json_uint(j, d->n.devices_added);
	json_key(j, "devices_removed");
	json_uint(j, d->n.devices_removed);
	json_key(j, "open_failures");
	json_uint(j, d->n.open_failures);
	json_key(j, "reloads");
	json_uint(j, d->n.reloads);
	json_key(j, "clients");
	json_uint(j, d->ctl ? ctl_client_count(d->ctl) : 0);
	json_object_end(j);
	latstats_json(d->lat, d->cfg, j);
	realtime_status_json(j);
	json_object_end(j);
}

/* The daemon's devices for scripts: one flat object per virtual device
 * (which node to give QEMU for which target) and per input it holds. */
static void list_json(struct daemon *d, struct json *j)
{
	int active = router_active(d->router);
	json_object_begin(j);
	json_key(j, "outputs");
	json_array_begin(j);
	for (size_t t = 0; t < d->cfg->n_target; t++) {
		for (int k = 0; k < VK_COUNT; k++) {
			if (!d->vd[t][k])
				continue;
			json_object_begin(j);
			json_key(j, "target");
			json_string(j, d->cfg->target[t].name);
			json_key(j, "kind");
			json_string(j, vkind_name((enum vkind)k));
			json_key(j, "node");
			json_string(j, vdev_devnode(d->vd[t][k]));
			json_key(j, "name");
			json_string(j, vdev_name(d->vd[t][k]));
			json_key(j, "active");
			json_bool(j, (int)t == active);
			json_object_end(j);
		}
	}
	json_array_end(j);
	inputs_json(d, j);
	json_object_end(j);
}

/* ---- reload ---- */

static int reload_config(struct daemon *d, char *err, size_t errlen)
{
	char path[PATH_MAX];
	conffile_find(d->opt->config_path, path, sizeof(path));
	struct config *cfg = conffile_load(path, err, errlen);
	if (!cfg)
		return -1;
	/* A listener that cannot start (bad secret file, address in use)
	 * makes the new configuration invalid: the running one stays. */
	if (d->listener && listener_configure(d->listener, &cfg->listener, err, errlen) < 0) {
		config_destroy(cfg);
		return -1;
	}
	sd_notify(0, "RELOADING=1");
	struct config *old = d->cfg;
	int map[CONFIG_MAX_TARGETS];
	config_map_targets(old, cfg, map);
	router_release_vanishing(d->router, map);

	/* Move the virtual devices of kept targets to their new index. */
	struct vdev *vd[CONFIG_MAX_TARGETS][VK_COUNT] = { 0 };
	for (size_t t = 0; t < old->n_target; t++) {
		for (int k = 0; k < VK_COUNT; k++) {
			if (!d->vd[t][k])
				continue;
			epoll_ctl(d->epfd, EPOLL_CTL_DEL, vdev_fd(d->vd[t][k]), NULL);
			if (map[t] >= 0 && target_has_vdevs(cfg, map[t])) {
				vd[map[t]][k] = d->vd[t][k];
			} else {
				fdstore_remove(d->store, old->target[t].name, (enum vkind)k);
				vdev_destroy(d->vd[t][k]);
			}
		}
	}
	memcpy(d->vd, vd, sizeof(vd));
	latstats_remap(d->lat, map, old->n_target);
	d->echo = 0; /* target indices changed: unread echoes wake the loop as usual */
	d->cfg = cfg;
	for (size_t t = 0; t < cfg->n_target; t++)
		for (int k = 0; k < VK_COUNT; k++)
			if (d->vd[t][k] && k == VK_KEYBOARD) /* as vdev_open */
				epoll_set(d, EPOLL_CTL_ADD, vdev_fd(d->vd[t][k]), TAGGED(TAG_VDEV, t * VK_COUNT + k));
	int vrc = vdevs_ensure(d);
	if (d->virt)
		virt_reconfigure(d->virt, cfg, map);
	router_reconfigure(d->router, cfg, map, d->now);
	config_destroy(old);
	snprintf(d->config_path, sizeof(d->config_path), "%s", path);
	if (cfg->realtime != realtime_setting())
		log_info("realtime = %s takes effect when kvmswitch is restarted", realtime_mode_name(cfg->realtime));

	/* The match rules may have changed: drop what they no longer select,
	 * take what they now do. */
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		struct match_verdict v;
		if (!d->dev[i])
			continue;
		match_decide(cfg->match, cfg->n_match, cfg->exclude, cfg->n_exclude, &d->dev[i]->disc.desc, &v);
		if (!v.take)
			pdev_remove(d, i, v.reason);
	}
	discover_enumerate(d->ds, on_enumerated, d);
	d->n.reloads++;
	sd_notify(0, "READY=1");
	log_info("configuration reloaded from %s", path[0] ? path : "(built-in defaults)");
	if (vrc < 0) {
		snprintf(err, errlen, "configuration applied, but target '%s' has no virtual devices: %s",
			 target_without_vdevs(d), strerror(-vrc));
		return -1;
	}
	return 0;
}

/* A reload reads files and enumerates devices: not forwarding, and maybe
 * longer than the real-time bound on a slow machine, so at normal priority. */
static int reload(struct daemon *d, char *err, size_t errlen)
{
	realtime_leave();
	int rc = reload_config(d, err, errlen);
	realtime_enter();
	return rc;
}

/* ---- control requests ---- */

static const char *switch_error(struct daemon *d, int rc)
{
	switch (-rc) {
	case ENOENT:
		return "no such target";
	case ENODEV:
		return "its virtual devices could not be created (see the log)";
	case EHOSTDOWN:
	case ENOTCONN:
		if (d->virt && virt_refusal(d->virt))
			return virt_refusal(d->virt);
		return "its domain is not running";
	default:
		return strerror(-rc);
	}
}

static void on_request(void *data, struct ctl_client *c, const struct proto_request *req)
{
	struct daemon *d = data;
	int rc = 0;
	d->now = now_ms();
	switch (req->cmd) {
	case PROTO_SWITCH: {
		int t = config_target_index(d->cfg, req->arg);
		if (t < 0) {
			ctl_reply(c, "error no target named '%s'", req->arg);
			return;
		}
		rc = router_switch(d->router, t, SWITCH_COMMAND, d->now);
		break;
	}
	case PROTO_TOGGLE:
		rc = router_toggle(d->router, SWITCH_COMMAND, d->now);
		break;
	case PROTO_NEXT:
	case PROTO_PREV:
		rc = router_cycle(d->router, req->cmd == PROTO_NEXT ? 1 : -1, SWITCH_COMMAND, d->now);
		break;
	case PROTO_RELEASE:
		router_release(d->router, SWITCH_EMERGENCY, d->now);
		ctl_reply(c, "ok released");
		return;
	case PROTO_STATUS:
	case PROTO_LIST: {
		struct json j;
		json_init(&j);
		if (req->cmd == PROTO_LIST)
			list_json(d, &j);
		else
			status_json(d, &j);
		if (j.failed)
			ctl_reply(c, "error out of memory");
		else
			ctl_reply(c, "ok %s", j.buf);
		json_finish(&j);
		return;
	}
	case PROTO_RELOAD: {
		char err[CONFIG_ERR_MAX];
		if (reload(d, err, sizeof(err)) < 0) {
			log_warn("reload refused, keeping the running configuration: %s", err);
			ctl_reply(c, "error %s", err);
		} else {
			ctl_reply(c, "ok reloaded");
		}
		return;
	}
	case PROTO_SUBSCRIBE:
		ctl_subscribe(c);
		ctl_reply(c, "ok subscribed %s", d->cfg->target[router_active(d->router)].name);
		return;
	case PROTO_PING:
		ctl_reply(c, "ok pong");
		return;
	case PROTO_VERSION:
		ctl_reply(c, "ok %s", KVMSWITCH_VERSION);
		return;
	}
	if (rc == 0 && d->virt && virt_attaching(d->virt)) {
		/* A usb target: the reply says whether its devices got attached. */
		uint64_t ticket = ctl_defer(c);
		if (ticket) {
			virt_set_ticket(d->virt, ticket);
			return;
		}
	}
	const char *active = d->cfg->target[router_active(d->router)].name;
	if (rc == 0 || rc == -EALREADY)
		ctl_reply(c, "ok %s", active);
	else
		ctl_reply(c, "error cannot switch: %s (active: %s)", switch_error(d, rc), active);
}

/* ---- libvirt (virt.c) ---- */

/* Does kvmswitch still grab an input device that usb target `target` moves? */
static bool on_virt_holding(void *data, int target)
{
	struct daemon *d = data;
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++)
		if (d->dev[i] && router_device_grabbed(d->router, i) &&
		    virt_moves(d->cfg, target, &d->dev[i]->disc.desc, d->dev[i]->disc.syspath))
			return true;
	return false;
}

static void on_virt_gone(void *data, int target, const char *why)
{
	struct daemon *d = data;
	log_warn("target '%s': %s; switching to the host", d->cfg->target[target].name, why);
	router_switch(d->router, config_host_index(d->cfg), SWITCH_DOMAIN_GONE, d->now);
}

static void on_virt_attach_failed(void *data, int target, int previous, const char *why)
{
	struct daemon *d = data;
	int host = config_host_index(d->cfg);
	int back = previous >= 0 ? previous : host;
	log_error("target '%s': %s; switching back to '%s'", d->cfg->target[target].name, why, d->cfg->target[back].name);
	if (router_switch(d->router, back, SWITCH_ATTACH_FAILED, d->now) < 0 && back != host)
		router_switch(d->router, host, SWITCH_ATTACH_FAILED, d->now);
}

static void on_virt_answer(void *data, uint64_t ticket, int rc, const char *why)
{
	struct daemon *d = data;
	const char *active = d->cfg->target[router_active(d->router)].name;
	if (rc < 0)
		ctl_reply_ticket(d->ctl, ticket, "error cannot switch: %s (active: %s)", why ? why : strerror(-rc),
				 active);
	else
		ctl_reply_ticket(d->ctl, ticket, "ok %s", active);
}

/* ---- loop ---- */

static void arm_timer(struct daemon *d)
{
	uint64_t when = router_next_deadline(d->router);
	for (int i = 0; d->n_retry > 0 && i < RETRY_SLOTS; i++)
		if (d->retry[i].used && d->retry[i].when < when)
			when = d->retry[i].when;
	if (d->ctl && d->next_ctl_tick < when)
		when = d->next_ctl_tick;
	if (d->hooks && hooks_next_deadline(d->hooks) < when)
		when = hooks_next_deadline(d->hooks);
	if (d->listener && listener_next_deadline(d->listener) < when)
		when = listener_next_deadline(d->listener);
	if (when == d->armed)
		return;
	d->armed = when;
	struct itimerspec its = { 0 };
	if (when != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(when / 1000);
		its.it_value.tv_nsec = (long)(when % 1000) * 1000000;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_timer(struct daemon *d)
{
	uint64_t exp;
	ssize_t r = read(d->tfd, &exp, sizeof(exp));
	(void)r;
	d->armed = 0;
	router_tick(d->router, d->now);
	retries_run(d);
	if (d->ctl && d->now >= d->next_ctl_tick) {
		ctl_tick(d->ctl, d->now);
		d->next_ctl_tick = d->now + 60 * 1000;
	}
	hooks_tick(d->hooks, d->now);
	listener_tick(d->listener, d->now);
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;
	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			d->quit = true;
			break;
		case SIGCHLD:
			hooks_reap(d->hooks, now_ms());
			break;
		case SIGHUP: {
			char err[CONFIG_ERR_MAX];
			if (reload(d, err, sizeof(err)) < 0)
				log_warn("reload refused, keeping the running configuration: %s", err);
			break;
		}
		}
	}
}

static int setup(struct daemon *d, char *err, size_t errlen)
{
	conffile_find(d->opt->config_path, d->config_path, sizeof(d->config_path));
	d->cfg = conffile_load(d->config_path, err, errlen);
	if (!d->cfg)
		return -1;
	log_info("configuration: %s", d->config_path[0] ? d->config_path : "built-in defaults");

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD); /* hooks finishing: hooks_reap */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->epfd < 0 || d->tfd < 0 || d->sigfd < 0) {
		snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	epoll_set(d, EPOLL_CTL_ADD, d->sigfd, TAGGED(TAG_SIGNAL, 0));
	epoll_set(d, EPOLL_CTL_ADD, d->tfd, TAGGED(TAG_TIMER, 0));

	if (d->opt->socket_path)
		snprintf(d->sock_path, sizeof(d->sock_path), "%s", d->opt->socket_path);
	else if (ctl_default_path(d->sock_path, sizeof(d->sock_path), err, errlen) < 0)
		return -1;
	const struct ctl_handler h = { d, on_request };
	d->ctl = ctl_create(d->sock_path, &h);
	if (!d->ctl) {
		if (errno == EADDRINUSE)
			snprintf(err, errlen, "another kvmswitch is running (its control socket %.300s answers)", d->sock_path);
		else
			snprintf(err, errlen, "cannot create the control socket %.300s: %s", d->sock_path, strerror(errno));
		return -1;
	}
	epoll_set(d, EPOLL_CTL_ADD, ctl_fd(d->ctl), TAGGED(TAG_CTL, 0));
	d->next_ctl_tick = now_ms() + 60 * 1000;
	d->hooks = hooks_create();
	d->listener = listener_create(d->ctl);
	d->lat = latstats_create();
	if (!d->hooks || !d->listener || !d->lat) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		return -1;
	}
	epoll_set(d, EPOLL_CTL_ADD, hooks_fd(d->hooks), TAGGED(TAG_HOOKS, 0));
	epoll_set(d, EPOLL_CTL_ADD, listener_fd(d->listener), TAGGED(TAG_LISTENER, 0));
	if (listener_configure(d->listener, &d->cfg->listener, err, errlen) < 0)
		return -1;

	/* Under systemd: adopt the devices it kept for us (tablets too: a
	 * QEMU may hold one), drop those no VM target wants any more. */
	d->store = fdstore_create();
	for (size_t t = 0; d->store && t < d->cfg->n_target; t++)
		if (d->cfg->target[t].type == TARGET_EVDEV && fdstore_passed(d->store))
			for (int k = 0; k < VK_COUNT; k++)
				if (fdstore_has_passed(d->store, d->cfg->target[t].name, (enum vkind)k))
					vdev_open(d, (int)t, (enum vkind)k);
	fdstore_drop_untaken(d->store);
	if (vdevs_ensure(d) < 0) {
		snprintf(err, errlen, "cannot create the virtual devices (see above)");
		return -1;
	}
	/* Before the router: its start calls prepare and switched. */
	const struct virt_hooks vh = { d, on_virt_holding, on_virt_gone, on_virt_attach_failed, on_virt_answer };
	d->virt = virt_create(d->cfg, &vh);
	if (!d->virt) {
		snprintf(err, errlen, "cannot start the libvirt worker: %s", strerror(errno));
		return -1;
	}
	epoll_set(d, EPOLL_CTL_ADD, virt_fd(d->virt), TAGGED(TAG_VIRT, 0));
	/* Before anything is grabbed: `yes` may refuse to start. */
	if (realtime_start(d->cfg->realtime, err, errlen) < 0)
		return -1;
	const struct router_output out = { d, out_emit, out_grab, out_leds, out_prepare, out_switched };
	d->router = router_create(d->cfg, &out);
	d->ds = discover_create();
	if (!d->router || !d->ds) {
		snprintf(err, errlen, "cannot start: %s", d->ds ? "out of memory" : "cannot connect to udev");
		return -1;
	}
	epoll_set(d, EPOLL_CTL_ADD, discover_fd(d->ds), TAGGED(TAG_UDEV, 0));
	d->now = now_ms();
	router_start(d->router, d->now);
	/* Devices after the start target, so each is grabbed (or not) once. */
	discover_enumerate(d->ds, on_enumerated, d);
	/* The loop at its real-time priority from here on. The libvirt
	 * worker started above and every thread or hook started later run
	 * SCHED_OTHER (SCHED_RESET_ON_FORK). */
	realtime_enter();
	return 0;
}

/* How long readers of our devices get to read the final releases: the
 * kernel discards what a reader has not read once a device is destroyed. */
#define EXIT_DRAIN_MS 150
#define VIRT_EXIT_TIMEOUT_MS 15000

static void teardown(struct daemon *d)
{
	if (d->router) {
		size_t held = 0;
		for (size_t t = 0; t < d->cfg->n_target; t++)
			held += router_target_held(d->router, (int)t);
		router_shutdown(d->router);
		if (held) {
			struct timespec ts = { 0, EXIT_DRAIN_MS * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	/* USB devices in a guest come home (waits for libvirt, bounded). */
	virt_destroy(d->virt, VIRT_EXIT_TIMEOUT_MS);
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		if (!d->dev[i])
			continue;
		evdev_in_close(d->dev[i]->in);
		free(d->dev[i]);
	}
	for (size_t t = 0; t < CONFIG_MAX_TARGETS; t++)
		for (int k = 0; k < VK_COUNT; k++)
			if (d->vd[t][k] && fdstore_holds(d->store, d->cfg->target[t].name, (enum vkind)k))
				vdev_forget(d->vd[t][k]); /* systemd keeps it for our next start */
			else if (d->vd[t][k])
				vdev_destroy(d->vd[t][k]);
	fdstore_destroy(d->store);
	router_destroy(d->router);
	listener_destroy(d->listener);
	hooks_destroy(d->hooks);
	latstats_destroy(d->lat);
	ctl_destroy(d->ctl, true);
	discover_destroy(d->ds);
	config_destroy(d->cfg);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->tfd >= 0)
		close(d->tfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
}

int daemon_run(const struct daemon_options *opt)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char err[CONFIG_ERR_MAX];
	if (!d)
		return 1;
	d->opt = opt;
	d->epfd = d->tfd = d->sigfd = -1;
	d->cur_dev = -1;
	d->armed = 0;
	if (setup(d, err, sizeof(err)) < 0) {
		log_error("%s", err);
		teardown(d);
		free(d);
		return 1;
	}
	sd_notify(0, "READY=1");
	log_info("running; control socket %s", d->sock_path);
	while (!d->quit) {
		struct epoll_event ev[64];
		arm_timer(d);
		int n = epoll_wait(d->epfd, ev, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		d->now = now_ms();
		realtime_poll();
		for (int i = 0; i < n && !d->quit; i++) {
			uint32_t tag = (uint32_t)(ev[i].data.u64 >> 32);
			uint32_t idx = (uint32_t)ev[i].data.u64;
			switch (tag) {
			case TAG_PDEV:
				if (d->dev[idx])
					pdev_readable(d, (int)idx);
				break;
			case TAG_VDEV: {
				int t = (int)(idx / VK_COUNT), k = (int)(idx % VK_COUNT);
				if ((size_t)t < d->cfg->n_target && d->vd[t][k]) {
					d->led_target = t;
					vdev_read(d->vd[t][k], on_led, d);
				}
				break;
			}
			case TAG_UDEV:
				discover_dispatch(d->ds, on_hotplug, d);
				break;
			case TAG_CTL:
				ctl_dispatch(d->ctl, d->now);
				break;
			case TAG_HOOKS:
				hooks_dispatch(d->hooks, d->now);
				break;
			case TAG_LISTENER:
				listener_dispatch(d->listener, d->now);
				break;
			case TAG_VIRT:
				virt_dispatch(d->virt);
				break;
			case TAG_TIMER:
				on_timer(d);
				break;
			case TAG_SIGNAL:
				on_signal(d);
				break;
			}
		}
		if (d->virt)
			virt_tick(d->virt); /* an attach waiting for the router's ungrab */
		if (d->echo)
			read_echoes(d);
	}
	sd_notify(0, "STOPPING=1");
	log_info("exiting: releasing held keys and devices");
	teardown(d);
	free(d);
	return 0;
}
