/* The libvirt worker thread (virt_internal.h). It runs libvirt's default
 * event loop: an eventfd from the daemon, lifecycle events, close callbacks
 * and retry timers all end in one "work" step that brings libvirt to what
 * the daemon last asked for (declarative: the newest wish wins, so a quick
 * series of switches collapses into its end state), then reports each
 * domain's state to the daemon when it changed. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virt_internal.h"

static void quiet_errors(void *data, virErrorPtr err)
{
	(void)data;
	(void)err; /* the caller reads and explains the error */
}

void worker_set_state(struct worker *w, int t, int s, const char *fmt, ...)
{
	w->state[t] = s;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->state_text[t], sizeof(w->state_text[t]), fmt, ap);
	va_end(ap);
}

void worker_kick(struct virt *v)
{
	if (v->w.work_timer >= 0)
		virEventUpdateTimeout(v->w.work_timer, 0);
}

/* Sends the daemon each target's state when it changed. */
static void report(struct virt *v)
{
	struct worker *w = &v->w;
	for (size_t t = 0; w->cfg && t < w->cfg->n; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (!wt->domain)
			continue;
		int attached = 0;
		for (size_t i = 0; i < w->n_att; i++)
			attached += !strcmp(w->att[i].target, wt->name);
		if (w->sent_state[t] == w->state[t] && w->sent_attached[t] == attached &&
		    !strcmp(w->sent_text[t], w->state_text[t]))
			continue;
		if (w->state[t] == DS_RUNNING && w->sent_state[t] != DS_RUNNING)
			log_info("target '%s': domain '%s' is running", wt->name, wt->domain);
		else if (w->state[t] != DS_RUNNING && w->state[t] != DS_UNKNOWN &&
			 (w->state[t] != w->sent_state[t] || strcmp(w->sent_text[t], w->state_text[t])))
			log_info("target '%s': %s", wt->name, w->state_text[t]);
		struct msg *m = calloc(1, sizeof(*m));
		if (!m)
			return;
		w->sent_state[t] = w->state[t];
		w->sent_attached[t] = attached;
		snprintf(w->sent_text[t], sizeof(w->sent_text[t]), "%s", w->state_text[t]);
		m->type = MSG_STATE;
		m->gen = w->cfg->gen;
		m->target = (int)t;
		m->state = w->state[t];
		m->attached = attached;
		snprintf(m->text, sizeof(m->text), "%s", w->state_text[t]);
		mailbox_post(v, m);
	}
}

static void work(struct virt *v)
{
	struct worker *w = &v->w;
	struct wcfg *ncfg = NULL;
	struct wish wish;
	if (mailbox_take_wish(v, &wish)) {
		ncfg = wish.cfg;
		w->target = wish.target;
		w->attach = wish.attach;
		w->seq = wish.seq;
		w->quit = wish.quit;
		if (wish.devs_new)
			w->devs = wish.devs;
		w->hp_dirty |= wish.devs_new || wish.quit || ncfg;
	}
	if (ncfg) {
		wcfg_free(w->cfg);
		w->cfg = ncfg;
		for (size_t t = 0; t < CONFIG_MAX_TARGETS; t++) {
			w->state[t] = DS_UNKNOWN;
			w->state_text[t][0] = '\0';
			w->sent_state[t] = -1;
			w->follow_until[t] = 0;
		}
		/* Ask every domain again; connections no target uses are closed
		 * once nothing is attached through them. */
		for (size_t i = 0; i < w->n_conn; i++)
			w->conn[i].resync = true;
		/* What is known to be unreachable stays so until a retry says
		 * otherwise. */
		for (size_t t = 0; t < w->cfg->n; t++) {
			const struct wconn *c = w->cfg->t[t].uri ? conn_find(w, w->cfg->t[t].uri) : NULL;
			if (c && !conn_usable(c) && c->error[0])
				worker_set_state(w, (int)t, DS_NOCONN, "%s", c->error);
		}
	}
	/* Connect (or reconnect) what the configuration needs. */
	uint64_t next_retry = UINT64_MAX;
	for (size_t t = 0; w->cfg && t < w->cfg->n && !w->quit; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (!wt->uri)
			continue;
		struct wconn *c = conn_get(v, wt->uri);
		if (c && c->resync)
			conn_sync_states(v, c);
		struct wconn *cc = conn_find(w, wt->uri);
		if (!c && cc && cc->retry_at && cc->retry_at < next_retry)
			next_retry = cc->retry_at;
	}
	/* Connections that only attached devices still need (their target
	 * is gone from the configuration). */
	for (size_t i = 0; i < w->n_att; i++)
		if (!conn_usable(w->att[i].c))
			conn_get(v, w->att[i].c->uri);
	for (size_t i = 0; i < w->n_conn; i++) {
		struct wconn *c = &w->conn[i];
		bool used = false;
		for (size_t t = 0; w->cfg && t < w->cfg->n; t++)
			used |= w->cfg->t[t].uri && !strcmp(w->cfg->t[t].uri, c->uri);
		for (size_t a = 0; a < w->n_att; a++)
			used |= w->att[a].c == c;
		if (!used && c->conn) {
			log_debug("libvirt: closing %s (no target uses it)", c->uri);
			conn_drop(c);
			c->closed = false;
		}
		if (conn_usable(c) && c->resync)
			conn_sync_states(v, c);
	}
	attach_reconcile(v);
	hotplug_reconcile(v);
	report(v);
	if (w->quit) {
		w->finished = true;
		return;
	}
	/* After report: the daemon learns that the domain runs first. */
	uint64_t follow_at = follow_check(v);
	if (follow_at < next_retry)
		next_retry = follow_at;
	/* Retry a connection that failed (backoff), or an attach or detach
	 * that needs one. */
	for (size_t i = 0; i < w->n_att; i++) {
		struct wconn *c = w->att[i].c;
		if (!conn_usable(c) && c->retry_at && c->retry_at < next_retry)
			next_retry = c->retry_at;
	}
	if (next_retry != UINT64_MAX) {
		uint64_t now = monotime_ms();
		virEventUpdateTimeout(w->work_timer, next_retry > now ? (int)(next_retry - now) : 0);
	}
}

static void on_work(int timer, void *opaque)
{
	struct virt *v = opaque;
	virEventUpdateTimeout(timer, -1);
	work(v);
}

static void on_wakeup(int watch, int fd, int events, void *opaque)
{
	struct virt *v = opaque;
	work(v); /* which drains fd */
}

static void on_usb_event(int watch, int fd, int events, void *opaque)
{
	struct virt *v = opaque;
	struct hostdev_event ev;
	while (hostdevs_monitor_read(v->w.usb_mon, &ev) > 0)
		attach_hotplug(v, &ev);
}

static void on_rebind(int timer, void *opaque)
{
	struct virt *v = opaque;
	virEventUpdateTimeout(timer, -1);
	attach_rebind(&v->w);
}

void *worker_main(void *arg)
{
	struct virt *v = arg;
	struct worker *w = &v->w;
	w->work_timer = w->rebind_timer = -1;
	w->target = -1;
	for (size_t t = 0; t < CONFIG_MAX_TARGETS; t++)
		w->sent_state[t] = -1;
	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
		log_error("libvirt: cannot initialize: %s", conn_last_error());
		goto out;
	}
	virSetErrorFunc(NULL, quiet_errors);
	w->work_timer = virEventAddTimeout(0, on_work, v, NULL);
	w->rebind_timer = virEventAddTimeout(-1, on_rebind, v, NULL);
	if (w->work_timer < 0 || w->rebind_timer < 0 ||
	    virEventAddHandle(v->to_worker, VIR_EVENT_HANDLE_READABLE, on_wakeup, v, NULL) < 0) {
		log_error("libvirt: cannot set up its event loop");
		goto out;
	}
	/* Devices plugged in while their target is active go to its domain at
	 * once (attach_hotplug). */
	if (!(w->usb_mon = hostdevs_monitor_create()) ||
	    virEventAddHandle(hostdevs_monitor_fd(w->usb_mon), VIR_EVENT_HANDLE_READABLE, on_usb_event, v, NULL) < 0)
		log_warn("libvirt: cannot watch USB devices being plugged in (%s): they are attached at the next switch",
			 strerror(errno));
	while (!w->finished)
		if (virEventRunDefaultImpl() < 0)
			break;
	if (w->n_rebind)
		attach_rebind(w);
out:
	for (size_t i = 0; i < w->n_conn; i++) {
		conn_drop(&w->conn[i]);
		free(w->conn[i].uri);
	}
	wcfg_free(w->cfg);
	w->cfg = NULL;
	hostdevs_monitor_destroy(w->usb_mon);
	mailbox_worker_done(v);
	return NULL;
}
