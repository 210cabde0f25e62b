/* The devices of usb targets, and of evdev targets that list usb/pci devices
 * (virt_internal.h): attaching them to the active target's domain, detaching
 * what it no longer wants (rolling back a failed attach), attaching what is
 * plugged in while the target is active, taking over what an earlier run
 * left attached, and giving USB devices back to the host's drivers. Runs on
 * the worker thread.
 *
 * The worker tracks every device it attached (or found attached live from
 * an earlier run), so that switching away, a failed attach (rolled back)
 * and exiting detach exactly those. */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/virtxml.h"
#include "domxml.h"
#include "hostdevs.h"
#include "log.h"
#include "virt_internal.h"

#define MAX_FOUND 32
#define REBIND_DELAY_MS 3000

/* A USB device left a domain: check in a moment that the host's drivers
 * have it again (attach_rebind). */
static void rebind_later(struct worker *w, const struct attachment *a)
{
	if (a->pci || !a->sysname[0] || w->n_rebind >= MAX_ATTACHED)
		return;
	memcpy(w->rebind[w->n_rebind++], a->sysname, sizeof(a->sysname));
	virEventUpdateTimeout(w->rebind_timer, REBIND_DELAY_MS);
}

/* Forgets what was attached to a domain whose QEMU is gone, and makes sure
 * the USB devices get their host drivers back. */
void attach_drop_domain(struct virt *v, struct wconn *c, const char *domain)
{
	struct worker *w = &v->w;
	for (size_t i = 0; i < w->n_att;) {
		struct attachment *a = &w->att[i];
		if (a->c != c || strcmp(a->domain, domain) != 0) {
			i++;
			continue;
		}
		rebind_later(w, a);
		log_info("target '%s': domain '%s' is gone, and with it its hold on %s", a->target, domain, a->what);
		w->att[i] = w->att[--w->n_att];
	}
}

static bool usb_listed(const struct wtarget *t, const struct usb_dev *d, const char *serial)
{
	for (size_t i = 0; i < t->n_usb; i++)
		if (t->usb[i].vendor == d->vendor && t->usb[i].product == d->product &&
		    (!t->usb[i].serial[0] || strcmp(t->usb[i].serial, serial) == 0))
			return true;
	return false;
}

static bool pci_listed(const struct wtarget *t, const struct pci_addr *a)
{
	for (size_t i = 0; i < t->n_pci; i++)
		if (!memcmp(&t->pci[i], a, sizeof(*a)))
			return true;
	return false;
}

static struct attachment *find_usb(struct worker *w, const struct usb_dev *d)
{
	for (size_t i = 0; i < w->n_att; i++)
		if (!w->att[i].pci && !w->att[i].unplugged && w->att[i].usb.bus == d->bus && w->att[i].usb.device == d->device)
			return &w->att[i];
	return NULL;
}

static struct attachment *find_pci(struct worker *w, const struct pci_addr *a)
{
	for (size_t i = 0; i < w->n_att; i++)
		if (w->att[i].pci && !memcmp(&w->att[i].addr, a, sizeof(*a)))
			return &w->att[i];
	return NULL;
}

static void usb_what(const struct usb_dev *d, char *buf, size_t len)
{
	snprintf(buf, len, "USB device %04x:%04x (bus %u device %u)", d->vendor, d->product, d->bus, d->device);
}

static void pci_what(const struct pci_addr *a, char *buf, size_t len)
{
	char s[32];
	virtxml_pci_format(a, s, sizeof(s));
	snprintf(buf, len, "PCI device %s", s);
}

/* Starts tracking a device for target t: a USB device (usb non-NULL) or a
 * PCI function. NULL if the table is full. */
static struct attachment *track(struct worker *w, const struct wtarget *t, struct wconn *c,
				const struct hostdev_usb *usb, const struct pci_addr *pci)
{
	if (w->n_att >= MAX_ATTACHED)
		return NULL;
	struct attachment *a = &w->att[w->n_att];
	memset(a, 0, sizeof(*a));
	int n;
	if (usb) {
		a->usb = usb->dev;
		snprintf(a->sysname, sizeof(a->sysname), "%s", usb->sysname);
		snprintf(a->serial, sizeof(a->serial), "%s", usb->serial);
		usb_what(&usb->dev, a->what, sizeof(a->what));
		n = virtxml_usb_hostdev(a->xml, sizeof(a->xml), &usb->dev);
	} else {
		a->pci = true;
		a->addr = *pci;
		pci_what(pci, a->what, sizeof(a->what));
		n = virtxml_pci_hostdev(a->xml, sizeof(a->xml), pci);
	}
	if (n < 0)
		return NULL;
	snprintf(a->target, sizeof(a->target), "%s", t->name);
	snprintf(a->domain, sizeof(a->domain), "%s", t->domain);
	a->c = c;
	w->n_att++;
	return a;
}

/* Is live hostdev h also in the domain's definition (inactive XML)? */
static bool in_definition(const struct domxml_hostdev *h, const struct domxml_hostdev *def, int n)
{
	for (int q = 0; q < n; q++) {
		if (def[q].pci != h->pci)
			continue;
		if (h->pci ? domxml_hostdev_is_pci(&def[q], &h->addr)
			   : def[q].has_address ? def[q].bus == h->bus && def[q].device == h->device
						: def[q].vendor == h->vendor && def[q].product == h->product)
			return true;
	}
	return false;
}

/* After (re)connecting: what is attached live to our usb targets' domains.
 * Devices we attached that are gone are forgotten; devices our targets list
 * that are attached live but not tracked (from a kvmswitch that died) are
 * taken over, so switching detaches them. */
void attach_sync(struct virt *v, struct wconn *c)
{
	struct worker *w = &v->w;
	for (size_t t = 0; w->cfg && t < w->cfg->n; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (!wtarget_moves(wt) || !wt->uri || strcmp(wt->uri, c->uri) != 0 || !conn_usable(c))
			continue;
		virDomainPtr d = conn_lookup(c->conn, wt->domain);
		if (!d)
			continue;
		int st = 0, reason = 0;
		char *live = NULL, *inactive = NULL;
		if (virDomainGetState(d, &st, &reason, 0) == 0 && conn_map_state(st) == DS_RUNNING)
			live = virDomainGetXMLDesc(d, 0);
		if (live && virDomainIsPersistent(d) == 1)
			inactive = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
		virDomainFree(d);
		if (!live)
			continue;
		struct domxml_hostdev hl[MAX_ATTACHED], hi[MAX_ATTACHED];
		int nl = domxml_parse_hostdevs(live, hl, MAX_ATTACHED);
		int ni = inactive ? domxml_parse_hostdevs(inactive, hi, MAX_ATTACHED) : 0;
		free(live);
		free(inactive);
		if (nl < 0 || ni < 0) {
			log_warn("libvirt: cannot read the devices of domain '%s'", wt->domain);
			continue;
		}
		nl = nl > MAX_ATTACHED ? MAX_ATTACHED : nl;
		ni = ni > MAX_ATTACHED ? MAX_ATTACHED : ni;
		/* Ours that are no longer there. */
		for (size_t i = 0; i < w->n_att;) {
			struct attachment *a = &w->att[i];
			bool there = false;
			for (int k = 0; k < nl && a->c == c && !strcmp(a->domain, wt->domain); k++)
				there |= a->pci ? domxml_hostdev_is_pci(&hl[k], &a->addr)
						: domxml_hostdev_is_usb(&hl[k], &a->usb);
			if (a->c == c && !strcmp(a->domain, wt->domain) && !there) {
				log_info("target '%s': %s is no longer attached to domain '%s'", a->target, a->what,
					 a->domain);
				w->att[i] = w->att[--w->n_att];
				continue;
			}
			i++;
		}
		/* Listed devices attached live, not by the domain's definition. */
		struct hostdev_usb found[MAX_FOUND];
		size_t nf = 0;
		for (size_t m = 0; m < wt->n_usb; m++)
			nf += hostdevs_find_usb(&wt->usb[m], found + nf, MAX_FOUND - nf);
		for (int k = 0; k < nl; k++) {
			bool persistent = in_definition(&hl[k], hi, ni);
			char what[96];
			if (hl[k].pci) {
				if (!pci_listed(wt, &hl[k].addr) || find_pci(w, &hl[k].addr))
					continue;
				pci_what(&hl[k].addr, what, sizeof(what));
				if (persistent) {
					log_warn("target '%s': domain '%s' lists %s in its definition: kvmswitch leaves it "
						 "there (remove it from the domain's XML to let kvmswitch move it)",
						 wt->name, wt->domain, what);
					continue;
				}
				if (track(w, wt, c, NULL, &hl[k].addr))
					log_info("target '%s': %s is attached to domain '%s' from before; kvmswitch takes "
						 "it over", wt->name, what, wt->domain);
				continue;
			}
			if (!hl[k].has_address)
				continue;
			const struct hostdev_usb *f = NULL;
			for (size_t q = 0; q < nf && !f; q++)
				if (found[q].dev.bus == hl[k].bus && found[q].dev.device == hl[k].device)
					f = &found[q];
			if (!f || find_usb(w, &f->dev))
				continue;
			usb_what(&f->dev, what, sizeof(what));
			if (persistent) {
				log_warn("target '%s': domain '%s' lists %s in its definition: kvmswitch leaves it there "
					 "(remove it from the domain's XML to let kvmswitch move it)",
					 wt->name, wt->domain, what);
				continue;
			}
			if (track(w, wt, c, f, NULL))
				log_info("target '%s': %s is attached to domain '%s' from before; kvmswitch takes it over",
					 wt->name, what, wt->domain);
		}
	}
}

/* Detaches one device. Returns 0 if it is no longer attached (detached, or
 * its domain or the device is gone), -1 if it still is. */
static int detach_one(struct virt *v, struct attachment *a)
{
	/* No reconnecting here: that may change the table a points into.
	 * work() connects first; without a connection this waits for it. */
	struct wconn *c = a->c;
	if (!conn_usable(c)) {
		log_error("target '%s': cannot detach %s from domain '%s' yet: %s", a->target, a->what, a->domain,
			  c->error[0] ? c->error : "no connection to libvirt");
		return -1;
	}
	virResetLastError();
	virDomainPtr d = conn_lookup(c->conn, a->domain);
	if (!d)
		return conn_last_code() == VIR_ERR_NO_DOMAIN ? 0 : -1;
	int rc = virDomainDetachDeviceFlags(d, a->xml, VIR_DOMAIN_AFFECT_LIVE);
	int code = conn_last_code();
	const char *msg = conn_last_error();
	int st = 0, reason = 0;
	bool running = virDomainGetState(d, &st, &reason, 0) == 0 && conn_map_state(st) == DS_RUNNING;
	virDomainFree(d);
	if (rc == 0) {
		log_info("target '%s': detached %s from domain '%s'", a->target, a->what, a->domain);
		return 0;
	}
	if (code == VIR_ERR_DEVICE_MISSING || strstr(msg, "not found")) {
		log_debug("target '%s': %s was no longer attached to '%s'", a->target, a->what, a->domain);
		return 0;
	}
	if (!running && st != VIR_DOMAIN_CRASHED)
		return 0;
	log_error("target '%s': cannot detach %s from domain '%s': %s%s", a->target, a->what, a->domain, msg,
		  st == VIR_DOMAIN_CRASHED ? " (the domain crashed: destroy it to free the device)" : "");
	return -1;
}

/* Detaches what this attach attached, newest first. */
static void rollback(struct virt *v, size_t first)
{
	struct worker *w = &v->w;
	while (w->n_att > first) {
		struct attachment *a = &w->att[w->n_att - 1];
		if (detach_one(v, a) < 0)
			log_error("target '%s': %s stays attached to domain '%s' after a failed switch; detach it "
				  "with virsh detach-device",
				  a->target, a->what, a->domain);
		rebind_later(w, a);
		w->n_att--;
	}
}

static void explain_attach(const char *what, const char *domain, const struct pci_addr *pci, char *out, size_t len)
{
	const char *m = conn_last_error();
	char hint[400] = "";
	if (pci)
		hostdevs_iommu_hint(pci, hint, sizeof(hint));
	else if (strstr(m, "in use"))
		snprintf(hint, sizeof(hint), " Another domain has it: detach it there first.");
	else if (strstr(m, "Permission denied") || strstr(m, "Operation not permitted"))
		snprintf(hint, sizeof(hint), " QEMU may not open the device node: check libvirt's qemu.conf "
					     "(user, cgroup_device_acl) and its security driver (AppArmor/SELinux).");
	snprintf(out, len, "cannot attach %s to domain '%s': %s.%s", what, domain, m, hint);
}

/* Tracks and live-attaches one USB device or controller: 0, or -ENOMEM or
 * -EIO with the reason in text (then it is not tracked). */
static int attach_one(struct worker *w, const struct wtarget *wt, struct wconn *c, virDomainPtr d,
		      const struct hostdev_usb *usb, const struct pci_addr *pci, const char *what, char *text, size_t len)
{
	struct attachment *a = track(w, wt, c, usb, pci);
	if (!a) {
		snprintf(text, len, "too many devices attached");
		return -ENOMEM;
	}
	virResetLastError();
	if (virDomainAttachDeviceFlags(d, a->xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		explain_attach(what, wt->domain, pci, text, len);
		w->n_att--; /* not attached */
		return -EIO;
	}
	return 0;
}

/* Attaches every device of target t: all USB devices matching each listed
 * id, then the PCI controllers. A usb target's ids must each match at least
 * one device (strict); an evdev target's devices that are not plugged in are
 * attached when they are. On failure, what this call attached is detached
 * again. Returns 0 or -errno with text. */
static int attach_target(struct virt *v, int t, char *text, size_t len)
{
	bool strict = v->w.cfg->t[t].type == TARGET_USB;
	struct worker *w = &v->w;
	const struct wtarget *wt = &w->cfg->t[t];
	struct wconn *c = conn_get(v, wt->uri);
	if (!c) {
		snprintf(text, len, "%s", conn_find(w, wt->uri) ? conn_find(w, wt->uri)->error : "out of memory");
		return -ENOTCONN;
	}
	virResetLastError();
	virDomainPtr d = conn_lookup(c->conn, wt->domain);
	if (!d) {
		conn_sync_states(v, c);
		snprintf(text, len, "%s", w->state_text[t][0] ? w->state_text[t] : conn_last_error());
		return -EHOSTDOWN;
	}
	int st = 0, reason = 0;
	if (virDomainGetState(d, &st, &reason, 0) < 0 || conn_map_state(st) != DS_RUNNING) {
		virDomainFree(d);
		conn_sync_states(v, c);
		snprintf(text, len, "domain '%s' is not running (start it: virsh -c %s start %s)", wt->domain, wt->uri,
			 wt->domain);
		return -EHOSTDOWN;
	}

	struct hostdev_usb found[MAX_FOUND];
	size_t nf = 0;
	for (size_t m = 0; m < wt->n_usb; m++) {
		size_t n = hostdevs_find_usb(&wt->usb[m], found + nf, MAX_FOUND - nf);
		if (n == 0 && !strict) {
			log_info("target '%s': USB device %04x:%04x%s%s is not plugged in; it is attached when it is",
				 wt->name, wt->usb[m].vendor, wt->usb[m].product, wt->usb[m].serial[0] ? " with serial " : "",
				 wt->usb[m].serial);
			continue;
		}
		if (n == 0) {
			virDomainFree(d);
			snprintf(text, len,
				 "USB device %04x:%04x%s%s is not plugged in to this host (lsusb -d %04x:%04x lists it "
				 "when it is)",
				 wt->usb[m].vendor, wt->usb[m].product, wt->usb[m].serial[0] ? " with serial " : "",
				 wt->usb[m].serial, wt->usb[m].vendor, wt->usb[m].product);
			return -ENODEV;
		}
		/* A device matching two entries moves once. */
		for (size_t i = nf; i < nf + n; i++) {
			bool dup = false;
			for (size_t j = 0; j < nf; j++)
				dup |= found[j].dev.bus == found[i].dev.bus && found[j].dev.device == found[i].dev.device;
			if (dup)
				found[i].dev.bus = 0;
		}
		nf += n;
	}

	size_t first = w->n_att;
	int rc = 0;
	unsigned n_usb = 0, n_pci = 0;
	for (size_t i = 0; i < nf && rc == 0; i++) {
		const struct hostdev_usb *f = &found[i];
		if (f->dev.bus == 0)
			continue;
		struct attachment *old = find_usb(w, &f->dev);
		if (old && !strcmp(old->target, wt->name) && old->c == c && !strcmp(old->domain, wt->domain))
			continue; /* already there */
		char what[96];
		usb_what(&f->dev, what, sizeof(what));
		if (old) {
			snprintf(text, len, "%s is still attached to domain '%s' for target '%s'", what, old->domain,
				 old->target);
			rc = -EBUSY;
			break;
		}
		rc = attach_one(w, wt, c, d, f, NULL, what, text, len);
		n_usb += rc == 0;
	}
	for (size_t i = 0; i < wt->n_pci && rc == 0; i++) {
		const struct pci_addr *pa = &wt->pci[i];
		char what[96], cls[32];
		pci_what(pa, what, sizeof(what));
		struct attachment *old = find_pci(w, pa);
		if (old && !strcmp(old->target, wt->name) && old->c == c && !strcmp(old->domain, wt->domain))
			continue;
		if (old) {
			snprintf(text, len, "%s is still attached to domain '%s' for target '%s'", what, old->domain,
				 old->target);
			rc = -EBUSY;
			break;
		}
		if (hostdevs_find_pci(pa, cls, sizeof(cls)) < 0) {
			snprintf(text, len, "there is no %s on this host (lspci -D lists them)", what);
			rc = -ENODEV;
			break;
		}
		if (cls[0] && strncmp(cls, "0x0c03", 6) != 0)
			log_warn("target '%s': %s is not a USB controller (class %s); attaching it anyway", wt->name, what,
				 cls);
		rc = attach_one(w, wt, c, d, NULL, pa, what, text, len);
		n_pci += rc == 0;
	}
	virDomainFree(d);
	if (rc < 0) {
		rollback(v, first);
		return rc;
	}
	log_info("target '%s': attached %u USB device%s and %u controller%s to domain '%s'", wt->name, n_usb,
		 n_usb == 1 ? "" : "s", n_pci, n_pci == 1 ? "" : "s", wt->domain);
	return 0;
}

/* Is attachment a wanted where it is: by the active target, still listed,
 * still plugged in? */
static bool wanted(const struct worker *w, const struct attachment *a)
{
	if (w->quit || !w->cfg || w->target < 0 || (size_t)w->target >= w->cfg->n || a->unplugged)
		return false;
	const struct wtarget *t = &w->cfg->t[w->target];
	if (!wtarget_moves(t) || strcmp(t->name, a->target) != 0 || strcmp(t->domain, a->domain) != 0 ||
	    strcmp(t->uri, a->c->uri) != 0)
		return false;
	return a->pci ? pci_listed(t, &a->addr) : usb_listed(t, &a->usb, a->serial);
}

static void attach_topup(struct virt *v, int t);

void attach_reconcile(struct virt *v)
{
	struct worker *w = &v->w;
	for (size_t i = w->n_att; i-- > 0;) {
		struct attachment *a = &w->att[i];
		if (wanted(w, a))
			continue;
		if (detach_one(v, a) < 0)
			continue; /* tried again on the next change */
		if (a->unplugged)
			log_info("target '%s': %s was unplugged while attached to domain '%s'", a->target, a->what,
				 a->domain);
		else
			rebind_later(w, a);
		w->att[i] = w->att[--w->n_att];
	}
	int t = w->target;
	if (w->quit || !w->cfg || t < 0 || (size_t)t >= w->cfg->n || !wtarget_moves(&w->cfg->t[t]) || !w->attach)
		return;
	if (w->applied_seq == w->seq) {
		if (w->topup)
			attach_topup(v, t);
		w->topup = false;
		return;
	}
	w->topup = false;
	w->applied_seq = w->seq;
	struct msg *m = calloc(1, sizeof(*m));
	if (!m)
		return;
	m->type = MSG_APPLIED;
	m->seq = w->seq;
	m->target = t;
	m->rc = attach_target(v, t, m->text, sizeof(m->text));
	if (m->rc < 0)
		log_debug("target '%s': attach failed: %s", w->cfg->t[t].name, m->text);
	mailbox_post(v, m);
}

/* What target t (active, its devices attached once) lists and lacks now: a
 * device plugged in since, or all of them again after its domain restarted.
 * Each is attached on its own; a failure is reported, nothing is rolled
 * back and the target stays active. */
static void attach_topup(struct virt *v, int t)
{
	struct worker *w = &v->w;
	const struct wtarget *wt = &w->cfg->t[t];
	struct wconn *c = conn_find(w, wt->uri);
	if (!c || !conn_usable(c))
		return; /* reconnecting tops up again */
	struct hostdev_usb found[MAX_FOUND];
	size_t nf = 0;
	for (size_t m = 0; m < wt->n_usb; m++)
		nf += hostdevs_find_usb(&wt->usb[m], found + nf, MAX_FOUND - nf);
	size_t missing = 0;
	char cls[32];
	for (size_t i = 0; i < nf; i++)
		missing += !find_usb(w, &found[i].dev);
	for (size_t i = 0; i < wt->n_pci; i++)
		missing += !find_pci(w, &wt->pci[i]) && hostdevs_find_pci(&wt->pci[i], cls, sizeof(cls)) == 0;
	if (!missing)
		return;
	virResetLastError();
	virDomainPtr d = conn_lookup(c->conn, wt->domain);
	int st = 0, reason = 0;
	if (!d || virDomainGetState(d, &st, &reason, 0) < 0 || conn_map_state(st) != DS_RUNNING) {
		if (d)
			virDomainFree(d);
		return; /* its start tops up */
	}
	struct msg *m = calloc(1, sizeof(*m));
	if (!m) {
		virDomainFree(d);
		return;
	}
	unsigned n = 0;
	for (size_t i = 0; i < nf; i++) {
		char what[96], text[TEXT_MAX];
		if (find_usb(w, &found[i].dev))
			continue;
		usb_what(&found[i].dev, what, sizeof(what));
		if (attach_one(w, wt, c, d, &found[i], NULL, what, text, sizeof(text)) < 0) {
			log_error("target '%s': %s", wt->name, text);
			m->rc = -EIO;
			snprintf(m->text, sizeof(m->text), "%s", text);
			continue;
		}
		log_info("target '%s': attached %s, plugged in while the target is active, to domain '%s'", wt->name,
			 what, wt->domain);
		n++;
	}
	for (size_t i = 0; i < wt->n_pci; i++) {
		char what[96], text[TEXT_MAX];
		if (find_pci(w, &wt->pci[i]) || hostdevs_find_pci(&wt->pci[i], cls, sizeof(cls)) < 0)
			continue;
		pci_what(&wt->pci[i], what, sizeof(what));
		if (attach_one(w, wt, c, d, NULL, &wt->pci[i], what, text, sizeof(text)) < 0) {
			log_error("target '%s': %s", wt->name, text);
			m->rc = -EIO;
			snprintf(m->text, sizeof(m->text), "%s", text);
			continue;
		}
		log_info("target '%s': attached %s to domain '%s'", wt->name, what, wt->domain);
		n++;
	}
	virDomainFree(d);
	m->type = MSG_TOPUP;
	m->gen = w->cfg->gen;
	m->target = t;
	mailbox_post(v, m);
}

void attach_hotplug(struct virt *v, const struct hostdev_event *ev)
{
	struct worker *w = &v->w;
	if (!ev->added) {
		/* Unplugged: what is left of it in the domain is detached (the
		 * device may come back with another address). */
		for (size_t i = 0; i < w->n_att; i++)
			if (!w->att[i].pci && w->att[i].usb.bus == ev->dev.dev.bus &&
			    w->att[i].usb.device == ev->dev.dev.device && !strcmp(w->att[i].sysname, ev->dev.sysname)) {
				w->att[i].unplugged = true;
				worker_kick(v);
			}
		return;
	}
	int t = w->target;
	if (!w->cfg || t < 0 || (size_t)t >= w->cfg->n || !wtarget_moves(&w->cfg->t[t]) ||
	    !usb_listed(&w->cfg->t[t], &ev->dev.dev, ev->dev.serial))
		return;
	log_debug("target '%s': USB device %04x:%04x plugged in (%s)", w->cfg->t[t].name, ev->dev.dev.vendor,
		  ev->dev.dev.product, ev->dev.sysname);
	w->topup = true;
	worker_kick(v);
}

void attach_rebind(struct worker *w)
{
	for (size_t i = 0; i < w->n_rebind; i++) {
		int n = hostdevs_usb_rebind(w->rebind[i]);
		if (n > 0)
			log_info("USB device %s: asked the kernel to bind host drivers to %d interface%s again",
				 w->rebind[i], n, n == 1 ? "" : "s");
	}
	w->n_rebind = 0;
}
