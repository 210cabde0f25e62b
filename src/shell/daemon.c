/* The daemon: one thread, one epoll loop that wires the rooms together.
 * Fixed slots for signals, the timer, udev, the control socket, the
 * listener, hooks and libvirt; dynamic slots for physical devices (inputs.c)
 * and the targets' keyboards (outputs.c). The hot path (inputs_readable ->
 * evdev_in_read -> router_feed -> outputs_emit -> vdev_write) does no
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

#include "command.h"
#include "core/router.h"
#include "ctl.h"
#include "discover.h"
#include "hooks.h"
#include "inputs.h"
#include "latstats.h"
#include "listener.h"
#include "log.h"
#include "monitor.h"
#include "monotime.h"
#include "outputs.h"
#include "qmplink.h"
#include "realtime.h"
#include "preflight.h"
#include "virt.h"

enum tag {
	TAG_SIGNAL = 1,
	TAG_TIMER,
	TAG_UDEV,
	TAG_CTL,
	TAG_HOOKS,    /* output of a running on-enter/on-leave hook */
	TAG_LISTENER, /* the network listener */
	TAG_VIRT,     /* results of the libvirt worker (virt.c) */
	TAG_QMP,      /* index: a QMP link of qmplink.c */
	TAG_PDEV,     /* index: device slot */
	TAG_VDEV,     /* index: the target whose keyboard it is */
};

#define TAGGED(tag, idx) (((uint64_t)(tag) << 32) | (uint32_t)(idx))

struct counters {
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
	struct command cmd; /* what requests act on, for ctl and listener */
	char sock_path[PATH_MAX];
	struct hooks *hooks;
	struct listener *listener;
	struct virt *virt;       /* libvirt: usb targets, domain lifecycle */
	struct inputs *inputs;   /* the physical devices */
	struct outputs *outputs; /* the targets' virtual devices */
	struct qmplink *qmp;     /* `qmp = PATH`: the devices added to QEMUs */
	struct counters n;
	struct latstats *lat;   /* the hop of every forwarded frame */
	struct monitor monitor; /* `kvmswitch monitor`: on while a client asks */
	bool monitoring;
	uint64_t now;
	uint64_t next_ctl_tick;
	bool virt_waiting; /* an attach may wait for the router's ungrab (virt_tick) */
	bool quit;
};

static int epoll_set(struct daemon *d, int op, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	return epoll_ctl(d->epfd, op, fd, &ev);
}

/* ---- the devices' calls ---- */

static void watch_vdev(void *data, int fd, int t, bool on)
{
	struct daemon *d = data;
	epoll_set(d, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, TAGGED(TAG_VDEV, t));
}

static void on_led(void *data, int t, unsigned code, int value)
{
	struct daemon *d = data;
	router_target_led(d->router, t, code, value);
}

static int watch_pdev(void *data, int fd, int slot, bool on)
{
	struct daemon *d = data;
	return epoll_set(d, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, TAGGED(TAG_PDEV, slot));
}

/* The targets' virtual devices changed: QEMUs that get them at run time
 * get these. */
static void devices_changed(struct daemon *d)
{
	if (d->qmp)
		qmplink_configure(d->qmp, d->cfg, outputs_table(d->outputs), d->now);
	if (d->virt) {
		bool kept[CONFIG_MAX_TARGETS][VK_COUNT];
		for (size_t t = 0; t < d->cfg->n_target; t++)
			for (int k = 0; k < VK_COUNT; k++)
				kept[t][k] = outputs_kept(d->outputs, d->cfg, (int)t, (enum vkind)k);
		virt_set_devices(d->virt, outputs_table(d->outputs), kept);
	}
}

static void on_absolute(void *data)
{
	struct daemon *d = data;
	outputs_want_tablet(d->outputs, d->cfg);
	devices_changed(d);
}

/* ---- QMP links (qmplink.c) ---- */

static void watch_qmp(void *data, int fd, int slot, uint32_t events)
{
	struct daemon *d = data;
	struct epoll_event ev = { .events = events, .data.u64 = TAGGED(TAG_QMP, slot) };
	if (!events)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
	else if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static bool qmp_kept(void *data, int t, enum vkind kind)
{
	struct daemon *d = data;
	return outputs_kept(d->outputs, d->cfg, t, kind);
}

/* ---- router output ---- */

static void out_emit(void *data, int target, enum vkind kind, const struct input_event *ev, size_t n)
{
	struct daemon *d = data;
	if (outputs_emit(d->outputs, target, kind, ev, n, d->now))
		latstats_record(d->lat, target, kind, ev, n);
}

static int out_grab(void *data, int i, bool on, struct router_grab *res)
{
	struct daemon *d = data;
	return inputs_grab(d->inputs, i, on, res);
}

static void out_host_release(void *data, int i, unsigned code)
{
	struct daemon *d = data;
	inputs_host_release(d->inputs, i, code);
}

static bool out_queued(void *data, int i)
{
	struct daemon *d = data;
	return inputs_queued(d->inputs, i);
}

static void out_leds(void *data, int i, uint32_t leds)
{
	struct daemon *d = data;
	if (d->inputs) /* router_start shows the start target's LEDs before any device is taken */
		inputs_set_leds(d->inputs, i, leds);
}

static int out_prepare(void *data, int from, int to)
{
	struct daemon *d = data;
	if (outputs_lack(d->outputs, d->cfg, to))
		return -ENODEV;
	return d->virt ? virt_prepare(d->virt, from, to) : 0;
}

/* Does target `target` take device `dev` whole (a USB device libvirt
 * attaches to its domain)? */
static bool out_moves(void *data, int dev, int target)
{
	struct daemon *d = data;
	return d->inputs && inputs_moves(d->inputs, d->cfg, dev, target);
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
	if (d->virt) {
		virt_switched(d->virt, from, to);
		d->virt_waiting = true;
	}
}

static void out_locked(void *data, bool on)
{
	struct daemon *d = data;
	log_info("hotkey switching %s", on ? "locked" : "unlocked");
	if (d->ctl)
		ctl_broadcast(d->ctl, on ? "event lock on" : "event lock off");
}

/* ---- the monitor (monitor.c): never logged ---- */

static void on_trace(void *data, int slot, const struct input_event *ev, enum router_route route, int target,
		     unsigned flags)
{
	struct daemon *d = data;
	const struct monitor_source src = { slot, inputs_node(d->inputs, slot), inputs_name(d->inputs, slot) };
	struct json j;
	json_init(&j);
	if (monitor_format(&d->monitor, &j, d->cfg, &src, ev, route, target, flags, d->now) && json_text(&j)) {
		char *line = NULL;
		if (asprintf(&line, "event input %s", json_text(&j)) >= 0)
			ctl_monitor_send(d->ctl, line);
		free(line);
	}
	json_finish(&j);
}

/* The router tells where events go only while a client watches. */
static void update_monitor(struct daemon *d)
{
	bool want = d->ctl && ctl_monitors(d->ctl) > 0;
	if (want == d->monitoring)
		return;
	d->monitoring = want;
	router_set_trace(d->router, want ? on_trace : NULL, d);
	log_info("monitor: %s", want ? "a client watches the input events" : "no client watches the input events");
}

/* ---- reload ---- */

static int reload_config(struct daemon *d, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct config *cfg = preflight_read(d->opt->config_path, path, sizeof(path), err, errlen);
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

	int vrc = outputs_reconfigure(d->outputs, old, cfg, map);
	latstats_remap(d->lat, map, old->n_target);
	d->cfg = cfg;
	if (d->virt) {
		virt_reconfigure(d->virt, cfg, map);
		d->virt_waiting = true;
	}
	router_reconfigure(d->router, cfg, map, d->now);
	devices_changed(d);
	config_destroy(old);
	snprintf(d->config_path, sizeof(d->config_path), "%s", path);
	if (cfg->realtime != realtime_setting())
		log_info("realtime = %s takes effect when kvmswitch is restarted", realtime_mode_name(cfg->realtime));

	/* The match rules may have changed: drop what they no longer select,
	 * take what they now do. */
	inputs_reconfigure(d->inputs, d->ds, cfg, d->now);
	d->n.reloads++;
	sd_notify(0, "READY=1");
	log_info("configuration reloaded from %s", path[0] ? path : "(built-in defaults)");
	if (vrc < 0) {
		snprintf(err, errlen, "configuration applied, but target '%s' has no virtual devices: %s",
			 outputs_missing(d->outputs, d->cfg), strerror(-vrc));
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

/* ---- what commands act on (command.c) ---- */

static const struct config *cmd_config(void *data)
{
	struct daemon *d = data;
	return d->cfg;
}

static uint64_t cmd_clock(void *data)
{
	struct daemon *d = data;
	d->now = monotime_ms();
	return d->now;
}

static int cmd_reload(void *data, char *err, size_t errlen)
{
	return reload(data, err, errlen);
}

/* What status and list show (report.c). */
static void cmd_view(void *data, struct report_view *v)
{
	struct daemon *d = data;
	memset(v, 0, sizeof(*v));
	v->config_path = d->config_path[0] ? d->config_path : NULL;
	v->cfg = d->cfg;
	v->router = d->router;
	v->virt = d->virt;
	v->qmp = d->qmp;
	v->lat = d->lat;
	v->vd = outputs_table(d->outputs);
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		v->input[i].node = inputs_node(d->inputs, i);
		v->input[i].name = inputs_name(d->inputs, i);
		v->input[i].host_only = inputs_host_only(d->inputs, i);
	}
	const struct inputs_counters *in = inputs_counters(d->inputs);
	v->n = (struct report_counters){
		.syn_dropped = in->syn_dropped,
		.write_errors = outputs_write_errors(d->outputs),
		.host_releases = in->host_releases,
		.hooks_run = d->hooks ? hooks_runs(d->hooks) : 0,
		.hooks_failed = d->hooks ? hooks_failures(d->hooks) : 0,
		.devices_added = in->devices_added,
		.devices_removed = in->devices_removed,
		.open_failures = in->open_failures,
		.reloads = d->n.reloads,
		.clients = d->ctl ? ctl_client_count(d->ctl) : 0,
		.monitors = d->ctl ? ctl_monitors(d->ctl) : 0,
		.monitor_events = d->monitor.events,
	};
}

/* ---- libvirt (virt.c) ---- */

/* Does kvmswitch still grab an input device that target `target` moves? */
static bool on_virt_holding(void *data, int target)
{
	struct daemon *d = data;
	return inputs_holding(d->inputs, d->cfg, target);
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

/* follow = start: the target's domain started and its QEMU reads the
 * target's devices. */
static void on_virt_started(void *data, int target)
{
	struct daemon *d = data;
	int rc = router_switch(d->router, target, SWITCH_DOMAIN_STARTED, d->now);
	if (rc < 0 && rc != -EALREADY)
		log_warn("target '%s': its domain started, but switching to it failed: %s", d->cfg->target[target].name,
			 virt_refusal(d->virt) ? virt_refusal(d->virt) : strerror(-rc));
}

static void on_virt_answer(void *data, uint64_t ticket, int rc, const char *why)
{
	struct daemon *d = data;
	char line[COMMAND_SWITCH_REPLY_MAX];
	command_switch_reply(&d->cmd, rc, why ? why : strerror(-rc), line, sizeof(line));
	ctl_reply_ticket(d->ctl, ticket, "%s", line);
}

/* ---- loop ---- */

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Runs before every epoll_wait: each deadline is asked once (make bench
 * counts the instructions per frame). */
static void arm_timer(struct daemon *d)
{
	uint64_t when = earliest(router_next_deadline(d->router), inputs_deadline(d->inputs));
	when = earliest(when, outputs_deadline(d->outputs));
	if (d->ctl)
		when = earliest(when, d->next_ctl_tick);
	if (d->hooks)
		when = earliest(when, hooks_next_deadline(d->hooks));
	if (d->listener)
		when = earliest(when, listener_next_deadline(d->listener));
	if (d->qmp)
		when = earliest(when, qmplink_deadline(d->qmp));
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
	inputs_tick(d->inputs, d->now);
	if (d->ctl && d->now >= d->next_ctl_tick) {
		ctl_tick(d->ctl, d->now);
		d->next_ctl_tick = d->now + 60 * 1000;
		update_monitor(d);
	}
	hooks_tick(d->hooks, d->now);
	listener_tick(d->listener, d->now);
	outputs_tick(d->outputs, d->now);
	qmplink_tick(d->qmp, d->now);
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
			hooks_reap(d->hooks, monotime_ms());
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
	d->cfg = preflight_read(d->opt->config_path, d->config_path, sizeof(d->config_path), err, errlen);
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
	d->ctl = ctl_create(d->sock_path, &d->cmd);
	if (!d->ctl) {
		if (errno == EADDRINUSE)
			snprintf(err, errlen, "another kvmswitch is running (its control socket %.300s answers)", d->sock_path);
		else
			snprintf(err, errlen, "cannot create the control socket %.300s: %s", d->sock_path, strerror(errno));
		return -1;
	}
	epoll_set(d, EPOLL_CTL_ADD, ctl_fd(d->ctl), TAGGED(TAG_CTL, 0));
	d->next_ctl_tick = monotime_ms() + 60 * 1000;
	d->hooks = hooks_create();
	d->listener = listener_create(&d->cmd);
	d->lat = latstats_create();
	if (!d->hooks || !d->listener || !d->lat) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		return -1;
	}
	epoll_set(d, EPOLL_CTL_ADD, hooks_fd(d->hooks), TAGGED(TAG_HOOKS, 0));
	epoll_set(d, EPOLL_CTL_ADD, listener_fd(d->listener), TAGGED(TAG_LISTENER, 0));
	if (listener_configure(d->listener, &d->cfg->listener, err, errlen) < 0)
		return -1;

	const struct outputs_env oenv = { d, watch_vdev, on_led };
	d->outputs = outputs_create(&oenv);
	if (!d->outputs) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		return -1;
	}
	if (outputs_start(d->outputs, d->cfg) < 0) {
		snprintf(err, errlen, "cannot create the virtual devices (see above)");
		return -1;
	}
	/* Before the router: its start calls prepare and switched. */
	const struct virt_hooks vh = { d, on_virt_holding, on_virt_gone, on_virt_attach_failed, on_virt_answer,
				       on_virt_started };
	d->virt = virt_create(d->cfg, &vh);
	d->virt_waiting = d->virt != NULL; /* the first round finds out */
	if (!d->virt) {
		snprintf(err, errlen, "cannot start the libvirt worker: %s", strerror(errno));
		return -1;
	}
	epoll_set(d, EPOLL_CTL_ADD, virt_fd(d->virt), TAGGED(TAG_VIRT, 0));
	/* QEMUs that get the devices at run time (qmp, libvirt-hotplug). */
	const struct qmplink_env qenv = { d, watch_qmp, qmp_kept };
	if (!(d->qmp = qmplink_create(&qenv))) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		return -1;
	}
	d->now = monotime_ms();
	devices_changed(d);
	/* Before anything is grabbed: `yes` may refuse to start. */
	if (realtime_start(d->cfg->realtime, err, errlen) < 0)
		return -1;
	const struct router_output out = {
		d, out_emit, out_grab, out_leds, out_prepare, out_switched, out_host_release, out_locked, out_queued,
		out_moves
	};
	d->router = router_create(d->cfg, &out);
	/* Requests are read only in the loop, so the socket and the listener
	 * could be given this before it was complete. */
	d->cmd = (struct command){ d, d->router, d->virt, cmd_config, cmd_clock, cmd_reload, cmd_view };
	d->ds = discover_create();
	const struct inputs_env ienv = { d, watch_pdev, on_absolute };
	d->inputs = d->router ? inputs_create(d->router, &ienv) : NULL;
	if (!d->router || !d->ds || !d->inputs) {
		snprintf(err, errlen, "cannot start: %s", d->ds ? "out of memory" : "cannot connect to udev");
		return -1;
	}
	epoll_set(d, EPOLL_CTL_ADD, discover_fd(d->ds), TAGGED(TAG_UDEV, 0));
	d->now = monotime_ms();
	router_start(d->router, d->now);
	/* Devices after the start target, so each is grabbed (or not) once. */
	inputs_enumerate(d->inputs, d->ds, d->cfg, d->now);
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
#define QMP_EXIT_TIMEOUT_MS 2000

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
	/* QEMUs given our devices at run time let go of those that die now. */
	qmplink_destroy(d->qmp, QMP_EXIT_TIMEOUT_MS);
	inputs_destroy(d->inputs);
	outputs_destroy(d->outputs, d->cfg);
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
		d->now = monotime_ms();
		realtime_poll();
		for (int i = 0; i < n && !d->quit; i++) {
			uint32_t tag = (uint32_t)(ev[i].data.u64 >> 32);
			uint32_t idx = (uint32_t)ev[i].data.u64;
			switch (tag) {
			case TAG_PDEV:
				inputs_readable(d->inputs, (int)idx, d->now);
				break;
			case TAG_VDEV:
				outputs_read_leds(d->outputs, (int)idx);
				break;
			case TAG_UDEV:
				inputs_hotplug(d->inputs, d->ds, d->now);
				break;
			case TAG_CTL:
				ctl_dispatch(d->ctl, d->now);
				update_monitor(d);
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
			case TAG_QMP:
				qmplink_dispatch(d->qmp, (int)idx, ev[i].events, d->now);
				break;
			case TAG_TIMER:
				on_timer(d);
				break;
			case TAG_SIGNAL:
				on_signal(d);
				break;
			}
		}
		if (d->virt_waiting) /* an attach waiting for the router's ungrab */
			d->virt_waiting = virt_tick(d->virt);
		outputs_after_round(d->outputs);
	}
	sd_notify(0, "STOPPING=1");
	log_info("exiting: releasing held keys and devices");
	teardown(d);
	free(d);
	return 0;
}
