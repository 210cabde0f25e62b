/* libvirt for the daemon (see virt.h): its side of the worker, and the
 * mailbox between the two threads (virt_internal.h says who does what).
 *
 * The daemon's side posts wishes (the newest wins, so a quick series of
 * switches collapses into its end state) and reads the worker's results
 * from a queue; it keeps a cached state of each target's domain, so
 * virt_prepare answers at once. It never calls libvirt. */
#include "virt.h"

#include <errno.h>
#include <linux/input.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/virtxml.h"
#include "hostdevs.h"
#include "log.h"
#include "virt_internal.h"

static const char *const dstate_names[] = { "unknown", "running", "shut off", "crashed", "not found", "no connection" };

static void signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t w = write(fd, &one, sizeof(one));
	(void)w;
}

static void drain_fd(int fd)
{
	uint64_t n;
	ssize_t r = read(fd, &n, sizeof(n));
	(void)r;
}

/* ---- configuration snapshots ---- */

void wcfg_free(struct wcfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->t[i].uri);
		free(c->t[i].domain);
		free(c->t[i].usb);
		free(c->t[i].pci);
	}
	free(c);
}

static struct wcfg *wcfg_copy(const struct config *cfg, uint64_t gen)
{
	struct wcfg *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->gen = gen;
	c->n = cfg->n_target;
	for (size_t i = 0; i < cfg->n_target; i++) {
		const struct target_conf *s = &cfg->target[i];
		struct wtarget *d = &c->t[i];
		snprintf(d->name, sizeof(d->name), "%s", s->name);
		d->type = s->type;
		d->follow = s->follow;
		d->libvirt_hotplug = s->libvirt_hotplug;
		const char *toggle = virtxml_grab_toggle(cfg, (int)i);
		snprintf(d->toggle, sizeof(d->toggle), "%s", toggle ? toggle : "");
		if (s->domain) {
			d->domain = strdup(s->domain);
			d->uri = strdup(s->uri ? s->uri : CONFIG_DEFAULT_URI);
			if (!d->domain || !d->uri)
				goto fail;
		}
		if (s->n_usb) {
			if (!(d->usb = calloc(s->n_usb, sizeof(*d->usb))))
				goto fail;
			memcpy(d->usb, s->usb, s->n_usb * sizeof(*d->usb));
			d->n_usb = s->n_usb;
		}
		if (s->n_pci) {
			if (!(d->pci = calloc(s->n_pci, sizeof(*d->pci))))
				goto fail;
			memcpy(d->pci, s->pci, s->n_pci * sizeof(*d->pci));
			d->n_pci = s->n_pci;
		}
	}
	return c;
fail:
	wcfg_free(c);
	return NULL;
}

/* ---- the daemon's side ---- */

/* Does target tc move devices to its domain (usb, or evdev with usb/pci)? */
static bool conf_moves(const struct target_conf *tc)
{
	return tc->domain && (tc->n_usb || tc->n_pci);
}

static void post_wish(struct virt *v, struct wcfg *cfg, bool attach, bool quit)
{
	pthread_mutex_lock(&v->lock);
	if (cfg) {
		wcfg_free(v->wish.cfg);
		v->wish.cfg = cfg;
	}
	v->wish.target = v->active;
	v->wish.attach = attach;
	v->wish.seq = v->seq;
	v->wish.quit = quit;
	v->wish_new = true;
	pthread_mutex_unlock(&v->lock);
	signal_fd(v->to_worker);
}

static bool needs_libvirt(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_target; i++)
		if (cfg->target[i].domain)
			return true;
	return false;
}

static int start_worker(struct virt *v)
{
	sigset_t all, old;
	sigfillset(&all);
	/* The worker takes no signal: the daemon's signalfd gets them all. */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&v->thread, NULL, worker_main, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	v->started = true;
	return 0;
}

struct virt *virt_create(const struct config *cfg, const struct virt_hooks *h)
{
	struct virt *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->cfg = cfg;
	v->h = *h;
	v->active = v->previous = -1;
	v->gen = 1;
	v->tail = &v->head;
	v->to_worker = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	v->to_main = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	struct wcfg *snap = wcfg_copy(cfg, v->gen);
	if (v->to_worker < 0 || v->to_main < 0 || !snap) {
		int e = errno ? errno : ENOMEM;
		wcfg_free(snap);
		if (v->to_worker >= 0)
			close(v->to_worker);
		if (v->to_main >= 0)
			close(v->to_main);
		free(v);
		errno = e;
		return NULL;
	}
	v->wish.cfg = snap;
	v->wish.target = -1;
	v->wish_new = true;
	/* Without any domain in the configuration libvirt stays unloaded until
	 * a reload brings one. */
	if (needs_libvirt(cfg)) {
		int rc = start_worker(v);
		if (rc < 0) {
			wcfg_free(snap);
			close(v->to_worker);
			close(v->to_main);
			free(v);
			errno = -rc;
			return NULL;
		}
	}
	return v;
}

void virt_destroy(struct virt *v, int timeout_ms)
{
	if (!v)
		return;
	bool joined = true;
	if (v->started) {
		v->active = -1;
		post_wish(v, NULL, false, true);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&v->lock);
		while (!v->done)
			if (pthread_cond_timedwait(&v->cond, &v->lock, &ts) == ETIMEDOUT)
				break;
		joined = v->done;
		pthread_mutex_unlock(&v->lock);
		if (joined) {
			pthread_join(v->thread, NULL);
		} else {
			log_warn("libvirt did not finish within %d ms: devices of usb targets may still be attached "
				 "to their domains (virsh detach-device gives them back)",
				 timeout_ms);
			pthread_detach(v->thread);
		}
	}
	if (!joined)
		return; /* the worker still uses v; the process is exiting */
	for (struct msg *m = v->head, *n; m; m = n) {
		n = m->next;
		free(m);
	}
	wcfg_free(v->wish.cfg);
	close(v->to_worker);
	close(v->to_main);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	free(v);
}

int virt_fd(const struct virt *v)
{
	return v->to_main;
}

void virt_dispatch(struct virt *v)
{
	drain_fd(v->to_main);
	pthread_mutex_lock(&v->lock);
	struct msg *list = v->head;
	v->head = NULL;
	v->tail = &v->head;
	pthread_mutex_unlock(&v->lock);
	for (struct msg *m = list, *next; m; m = next) {
		next = m->next;
		if (m->type == MSG_STATE && m->gen == v->gen && m->target >= 0 && (size_t)m->target < v->cfg->n_target) {
			int t = m->target;
			v->st[t].state = m->state;
			v->st[t].attached = m->attached;
			snprintf(v->st[t].text, sizeof(v->st[t].text), "%s", m->text);
			if (t == v->active && dstate_gone(m->state) && (v->cfg->target[t].follow & FOLLOW_STOP) &&
			    v->h.domain_gone) {
				/* A switch still waiting for its attach fails with the reason. */
				uint64_t ticket = v->ticket;
				v->ticket = 0;
				v->h.domain_gone(v->h.data, t, m->text);
				if (ticket && v->h.answer)
					v->h.answer(v->h.data, ticket, -EHOSTDOWN, m->text);
			}
		} else if (m->type == MSG_FOLLOW && m->gen == v->gen && m->target >= 0 &&
			   (size_t)m->target < v->cfg->n_target) {
			/* The worker reported the domain running before this. */
			if (m->target != v->active && v->h.domain_started)
				v->h.domain_started(v->h.data, m->target);
		} else if (m->type == MSG_TOPUP && m->gen == v->gen && m->target >= 0 &&
			   (size_t)m->target < v->cfg->n_target) {
			snprintf(v->st[m->target].error, sizeof(v->st[m->target].error), "%s", m->rc < 0 ? m->text : "");
		} else if (m->type == MSG_APPLIED && m->seq == v->seq) {
			uint64_t ticket = v->ticket;
			v->ticket = 0;
			v->attaching = false;
			bool usb = m->target == v->active && v->cfg->target[m->target].type == TARGET_USB;
			/* An evdev target stays active: its keyboard and mouse work. */
			if (m->target == v->active && !usb)
				snprintf(v->st[m->target].error, sizeof(v->st[m->target].error), "%s",
					 m->rc < 0 ? m->text : "");
			if (m->rc < 0 && usb && v->h.attach_failed)
				v->h.attach_failed(v->h.data, m->target, v->previous, m->text);
			if (ticket && v->h.answer)
				v->h.answer(v->h.data, ticket, m->rc, m->rc < 0 ? m->text : NULL);
		}
		free(m);
	}
}

bool virt_tick(struct virt *v)
{
	if (!v->waiting)
		return false;
	if (v->h.holding && v->h.holding(v->h.data, v->active))
		return true;
	v->waiting = false;
	post_wish(v, NULL, true, false);
	return false;
}

int virt_prepare(struct virt *v, int from, int to)
{
	if (to < 0 || (size_t)to >= v->cfg->n_target)
		return 0;
	const struct target_conf *tc = &v->cfg->target[to];
	if (!tc->domain)
		return 0;
	int s = v->st[to].state;
	if (dstate_gone(s) || (s == DS_NOCONN && tc->type == TARGET_USB)) {
		snprintf(v->refusal, sizeof(v->refusal), "%s", v->st[to].text);
		return s == DS_NOCONN ? -ENOTCONN : -EHOSTDOWN;
	}
	return 0;
}

const char *virt_refusal(const struct virt *v)
{
	return v->refusal[0] ? v->refusal : NULL;
}

/* The switch that waited for its attach did not end in it being active. */
static void supersede_ticket(struct virt *v, const char *why)
{
	if (!v->ticket)
		return;
	uint64_t t = v->ticket;
	v->ticket = 0;
	if (v->h.answer)
		v->h.answer(v->h.data, t, -ECANCELED, why);
}

void virt_switched(struct virt *v, int from, int to)
{
	supersede_ticket(v, "another switch came before its devices were attached");
	v->seq++;
	v->previous = from;
	v->active = to;
	bool ok = to >= 0 && (size_t)to < v->cfg->n_target;
	/* A usb target's switch waits for its attach; an evdev target's devices
	 * follow on their own, the switch never waits for them. */
	v->attaching = ok && v->cfg->target[to].type == TARGET_USB;
	v->waiting = ok && conf_moves(&v->cfg->target[to]);
	if (ok)
		v->st[to].error[0] = '\0';
	if (!v->started)
		return; /* nothing of libvirt in this configuration */
	post_wish(v, NULL, false, false);
	if (v->waiting)
		virt_tick(v);
}

bool virt_attaching(const struct virt *v)
{
	return v->attaching && v->started;
}

void virt_set_ticket(struct virt *v, uint64_t ticket)
{
	supersede_ticket(v, "another switch came before its devices were attached");
	v->ticket = ticket;
}

void virt_reconfigure(struct virt *v, const struct config *cfg, const int *map)
{
	supersede_ticket(v, "the configuration was reloaded before its devices were attached");
	v->active = v->active >= 0 ? map[v->active] : -1;
	v->previous = v->previous >= 0 ? map[v->previous] : -1;
	v->cfg = cfg;
	v->gen++;
	memset(v->st, 0, sizeof(v->st));
	v->refusal[0] = '\0';
	v->seq++;
	v->attaching = v->active >= 0 && cfg->target[v->active].type == TARGET_USB;
	v->waiting = v->active >= 0 && conf_moves(&cfg->target[v->active]);
	if (!v->started && needs_libvirt(cfg) && start_worker(v) < 0)
		log_error("cannot start the libvirt worker thread: %s", strerror(errno));
	struct wcfg *snap = wcfg_copy(cfg, v->gen);
	if (!snap) {
		log_error("libvirt: out of memory; keeping the previous configuration for libvirt");
		return;
	}
	post_wish(v, snap, false, false);
	if (v->waiting)
		virt_tick(v);
}

void virt_set_devices(struct virt *v, struct vdev *(*vd)[VK_COUNT], bool (*kept)[VK_COUNT])
{
	pthread_mutex_lock(&v->lock);
	struct wdevs *d = &v->wish.devs;
	memset(d, 0, sizeof(*d));
	for (size_t t = 0; t < v->cfg->n_target; t++)
		for (int k = 0; k < VK_COUNT; k++) {
			if (!vd[t][k])
				continue;
			snprintf(d->node[t][k], sizeof(d->node[t][k]), "%s", vdev_devnode(vd[t][k]));
			d->adopted[t][k] = vdev_adopted(vd[t][k]);
			d->kept[t][k] = kept[t][k];
		}
	v->wish.devs_new = true;
	v->wish_new = true;
	pthread_mutex_unlock(&v->lock);
	if (v->started)
		signal_fd(v->to_worker);
}

void virt_status_json(const struct virt *v, int target, struct json *j)
{
	const struct target_conf *tc = &v->cfg->target[target];
	if (!tc->domain)
		return;
	json_key(j, "domain");
	json_object_begin(j);
	json_key(j, "name");
	json_string(j, tc->domain);
	json_key(j, "uri");
	json_string(j, tc->uri ? tc->uri : CONFIG_DEFAULT_URI);
	json_key(j, "state");
	json_string(j, dstate_names[v->st[target].state]);
	if (v->st[target].text[0]) {
		json_key(j, "reason");
		json_string(j, v->st[target].text);
	}
	if (conf_moves(tc)) {
		json_key(j, "attached");
		json_uint(j, (uint64_t)v->st[target].attached);
	}
	if (v->st[target].error[0]) {
		json_key(j, "error");
		json_string(j, v->st[target].error);
	}
	json_object_end(j);
}

bool virt_moves(const struct config *cfg, int target, const struct device_desc *desc, const char *syspath)
{
	if (target < 0 || (size_t)target >= cfg->n_target)
		return false;
	const struct target_conf *tc = &cfg->target[target];
	char serial[128];
	int have_serial = -1; /* asked once, if an entry has a serial */
	for (size_t i = 0; i < tc->n_usb; i++) {
		if (desc->bustype != BUS_USB || desc->vendor != tc->usb[i].vendor || desc->product != tc->usb[i].product)
			continue;
		if (!tc->usb[i].serial[0])
			return true;
		if (have_serial < 0)
			have_serial = syspath && hostdevs_usb_serial_of(syspath, serial, sizeof(serial));
		if (have_serial && !strcmp(serial, tc->usb[i].serial))
			return true;
	}
	for (size_t i = 0; i < tc->n_pci && syspath; i++) {
		char a[32], pat[40];
		virtxml_pci_format(&tc->pci[i], a, sizeof(a));
		snprintf(pat, sizeof(pat), "/%s/", a);
		if (strstr(syspath, pat))
			return true;
	}
	return false;
}

/* ---- the mailbox: the worker's end ---- */

bool mailbox_take_wish(struct virt *v, struct wish *out)
{
	drain_fd(v->to_worker);
	pthread_mutex_lock(&v->lock);
	bool got = v->wish_new;
	if (got) {
		*out = v->wish;
		v->wish.cfg = NULL;
		v->wish_new = false;
		v->wish.devs_new = false;
	}
	pthread_mutex_unlock(&v->lock);
	return got;
}

void mailbox_post(struct virt *v, struct msg *m)
{
	m->next = NULL;
	pthread_mutex_lock(&v->lock);
	*v->tail = m;
	v->tail = &m->next;
	pthread_mutex_unlock(&v->lock);
	signal_fd(v->to_main);
}

void mailbox_worker_done(struct virt *v)
{
	pthread_mutex_lock(&v->lock);
	v->done = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}
