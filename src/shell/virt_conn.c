/* The libvirt worker's connections (virt_internal.h): one per URI the
 * configuration names, (re)connected with backoff when libvirt is away or
 * restarts (close callback, keepalive), with a lifecycle callback that makes
 * the worker ask the domains' states again. Runs on the worker thread. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virt_internal.h"

#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000

const char *conn_last_error(void)
{
	const char *m = virGetLastErrorMessage();
	return m ? m : "unknown error";
}

int conn_last_code(void)
{
	virErrorPtr e = virGetLastError();
	return e ? e->code : VIR_ERR_OK;
}

static void explain_connect(const char *uri, char *out, size_t len)
{
	const char *m = conn_last_error();
	if (strstr(m, "Permission denied") || strstr(m, "authentication") || strstr(m, "authorization") ||
	    strstr(m, "polkit") || strstr(m, "not authorized") || strstr(m, "access denied"))
		snprintf(out, len,
			 "cannot connect to %s: %s. This user may not manage libvirt's system domains: add it to "
			 "the 'libvirt' group (usermod -aG libvirt USER, then log in again; polkit grants that group "
			 "org.libvirt.unix.manage), or write a polkit rule for it; a user's own VMs are at "
			 "qemu:///session",
			 uri, m);
	else if (strstr(m, "No such file") || strstr(m, "Connection refused") || strstr(m, "Failed to connect socket"))
		snprintf(out, len, "cannot connect to %s: %s. Is libvirtd (or virtqemud) running? (systemctl start libvirtd)",
			 uri, m);
	else
		snprintf(out, len, "cannot connect to %s: %s", uri, m);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct wconn *c = opaque;
	static const char *const why[] = { "an error", "the end of the connection", "keepalive timeout", "the client" };
	log_warn("libvirt: lost the connection to %s (%s); reconnecting", c->uri,
		 reason >= 0 && reason <= 3 ? why[reason] : "unknown");
	c->closed = true;
	c->retry_at = 0;
	worker_kick(c->v);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct wconn *c = opaque;
	static const char *const names[] = { "defined",  "undefined", "started",   "suspended", "resumed",
					     "stopped",  "shut down", "pm-suspended", "crashed" };
	log_debug("libvirt: %s: domain '%s' %s (detail %d)", c->uri, virDomainGetName(dom),
		  event >= 0 && event < (int)(sizeof(names) / sizeof(names[0])) ? names[event] : "event", detail);
	c->resync = true;
	c->v->w.hp_dirty = true;
	if (event == VIR_DOMAIN_EVENT_STARTED)
		follow_started(c->v, c, dom);
	worker_kick(c->v);
	return 0;
}

virDomainPtr conn_lookup(virConnectPtr conn, const char *domain)
{
	virDomainPtr d = virDomainLookupByName(conn, domain);
	if (!d && conn_last_code() == VIR_ERR_NO_DOMAIN && strlen(domain) == VIR_UUID_STRING_BUFLEN - 1) {
		virDomainPtr u = virDomainLookupByUUIDString(conn, domain);
		if (u)
			return u;
		/* keep the name lookup's error */
		virDomainLookupByName(conn, domain);
	}
	return d;
}

bool conn_usable(const struct wconn *c)
{
	return c->conn && !c->closed;
}

void conn_drop(struct wconn *c)
{
	if (!c->conn)
		return;
	/* Deregistering events is an RPC: not on a connection that is gone. */
	if (!c->closed && c->lifecycle_id >= 0)
		virConnectDomainEventDeregisterAny(c->conn, c->lifecycle_id);
	virConnectUnregisterCloseCallback(c->conn, on_close); /* local; drops its reference */
	virConnectClose(c->conn);
	c->conn = NULL;
	c->lifecycle_id = -1;
}

struct wconn *conn_find(struct worker *w, const char *uri)
{
	for (size_t i = 0; i < w->n_conn; i++)
		if (strcmp(w->conn[i].uri, uri) == 0)
			return &w->conn[i];
	return NULL;
}

struct wconn *conn_get(struct virt *v, const char *uri)
{
	struct worker *w = &v->w;
	struct wconn *c = conn_find(w, uri);
	if (!c) {
		if (w->n_conn >= CONFIG_MAX_TARGETS || !(w->conn[w->n_conn].uri = strdup(uri)))
			return NULL;
		c = &w->conn[w->n_conn++];
		c->v = v;
		c->lifecycle_id = -1;
	}
	if (conn_usable(c))
		return c;
	if (c->conn) {
		conn_drop(c);
		c->closed = false;
	}
	uint64_t now = monotime_ms();
	if (now < c->retry_at)
		return NULL;
	virResetLastError();
	virConnectPtr conn = virConnectOpen(uri);
	if (!conn) {
		char err[TEXT_MAX];
		explain_connect(uri, err, sizeof(err));
		if (strcmp(err, c->error) != 0)
			log_warn("libvirt: %s", err);
		snprintf(c->error, sizeof(c->error), "%s", err);
		c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RETRY_MIN_MS;
		if (c->backoff_ms > RETRY_MAX_MS)
			c->backoff_ms = RETRY_MAX_MS;
		c->retry_at = now + (uint64_t)c->backoff_ms;
		for (size_t t = 0; w->cfg && t < w->cfg->n; t++)
			if (w->cfg->t[t].uri && strcmp(w->cfg->t[t].uri, uri) == 0)
				worker_set_state(w, (int)t, DS_NOCONN, "%s", err);
		return NULL;
	}
	c->conn = conn;
	c->closed = false;
	c->backoff_ms = 0;
	c->retry_at = 0;
	c->error[0] = '\0';
	if (virConnectRegisterCloseCallback(conn, on_close, c, NULL) < 0)
		log_warn("libvirt: %s: no close callback (%s); a libvirtd restart may go unnoticed", uri,
			 conn_last_error());
	c->lifecycle_id = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), c, NULL);
	if (c->lifecycle_id < 0)
		log_warn("libvirt: %s: no domain events (%s); domains stopping go unnoticed", uri, conn_last_error());
	/* Notices a libvirtd that hangs, not only one that exits. */
	virConnectSetKeepAlive(conn, 5, 3);
	log_info("libvirt: connected to %s", uri);
	conn_sync_states(v, c);
	attach_sync(v, c);
	return c;
}

int conn_map_state(int s)
{
	switch (s) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED:
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_SHUTDOWN: /* being shut down: still has its devices */
	case VIR_DOMAIN_PMSUSPENDED:
		return DS_RUNNING;
	case VIR_DOMAIN_CRASHED:
		return DS_CRASHED;
	default:
		return DS_STOPPED;
	}
}

void conn_sync_states(struct virt *v, struct wconn *c)
{
	struct worker *w = &v->w;
	c->resync = false;
	for (size_t t = 0; w->cfg && t < w->cfg->n; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (!wt->uri || strcmp(wt->uri, c->uri) != 0 || !conn_usable(c))
			continue;
		virResetLastError();
		virDomainPtr d = conn_lookup(c->conn, wt->domain);
		int s;
		if (!d) {
			if (conn_last_code() != VIR_ERR_NO_DOMAIN) {
				worker_set_state(w, (int)t, DS_NOCONN, "libvirt at %s: %s", c->uri, conn_last_error());
				continue;
			}
			worker_set_state(w, (int)t, DS_MISSING,
					 "no domain '%s' at %s (virsh -c %s list --all lists them; qemu:///system and "
					 "qemu:///session have separate domains)",
					 wt->domain, c->uri, c->uri);
			s = DS_MISSING;
		} else {
			int st = 0, reason = 0;
			if (virDomainGetState(d, &st, &reason, 0) < 0) {
				worker_set_state(w, (int)t, DS_NOCONN, "libvirt at %s: %s", c->uri, conn_last_error());
				virDomainFree(d);
				continue;
			}
			virDomainFree(d);
			s = conn_map_state(st);
			/* A domain that (re)starts, or is found running again, gets
			 * what its active target lists (attach_reconcile). */
			if (s == DS_RUNNING && w->state[t] != DS_RUNNING)
				w->topup = true;
			if (s != w->state[t])
				w->hp_dirty = true; /* libvirt-hotplug: a run to give the devices */
			if (s == DS_RUNNING)
				worker_set_state(w, (int)t, s, "%s", "");
			else if (s == DS_CRASHED)
				worker_set_state(w, (int)t, s, "domain '%s' crashed", wt->domain);
			else
				worker_set_state(w, (int)t, s, "domain '%s' is not running (start it: virsh -c %s start "
						 "%s)", wt->domain, c->uri, wt->domain);
		}
		if (s == DS_STOPPED || s == DS_MISSING)
			attach_drop_domain(v, c, wt->domain);
	}
}
