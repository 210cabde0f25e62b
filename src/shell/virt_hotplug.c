/* libvirt-hotplug (virt_internal.h): a running domain's QEMU gets the
 * target's virtual devices as input-linux objects through libvirt's QEMU
 * monitor passthrough (virDomainQemuMonitorCommand, libvirt-qemu), the
 * same objects and steps as `qmp = PATH` (hotadd.h). libvirt refuses to
 * hot-add <input type='evdev'> to a running domain; the passthrough is the
 * way around it, and libvirt marks the domain tainted (custom-monitor) for
 * it, which is why it is opt-in.
 *
 * Each run of the domain (virDomainGetID) gets them once; a restart gets
 * them again. A target that no longer wants them has them deleted; at exit,
 * those whose devices die with kvmswitch are deleted, those systemd keeps
 * stay. Runs on the worker thread. */
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virt_internal.h"

static struct hotplug *hp_find(struct worker *w, const struct wtarget *wt)
{
	for (size_t i = 0; i < sizeof(w->hp) / sizeof(w->hp[0]); i++)
		if (w->hp[i].used && !strcmp(w->hp[i].target, wt->name) &&
		    !strcmp(w->hp[i].domain, wt->domain) && !strcmp(w->hp[i].c->uri, wt->uri))
			return &w->hp[i];
	return NULL;
}

static struct hotplug *hp_new(struct worker *w, const struct wtarget *wt, struct wconn *c)
{
	for (size_t i = 0; i < sizeof(w->hp) / sizeof(w->hp[0]); i++) {
		struct hotplug *h = &w->hp[i];
		if (h->used)
			continue;
		memset(h, 0, sizeof(*h));
		h->used = true;
		h->c = c;
		h->domid = -1;
		snprintf(h->target, sizeof(h->target), "%s", wt->name);
		snprintf(h->domain, sizeof(h->domain), "%s", wt->domain);
		for (int k = 0; k < VK_COUNT; k++)
			h->obj[k].state = HA_REMOVED;
		return h;
	}
	return NULL;
}

/* Runs the object's steps to the end through the passthrough. */
static void run_steps(struct hotplug *h, virDomainPtr d, struct hotadd *o)
{
	if (hotadd_settled(o))
		return; /* nothing to do, nothing to say */
	for (int guard = 0; guard < 8 && !hotadd_settled(o); guard++) {
		char *cmd = hotadd_command(o, NULL), *result = NULL;
		if (!cmd)
			return;
		virResetLastError();
		int rc = virDomainQemuMonitorCommand(d, cmd, &result, 0);
		free(cmd);
		struct qmp_msg m;
		if (rc < 0) {
			/* libvirt's own error (the domain went, no passthrough). */
			memset(&m, 0, sizeof(m));
			m.kind = QMP_ERROR;
			snprintf(m.error, sizeof(m.error), "%s", conn_last_error());
		} else {
			qmp_msg_parse(result ? result : "", result ? strlen(result) : 0, &m);
		}
		free(result);
		hotadd_reply(o, &m);
	}
	if (o->state == HA_DONE)
		log_info("target '%s': domain '%s' reads its %s (%s, input-linux object %s, added through libvirt)",
			 h->target, h->domain, vkind_name(o->kind), o->node, o->id);
	else if (o->state == HA_FAILED)
		log_warn("target '%s': cannot add its %s to domain '%s' through libvirt: %s%s", h->target,
			 vkind_name(o->kind), h->domain, o->error,
			 strstr(o->error, "No such file") ? " (libvirt gives the domain's QEMU a /dev of its own, made "
							    "when it started: see docs/libvirt.md, libvirt-hotplug)"
			 : strstr(o->error, "ermission denied") ? " (the QEMU's user may not open it, or libvirt's "
								"cgroup or security driver forbids it: see "
								"docs/libvirt.md, libvirt-hotplug)"
								: "");
	else if (o->state == HA_REMOVED && o->error[0])
		log_warn("target '%s': domain '%s' did not delete %s: %s", h->target, h->domain, o->id, o->error);
}

/* The domain, if it runs: its id in *id. */
static virDomainPtr running(struct wconn *c, const char *domain, int *id)
{
	if (!conn_usable(c))
		return NULL;
	virResetLastError();
	virDomainPtr d = conn_lookup(c->conn, domain);
	int st = 0, reason = 0;
	if (!d || virDomainGetState(d, &st, &reason, 0) < 0 || conn_map_state(st) != DS_RUNNING) {
		if (d)
			virDomainFree(d);
		return NULL;
	}
	*id = (int)virDomainGetID(d);
	return d;
}

void hotplug_reconcile(struct virt *v)
{
	struct worker *w = &v->w;
	if (!w->hp_dirty)
		return;
	w->hp_dirty = false;
	/* Which entries the configuration wants, with which devices. */
	bool seen[sizeof(w->hp) / sizeof(w->hp[0])] = { false };
	for (size_t t = 0; w->cfg && !w->quit && t < w->cfg->n; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (!wt->libvirt_hotplug || !wt->domain)
			continue;
		struct wconn *c = conn_find(w, wt->uri);
		struct hotplug *h = hp_find(w, wt);
		if (!h && (!c || !(h = hp_new(w, wt, c))))
			continue;
		seen[h - w->hp] = true;
		for (int k = 0; k < VK_COUNT; k++) {
			const char *node = w->devs.node[t][k];
			struct hotadd *o = &h->obj[k];
			h->want[k] = node[0] != '\0';
			if (h->want[k] && (strcmp(o->node, node) != 0 || o->state == HA_REMOVED))
				hotadd_init(o, wt->name, (enum vkind)k, node, wt->toggle[0] ? wt->toggle : NULL,
					    w->devs.adopted[t][k]);
		}
		int id = -1;
		virDomainPtr d = running(h->c, h->domain, &id);
		if (!d) {
			h->domid = -1; /* the next run gets them */
			continue;
		}
		if (id != h->domid) {
			for (int k = 0; k < VK_COUNT; k++)
				if (h->want[k])
					hotadd_init(&h->obj[k], wt->name, (enum vkind)k, w->devs.node[t][k],
						    wt->toggle[0] ? wt->toggle : NULL, w->devs.adopted[t][k]);
			h->domid = id;
		}
		for (int k = 0; k < VK_COUNT; k++)
			if (h->want[k])
				run_steps(h, d, &h->obj[k]);
		virDomainFree(d);
	}
	/* What nobody wants any more (or all of it, at quit): deleted, but
	 * the objects of devices that outlive us (fd store) stay. */
	for (size_t i = 0; i < sizeof(w->hp) / sizeof(w->hp[0]); i++) {
		struct hotplug *h = &w->hp[i];
		if (!h->used || seen[i])
			continue;
		int id = -1;
		virDomainPtr d = running(h->c, h->domain, &id);
		if (d && id == h->domid) {
			int t = -1;
			for (size_t q = 0; w->cfg && q < w->cfg->n && t < 0; q++)
				if (!strcmp(w->cfg->t[q].name, h->target))
					t = (int)q;
			for (int k = 0; k < VK_COUNT; k++) {
				struct hotadd *o = &h->obj[k];
				if (o->state != HA_DONE || (w->quit && t >= 0 && w->devs.kept[t][k]))
					continue;
				hotadd_remove(o);
				run_steps(h, d, o);
			}
			log_info("target '%s': deleted its input-linux objects from domain '%s'", h->target, h->domain);
		}
		if (d)
			virDomainFree(d);
		h->used = false;
	}
}
