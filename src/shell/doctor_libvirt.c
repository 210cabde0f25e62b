/* kvmswitch doctor, libvirt: which domains name kvmswitch's VM devices in
 * their <input> elements (a read-only connection, every domain's XML read
 * with domxml.c), and whether the targets' domains exist and do. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor_internal.h"
#include "domxml.h"

#define MAX_INPUTS 32

static void quiet_errors(void *data, virErrorPtr e)
{
	(void)data;
	(void)e;
}

/* The guest device a domain's <input> source is, or NULL. */
static struct guest_dev *guest_named(struct doctor *d, const char *source)
{
	char real[PATH_MAX];
	bool resolved = realpath(source, real) != NULL;
	for (size_t i = 0; i < d->n_guest; i++) {
		struct guest_dev *g = &d->guest[i];
		if ((resolved && !strcmp(real, g->node)) || (g->link[0] && !strcmp(source, g->link)))
			return g;
	}
	return NULL;
}

/* One domain: what its inputs name. Returns how many of target t's devices
 * it names (t NULL: any target's). */
static size_t check_domain(struct doctor *d, const char *uri, virDomainPtr dom)
{
	const char *name = virDomainGetName(dom);
	char *xml = virDomainGetXMLDesc(dom, 0);
	struct domxml_input in[MAX_INPUTS];
	int n = xml ? domxml_parse_inputs(xml, in, MAX_INPUTS) : -1;
	free(xml);
	if (n < 0) {
		doctor_add(d, DOCTOR_WARN, "libvirt", "virsh -c URI dumpxml DOMAIN shows it",
			   "cannot read the XML of domain %s on %s", name, uri);
		return 0;
	}
	const char *state = virDomainIsActive(dom) == 1 ? "running" : "not running";
	char reads[512] = "";
	size_t named = 0;
	for (int i = 0; i < n && i < MAX_INPUTS; i++) {
		if (!in[i].source[0])
			continue;
		struct guest_dev *g = guest_named(d, in[i].source);
		if (!g) {
			if (strstr(in[i].source, "/kvmswitch-") && access(in[i].source, F_OK) < 0)
				doctor_add(d, DOCTOR_FAIL, "libvirt",
					   "kvmswitch's devices and their links exist while it runs, with its udev rules "
					   "installed: see the daemon and udev-rules lines",
					   "domain %s on %s names %s, which does not exist", name, uri, in[i].source);
			continue;
		}
		named++;
		snprintf(g->domain, sizeof(g->domain), "%s", name);
		g->domain_path = in[i].passthrough ? PATH_VIRTIO_INPUT_HOST : PATH_INPUT_LINUX;
		size_t off = strlen(reads);
		snprintf(reads + off, sizeof(reads) - off, "%s%s's %s (%s)", off ? ", " : "", g->target, g->kind,
			 in[i].passthrough ? "passthrough: virtio-input-host" : "evdev: input-linux");
		if (strncmp(in[i].source, "/dev/input/by-id/", 17) != 0) {
			char fix[256];
			snprintf(fix, sizeof(fix), "name %s instead (kvmswitch libvirt-xml %s)",
				 g->link[0] ? g->link : "/dev/input/by-id/kvmswitch-TARGET-KIND", g->target);
			doctor_add(d, DOCTOR_WARN, "libvirt", fix,
				   "domain %s on %s names %s, whose number changes when kvmswitch restarts", name, uri,
				   in[i].source);
		}
	}
	if (named)
		doctor_add(d, DOCTOR_OK, "libvirt", NULL, "domain %s (%s) on %s reads %s", name, state, uri, reads);
	return named;
}

/* Does the domain name one of target t's devices? (after check_domain) */
static bool domain_has_target(const struct doctor *d, const char *domain, const char *target)
{
	for (size_t i = 0; i < d->n_guest; i++)
		if (!strcmp(d->guest[i].target, target) && !strcmp(d->guest[i].domain, domain))
			return true;
	return false;
}

static void check_uri(struct doctor *d, const char *uri, bool configured)
{
	virConnectPtr c = virConnectOpenReadOnly(uri);
	if (!c) {
		const char *why = virGetLastErrorMessage();
		doctor_add(d, configured ? DOCTOR_FAIL : DOCTOR_WARN, "libvirt",
			   "is libvirtd running? sudo systemctl start libvirtd (or virtqemud.socket)",
			   "cannot connect to %s: %s", uri, why ? why : "unknown error");
		return;
	}
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(c, &doms, 0);
	for (int i = 0; i < n; i++)
		check_domain(d, uri, doms[i]);
	for (size_t t = 0; t < d->cfg->n_target; t++) {
		const struct target_conf *tc = &d->cfg->target[t];
		if (!tc->domain || !tc->uri || strcmp(tc->uri, uri) != 0)
			continue;
		virDomainPtr dom = virDomainLookupByName(c, tc->domain);
		if (!dom) {
			char fix[512];
			snprintf(fix, sizeof(fix), "correct domain = in [target %s]; virsh -c %s list --all names them",
				 tc->name, uri);
			doctor_add(d, DOCTOR_FAIL, "libvirt", fix, "target %s: no domain '%s' on %s", tc->name, tc->domain,
				   uri);
			continue;
		}
		if (tc->type == TARGET_EVDEV && !domain_has_target(d, tc->domain, tc->name)) {
			char fix[512];
			snprintf(fix, sizeof(fix), "virsh -c %s edit %s, and add what kvmswitch libvirt-xml %s prints inside "
				 "<devices>", uri, tc->domain, tc->name);
			doctor_add(d, DOCTOR_WARN, "libvirt", fix, "target %s: domain %s has no <input> for kvmswitch's "
				   "devices", tc->name, tc->domain);
		}
		virDomainFree(dom);
	}
	for (int i = 0; i < n; i++)
		virDomainFree(doms[i]);
	free(doms);
	virConnectClose(c);
}

void doctor_check_libvirt(struct doctor *d)
{
	const char *uris[CONFIG_MAX_TARGETS];
	size_t n = 0;
	for (size_t t = 0; t < d->cfg->n_target; t++) {
		const char *u = d->cfg->target[t].domain ? d->cfg->target[t].uri : NULL;
		bool seen = false;
		for (size_t i = 0; u && i < n; i++)
			seen |= !strcmp(uris[i], u);
		if (u && !seen)
			uris[n++] = u;
	}
	virSetErrorFunc(NULL, quiet_errors);
	for (size_t i = 0; i < n; i++)
		check_uri(d, uris[i], true);
	/* No target names a domain: look at the system's libvirt, if it runs. */
	if (!n && (access("/run/libvirt/libvirt-sock-ro", F_OK) == 0 ||
		   access("/run/libvirt/virtqemud-sock-ro", F_OK) == 0))
		check_uri(d, "qemu:///system", false);
}
