/* kvmswitch doctor, the devices: kvmswitch's own VM devices (who may read
 * them, which process holds them) through libudev and /proc/PID/fd, and
 * the physical devices it takes, grouped by the physical device they
 * belong to (udev's parents), with what a guest loses of each on QEMU's
 * input-linux path (libevdev's capabilities, core/inputpath.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libevdev/libevdev.h>
#include <libudev.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/inputpath.h"
#include "core/match.h"
#include "discover.h"
#include "doctor_internal.h"

#define RULES_FIX "install 71-kvmswitch.rules (kvmswitch doctor's udev-rules line says how)"
#define RULES_FIX_IF "the host's desktop holds it, " RULES_FIX

/* ---- kvmswitch's VM devices ---- */

static const char *attr(struct udev_device *d, const char *name)
{
	const char *v = d ? udev_device_get_sysattr_value(d, name) : NULL;
	return v ? v : "";
}

static void add_guest(struct doctor *d, struct udev_device *ud)
{
	struct udev_device *input = udev_device_get_parent_with_subsystem_devtype(ud, "input", NULL);
	const char *node = udev_device_get_devnode(ud);
	char target[TARGET_NAME_MAX], kind[16];
	if (!node || strcmp(attr(input, "phys"), "kvmswitch/vm") != 0 || d->n_guest >= DOCTOR_MAX_GUESTS ||
	    sscanf(attr(input, "name"), "kvmswitch %31s %15s", target, kind) != 2)
		return;
	struct guest_dev *g = &d->guest[d->n_guest++];
	memset(g, 0, sizeof(*g));
	snprintf(g->target, sizeof(g->target), "%s", target);
	snprintf(g->kind, sizeof(g->kind), "%s", kind);
	snprintf(g->node, sizeof(g->node), "%s", node);
	g->rdev = udev_device_get_devnum(ud);
	const char *ignore = udev_device_get_property_value(ud, "LIBINPUT_IGNORE_DEVICE");
	g->rules_applied = ignore && !strcmp(ignore, "1");
	struct udev_list_entry *e;
	udev_list_entry_foreach(e, udev_device_get_devlinks_list_entry(ud))
	{
		if (!strncmp(udev_list_entry_get_name(e), "/dev/input/by-id/kvmswitch-", 27))
			snprintf(g->link, sizeof(g->link), "%s", udev_list_entry_get_name(e));
	}
}

/* How a process reads a node, from its command line: the argument that
 * names the node (or its link) says input-linux or virtio-input-host. */
static enum guest_path path_from_cmdline(pid_t pid, const struct guest_dev *g)
{
	char file[64], buf[16384];
	snprintf(file, sizeof(file), "/proc/%d/cmdline", (int)pid);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PATH_UNKNOWN;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return PATH_UNKNOWN;
	buf[n] = '\0';
	for (char *arg = buf; arg < buf + n; arg += strlen(arg) + 1) {
		if (!strstr(arg, g->node) && !(g->link[0] && strstr(arg, g->link)))
			continue;
		if (strstr(arg, "virtio-input-host"))
			return PATH_VIRTIO_INPUT_HOST;
		if (strstr(arg, "input-linux"))
			return PATH_INPUT_LINUX;
	}
	return PATH_UNKNOWN;
}

static void add_holder(struct guest_dev *g, pid_t pid)
{
	for (size_t i = 0; i < g->n_holder; i++)
		if (g->holder[i].pid == pid)
			return;
	if (g->n_holder >= DOCTOR_MAX_HOLDERS)
		return;
	struct holder *h = &g->holder[g->n_holder++];
	h->pid = pid;
	char file[64];
	snprintf(file, sizeof(file), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(file, "re");
	if (!f || !fgets(h->comm, sizeof(h->comm), f))
		snprintf(h->comm, sizeof(h->comm), "?");
	if (f)
		fclose(f);
	h->comm[strcspn(h->comm, "\n")] = '\0';
	h->path = path_from_cmdline(pid, g);
}

/* Which processes have a guest node open: every /proc/PID/fd we may look
 * into (our own user's, or all as root). */
static void find_holders(struct doctor *d)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return;
	for (struct dirent *p; (p = readdir(proc));) {
		if (!isdigit((unsigned char)p->d_name[0]) || atoi(p->d_name) == getpid())
			continue;
		char dir[300];
		snprintf(dir, sizeof(dir), "/proc/%s/fd", p->d_name);
		DIR *fds = opendir(dir);
		if (!fds) {
			d->hidden_procs += errno == EACCES;
			continue;
		}
		for (struct dirent *f; (f = readdir(fds));) {
			struct stat st;
			if (f->d_name[0] == '.' || fstatat(dirfd(fds), f->d_name, &st, 0) < 0 || !S_ISCHR(st.st_mode))
				continue;
			for (size_t i = 0; i < d->n_guest; i++)
				if (st.st_rdev == d->guest[i].rdev)
					add_holder(&d->guest[i], (pid_t)atoi(p->d_name));
		}
		closedir(fds);
	}
	closedir(proc);
}

void doctor_find_guests(struct doctor *d)
{
	struct udev *u = udev_new();
	struct udev_enumerate *en = u ? udev_enumerate_new(u) : NULL;
	if (en && udev_enumerate_add_match_subsystem(en, "input") >= 0 &&
	    udev_enumerate_add_match_sysname(en, "event*") >= 0 && udev_enumerate_scan_devices(en) >= 0) {
		struct udev_list_entry *e;
		udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en))
		{
			struct udev_device *ud = udev_device_new_from_syspath(u, udev_list_entry_get_name(e));
			if (ud)
				add_guest(d, ud);
			udev_device_unref(ud);
		}
	}
	udev_enumerate_unref(en);
	udev_unref(u);
	find_holders(d);
}

static const char *path_name(enum guest_path p)
{
	return p == PATH_INPUT_LINUX ? "input-linux" : p == PATH_VIRTIO_INPUT_HOST ? "virtio-input-host" : NULL;
}

enum guest_path doctor_target_path(const struct doctor *d, const struct target_conf *t)
{
	enum guest_path domain = PATH_UNKNOWN;
	for (size_t i = 0; i < d->n_guest; i++) {
		const struct guest_dev *g = &d->guest[i];
		if (strcmp(g->target, t->name) != 0)
			continue;
		for (size_t h = 0; h < g->n_holder; h++)
			if (g->holder[h].path != PATH_UNKNOWN)
				return g->holder[h].path;
		if (g->domain_path != PATH_UNKNOWN)
			domain = g->domain_path;
	}
	if (domain != PATH_UNKNOWN)
		return domain;
	return t->libvirt_input == LIBVIRT_INPUT_PASSTHROUGH ? PATH_VIRTIO_INPUT_HOST : PATH_INPUT_LINUX;
}

/* Who may read a node besides root and whoever libvirt hands it to: its
 * mode, owner and group, an ACL; a warning when its group may read it (the
 * opt-in group kvmswitch aside), a failure when everybody may. */
static enum doctor_status readers(const struct guest_dev *g, char *text, size_t len)
{
	struct stat st;
	if (stat(g->node, &st) < 0) {
		snprintf(text, len, "%s", strerror(errno));
		return DOCTOR_WARN;
	}
	struct passwd *pw = getpwuid(st.st_uid);
	struct group *gr = getgrgid(st.st_gid);
	char owner[64], group[64], who[128] = "";
	snprintf(owner, sizeof(owner), "%s", pw ? pw->pw_name : "?");
	snprintf(group, sizeof(group), "%s", gr ? gr->gr_name : "?");
	bool acl = getxattr(g->node, "system.posix_acl_access", NULL, 0) > 0;
	enum doctor_status verdict = DOCTOR_OK;
	if (st.st_mode & S_IROTH) {
		verdict = DOCTOR_FAIL;
		snprintf(who, sizeof(who), ": every user may read it");
	} else if ((st.st_mode & S_IRGRP) && st.st_gid != 0 && strcmp(group, "kvmswitch") != 0) {
		verdict = DOCTOR_WARN;
		snprintf(who, sizeof(who), ": group %s may read it", group);
	}
	snprintf(text, len, "mode %04o %s:%s%s%s", (unsigned)(st.st_mode & 07777), owner, group,
		 acl ? " and an ACL (getfacl shows whom it lets in)" : "", who);
	return verdict;
}

static enum doctor_status worse(enum doctor_status a, enum doctor_status b)
{
	return a > b ? a : b;
}

/* What the devices of one VM target add up to. */
struct target_view {
	enum doctor_status st;
	char fix[700];
	size_t devices, held;
	char holders[512]; /* every process that holds one of them */
	char read[64];     /* the kinds somebody holds */
	char unread[64];   /* the kinds nobody holds */
	char note[300];    /* who else may read them */
};

static void append(char *buf, size_t len, const char *sep, const char *s)
{
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, "%s%s", n ? sep : "", s);
}

/* One device's line, and what it adds to its target's view. */
static void guest_line(const struct guest_dev *g, struct target_view *v, char *line, size_t len)
{
	char r[256], by[400] = "";
	enum doctor_status rs = readers(g, r, sizeof(r));
	if (rs != DOCTOR_OK) {
		v->st = worse(v->st, rs);
		if (!strstr(v->fix, RULES_FIX))
			append(v->fix, sizeof(v->fix), "; ", RULES_FIX);
		snprintf(v->note, sizeof(v->note), "; its %s has %s", g->kind, r);
	}
	v->devices++;
	v->held += g->n_holder > 0;
	append(g->n_holder ? v->read : v->unread, sizeof(v->read), " and ", g->kind);
	for (size_t h = 0; h < g->n_holder; h++) {
		const struct holder *ho = &g->holder[h];
		const char *how = path_name(ho->path);
		char one[96];
		snprintf(one, sizeof(one), "%s (pid %d%s%s)", ho->comm, (int)ho->pid, how ? ", " : "", how ? how : "");
		append(by, sizeof(by), ", ", one);
		if (!strstr(v->holders, one))
			append(v->holders, sizeof(v->holders), ", ", one);
		if (strncmp(ho->comm, "qemu", 4) != 0 && !strstr(v->fix, "for its QEMU alone")) {
			v->st = worse(v->st, DOCTOR_WARN);
			append(v->fix, sizeof(v->fix), "; ", "a VM's device is for its QEMU alone: if " RULES_FIX_IF);
		}
	}
	snprintf(line, len, "%-8s %s%s%s: %s; %s%s", g->kind, g->node, g->link[0] ? " = " : "", g->link, r,
		 g->n_holder ? "held by " : "held by no process", by);
}

/* One finding per VM target: who may read its devices, who holds them;
 * a line per device below it. */
void doctor_check_guests(struct doctor *d)
{
	bool done[DOCTOR_MAX_GUESTS] = { false };
	bool blind = d->hidden_procs && geteuid() != 0;
	for (size_t i = 0; i < d->n_guest; i++) {
		if (done[i])
			continue;
		const char *target = d->guest[i].target;
		struct target_view v = { .st = DOCTOR_OK, .fix = "" };
		char lines[VK_COUNT][800];
		size_t n = 0;
		for (size_t j = i; j < d->n_guest && n < VK_COUNT; j++) {
			if (strcmp(d->guest[j].target, target) != 0)
				continue;
			done[j] = true;
			guest_line(&d->guest[j], &v, lines[n++], sizeof(lines[0]));
		}
		char msg[1200];
		if (v.held == v.devices) {
			snprintf(msg, sizeof(msg), "read by %s", v.holders);
		} else {
			v.st = worse(v.st, DOCTOR_WARN);
			char give[400];
			snprintf(give, sizeof(give), "give them to the VM: kvmswitch libvirt-xml %s prints libvirt's <input> "
				 "elements; QEMU takes -object input-linux,id=kbd,evdev=/dev/input/by-id/kvmswitch-%s-keyboard",
				 target, target);
			append(v.fix, sizeof(v.fix), "; ",
			       blind ? "run kvmswitch doctor as root to see every process (sudo kvmswitch doctor)" : give);
			bool some = strchr(v.unread, ' ') != NULL;
			if (v.held)
				snprintf(msg, sizeof(msg), "its %s %s not open in any process%s: the VM does not read %s; its "
					 "%s %s read by %s", v.unread, some ? "are" : "is", blind ? " you may look into" : "",
					 some ? "them" : "it", v.read, strchr(v.read, ' ') ? "are" : "is", v.holders);
			else
				snprintf(msg, sizeof(msg), "its devices are not open in any process%s: the VM does not read "
					 "them", blind ? " you may look into" : "");
		}
		doctor_add(d, v.st, "guest", v.fix[0] ? v.fix : NULL, "target %s: %s%s", target, msg, v.note);
		for (size_t l = 0; l < n; l++)
			doctor_detail(d, "%s", lines[l]);
	}
}

/* ---- the physical devices ---- */

#define MAX_GROUPS 64
#define MAX_NODES 16

/* The event nodes of one physical device (a receiver's interfaces, a
 * keyboard and its consumer-control node). */
struct devgroup {
	char key[256]; /* the syspath of what they share */
	char label[300];
	struct {
		char node[64], name[256], kinds[96], reason[160];
		bool take;
	} node[MAX_NODES];
	size_t n;
	bool taken; /* any of them */
};

struct groups {
	const struct config *cfg;
	struct udev *udev;
	struct devgroup *g;
	size_t n;
};

/* What a node belongs to: its USB device, else its HID device, else its
 * own input device (PS/2, a virtual device). */
static void group_of(struct udev *u, const char *syspath, char *key, size_t klen, char *label, size_t llen)
{
	struct udev_device *ev = udev_device_new_from_syspath(u, syspath);
	struct udev_device *usb = ev ? udev_device_get_parent_with_subsystem_devtype(ev, "usb", "usb_device") : NULL;
	struct udev_device *hid = ev ? udev_device_get_parent_with_subsystem_devtype(ev, "hid", NULL) : NULL;
	struct udev_device *input = ev ? udev_device_get_parent_with_subsystem_devtype(ev, "input", NULL) : NULL;
	if (usb) {
		snprintf(key, klen, "%s", udev_device_get_syspath(usb));
		snprintf(label, llen, "%s%s%s (usb %s:%s)", attr(usb, "manufacturer"), *attr(usb, "manufacturer") ? " " : "",
			 attr(usb, "product"), attr(usb, "idVendor"), attr(usb, "idProduct"));
	} else if (hid) {
		const char *name = udev_device_get_property_value(hid, "HID_NAME");
		snprintf(key, klen, "%s", udev_device_get_syspath(hid));
		snprintf(label, llen, "%s (hid %s)", name ? name : "?", udev_device_get_sysname(hid));
	} else {
		snprintf(key, klen, "%s", input ? udev_device_get_syspath(input) : syspath);
		snprintf(label, llen, "%s", *attr(input, "name") ? attr(input, "name") : syspath);
	}
	udev_device_unref(ev);
}

static void collect(void *data, const struct discovered *dev)
{
	struct groups *gs = data;
	if (match_is_ours(&dev->desc))
		return;
	char key[256], label[300];
	group_of(gs->udev, dev->syspath, key, sizeof(key), label, sizeof(label));
	struct devgroup *g = NULL;
	for (size_t i = 0; i < gs->n && !g; i++)
		if (!strcmp(gs->g[i].key, key))
			g = &gs->g[i];
	if (!g) {
		if (gs->n >= MAX_GROUPS)
			return;
		g = &gs->g[gs->n++];
		memset(g, 0, sizeof(*g));
		snprintf(g->key, sizeof(g->key), "%s", key);
		snprintf(g->label, sizeof(g->label), "%s", label);
	}
	if (g->n >= MAX_NODES)
		return;
	struct match_verdict v;
	match_decide(gs->cfg->match, gs->cfg->n_match, gs->cfg->exclude, gs->cfg->n_exclude, &dev->desc, &v);
	size_t k = g->n++;
	snprintf(g->node[k].node, sizeof(g->node[k].node), "%s", dev->node);
	snprintf(g->node[k].name, sizeof(g->node[k].name), "%s", dev->name);
	match_kinds_text(dev->desc.kinds, g->node[k].kinds, sizeof(g->node[k].kinds));
	snprintf(g->node[k].reason, sizeof(g->node[k].reason), "%s", v.reason);
	g->node[k].take = v.take;
	g->taken |= v.take;
}

/* A node's buttons and relative axes, through libevdev. Returns 0 or -errno. */
static int node_caps(const char *node, struct inputpath_caps *caps)
{
	int fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct libevdev *ev;
	int rc = libevdev_new_from_fd(fd, &ev);
	if (rc == 0) {
		for (unsigned c = BTN_MOUSE; c < BTN_JOYSTICK; c++)
			if (libevdev_has_event_code(ev, EV_KEY, c))
				keyset_set(&caps->keys, c, true);
		for (unsigned r = 0; r <= REL_MAX && r < 32; r++)
			if (libevdev_has_event_code(ev, EV_REL, r))
				caps->rel |= 1u << r;
		libevdev_free(ev);
	}
	close(fd);
	return rc;
}

static void losses_text(const struct inputpath_losses *l, char *buf, size_t len)
{
	buf[0] = '\0';
	if (l->hwheel)
		append(buf, len, ", ", "the horizontal wheel");
	if (l->hires)
		append(buf, len, ", ", "high-resolution scrolling (it gets whole notches, at most one per frame)");
	if (l->n_button) {
		append(buf, len, ", ", l->n_button > 1 ? "the buttons" : "the button");
		for (size_t i = 0; i < l->n_button; i++) {
			const char *name = libevdev_event_code_get_name(EV_KEY, l->button[i]);
			append(buf, len, i ? ", " : " ", name ? name : "?");
		}
	}
}

/* One finding per physical device kvmswitch takes: what a guest loses of it
 * on input-linux, where a target uses that path. */
void doctor_check_inputs(struct doctor *d)
{
	struct groups gs = { .cfg = d->cfg, .udev = udev_new(), .g = calloc(MAX_GROUPS, sizeof(struct devgroup)) };
	struct discover *ds = discover_create();
	if (!gs.udev || !gs.g || !ds) {
		doctor_add(d, DOCTOR_FAIL, "inputs", "is udev running? (the udev line above)", "cannot enumerate the input devices");
		goto out;
	}
	discover_enumerate(ds, collect, &gs);
	char via_il[256] = "", via_vih[256] = "", sections[400] = "";
	for (size_t t = 0; t < d->cfg->n_target; t++) {
		const struct target_conf *tc = &d->cfg->target[t];
		if (tc->type != TARGET_EVDEV)
			continue;
		bool il = doctor_target_path(d, tc) == PATH_INPUT_LINUX;
		append(il ? via_il : via_vih, sizeof(via_il), ", ", tc->name);
		if (il) {
			char sec[64];
			snprintf(sec, sizeof(sec), "[target %s]", tc->name);
			append(sections, sizeof(sections), ", ", sec);
		}
	}
	size_t taken = 0;
	for (size_t i = 0; i < gs.n; i++) {
		struct devgroup *g = &gs.g[i];
		if (!g->taken)
			continue;
		taken++;
		struct inputpath_caps caps = { 0 };
		int rc = 0;
		const char *failed = NULL;
		for (size_t k = 0; k < g->n && !failed; k++)
			if (g->node[k].take && (rc = node_caps(g->node[k].node, &caps)) < 0)
				failed = g->node[k].node;
		struct inputpath_losses l;
		bool loses = inputpath_input_linux_losses(&caps, &l);
		char lost[512], fix[900];
		losses_text(&l, lost, sizeof(lost));
		if (failed)
			doctor_add(d, DOCTOR_OK, "inputs", "sudo kvmswitch doctor tells what a guest loses of it",
				   "%s: cannot read what it can do (%s: %s)", g->label, failed, strerror(-rc));
		else if (!via_il[0] && !via_vih[0])
			doctor_add(d, DOCTOR_OK, "inputs", NULL, "%s: taken (no evdev target, so no QEMU path applies)",
				   g->label);
		else if (!loses)
			doctor_add(d, DOCTOR_OK, "inputs", NULL, "%s: a guest gets all of it on either path", g->label);
		else if (!via_il[0])
			doctor_add(d, DOCTOR_OK, "inputs", NULL,
				   "%s: the guests get all of it on virtio-input-host (%s); input-linux would lose %s",
				   g->label, via_vih, lost);
		else {
			snprintf(fix, sizeof(fix),
				 "set libvirt-input = passthrough in %s and give the domain what kvmswitch libvirt-xml prints "
				 "then (virtio-input-host passes everything on to a guest with a virtio-input driver: Linux "
				 "has one, Windows needs virtio-win's vioinput)",
				 sections);
			doctor_add(d, DOCTOR_WARN, "inputs", fix, "%s: on QEMU's input-linux path (%s) a guest loses %s",
				   g->label, via_il, lost);
		}
		for (size_t k = 0; k < g->n; k++)
			doctor_detail(d, "%-18s %-4s %-16s %s (%s)", g->node[k].node, g->node[k].take ? "take" : "skip",
				      g->node[k].kinds, g->node[k].name, g->node[k].reason);
	}
	if (!taken)
		doctor_add(d, DOCTOR_WARN, "inputs", "kvmswitch list says why each device is not taken",
			   "the configuration takes no input device (of %zu)", gs.n);
out:
	discover_destroy(ds);
	free(gs.g);
	udev_unref(gs.udev);
}
