/* follow = start (virt_internal.h): when a target's domain starts, the
 * target becomes active, but only once the domain's QEMU holds the target's
 * keyboard node (holders.c), so that no keystroke goes into a VM that cannot
 * read it yet. A usb target needs nothing of the QEMU: its devices are
 * attached after the switch. Runs on the worker thread; the daemon switches
 * (MSG_FOLLOW, virt_hooks.domain_started). */
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "holders.h"
#include "log.h"
#include "virt_internal.h"

/* How long a started domain's QEMU has to take the keyboard (QEMU opens
 * input-linux objects of its command line before the domain runs; those
 * that libvirt-hotplug or qmp add come a moment later). */
#define FOLLOW_WAIT_MS 60000
#define FOLLOW_POLL_MS 250

void follow_started(struct virt *v, struct wconn *c, virDomainPtr dom)
{
	struct worker *w = &v->w;
	const char *name = virDomainGetName(dom);
	char uuid[VIR_UUID_STRING_BUFLEN] = "";
	virDomainGetUUIDString(dom, uuid);
	for (size_t t = 0; w->cfg && t < w->cfg->n; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (!wt->domain || !(wt->follow & FOLLOW_START) || strcmp(wt->uri, c->uri) != 0 ||
		    (strcmp(wt->domain, name ? name : "") != 0 && strcasecmp(wt->domain, uuid) != 0))
			continue;
		w->follow_until[t] = monotime_ms() + FOLLOW_WAIT_MS;
		log_debug("target '%s': domain '%s' started; following it once its QEMU reads the target's devices",
			  wt->name, wt->domain);
	}
}

static void post_follow(struct virt *v, int t)
{
	struct msg *m = calloc(1, sizeof(*m));
	if (!m)
		return;
	m->type = MSG_FOLLOW;
	m->gen = v->w.cfg->gen;
	m->target = t;
	mailbox_post(v, m);
}

uint64_t follow_check(struct virt *v)
{
	struct worker *w = &v->w;
	uint64_t now = monotime_ms(), next = UINT64_MAX;
	for (size_t t = 0; w->cfg && t < w->cfg->n; t++) {
		if (!w->follow_until[t])
			continue;
		const struct wtarget *wt = &w->cfg->t[t];
		if (w->state[t] != DS_RUNNING) {
			/* Not known to run yet (the state comes with the next
			 * sync), or it stopped again. */
			if (dstate_gone(w->state[t]) || now >= w->follow_until[t])
				w->follow_until[t] = 0;
			else if (now + FOLLOW_POLL_MS < next)
				next = now + FOLLOW_POLL_MS;
			continue;
		}
		const char *node = w->devs.node[t][VK_KEYBOARD];
		enum holders_answer a = wt->type == TARGET_USB ? HOLDERS_YES
				       : node[0]                ? holders_domain_holds(wt->domain, node)
								: HOLDERS_NO;
		if (a == HOLDERS_YES) {
			w->follow_until[t] = 0;
			log_info("target '%s': domain '%s' started%s: following it", wt->name, wt->domain,
				 wt->type == TARGET_USB ? "" : " and its QEMU reads the target's keyboard");
			post_follow(v, (int)t);
		} else if (a == HOLDERS_UNKNOWN) {
			w->follow_until[t] = 0;
			log_warn("target '%s': domain '%s' started, but kvmswitch may not look at its QEMU's open files "
				 "(/proc/PID/fd of another user): not following it, as it cannot tell whether the QEMU "
				 "reads %s (run kvmswitch as root or as the QEMU's user)",
				 wt->name, wt->domain, node);
		} else if (now >= w->follow_until[t]) {
			w->follow_until[t] = 0;
			log_warn("target '%s': domain '%s' started, but its QEMU does not read the target's keyboard %s "
				 "after %d s: not following it (give the domain kvmswitch's devices: kvmswitch "
				 "libvirt-xml %s, or libvirt-hotplug = yes)",
				 wt->name, wt->domain, node[0] ? node : "(none)", FOLLOW_WAIT_MS / 1000, wt->name);
		} else if (now + FOLLOW_POLL_MS < next) {
			next = now + FOLLOW_POLL_MS;
		}
	}
	return next;
}
