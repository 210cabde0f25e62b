/* System integration: the udev rules on real devices (installed into the
 * test VM's udev), what libinput makes of our devices, the systemd units
 * under systemd-analyze verify, the staged install and its man pages, and
 * the file-descriptor store that keeps the VM targets' devices across a
 * daemon restart (systemd simulated: this program is the NOTIFY_SOCKET
 * server that takes the fds and hands them to the next daemon through
 * LISTEN_FDS, as systemd does). */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <libudev.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 10000 /* ms for anything that must happen */

#define RULES_NAME "71-kvmswitch.rules"
#define RULES_DIR "/etc/udev/rules.d"

/* ---- helpers: the source tree, commands, files ---- */

static const char *build_dir(void)
{
	static char dir[PATH_MAX];
	const char *b = getenv("KVMSWITCH_BUILD");
	if (!dir[0] && !realpath(b && *b ? b : "build", dir))
		ITEST_FAIL("cannot find the build directory %s", b && *b ? b : "build");
	return dir;
}

#define RUN_OK(...)                                                                                  \
	do {                                                                                         \
		const char *const argv_[] = { __VA_ARGS__, NULL };                                   \
		char *err_ = NULL;                                                                   \
		int st_ = tproc_run(argv_, NULL, NULL, &err_, 60000);                                \
		ITEST_ASSERT_MSG(st_ == 0, "%s exited with %d: %.600s", argv_[0], st_, err_);        \
		free(err_);                                                                          \
	} while (0)

static struct udev_device *udev_dev(const char *node)
{
	static struct udev *u;
	struct stat st;
	if (!u)
		u = udev_new();
	ITEST_ASSERT_NOT_NULL(u);
	ITEST_ASSERT_SYSCALL(stat(node, &st));
	struct udev_device *d = udev_device_new_from_devnum(u, 'c', st.st_rdev);
	ITEST_ASSERT_MSG(d != NULL, "no udev device for %s", node);
	return d;
}

static bool has_current_tag(const char *node, const char *tag)
{
	struct udev_device *d = udev_dev(node);
	bool r = udev_device_has_current_tag(d, tag) > 0;
	udev_device_unref(d);
	return r;
}

static bool has_tag(const char *node, const char *tag)
{
	struct udev_device *d = udev_dev(node);
	bool r = udev_device_has_tag(d, tag) > 0;
	udev_device_unref(d);
	return r;
}

static bool prop_is(const char *node, const char *key, const char *want)
{
	char *v = itest_udev_property(node, key);
	bool r = want ? v && strcmp(v, want) == 0 : v == NULL;
	free(v);
	return r;
}

/* Waits until udev has applied our rules to node (after a trigger). */
static bool wait_prop(const char *node, const char *key, const char *want, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	while (!prop_is(node, key, want)) {
		if (itest_now_ms() > deadline)
			return false;
		usleep(50000);
	}
	return true;
}

static char *link_target(const char *link)
{
	char buf[PATH_MAX];
	return realpath(link, buf) ? strdup(buf) : NULL;
}

#define CFG_HOST_VIRTUAL_WIN KSD_MATCH_TEST_DEVICES "[target host]\nmode = virtual\n[target win]\n"

static const char *const guest_kinds[] = { "keyboard", "pointer", "tablet" };

/* What the rules must do to a VM target's device. */
static void assert_guest_hidden(struct ksd *k, const char *target, const char *kind)
{
	char *node = ksd_vdev_node(k, target, kind), link[128];
	snprintf(link, sizeof(link), "/dev/input/by-id/kvmswitch-%s-%s", target, kind);
	ITEST_ASSERT_MSG(prop_is(node, "LIBINPUT_IGNORE_DEVICE", "1"), "%s (%s %s) lacks LIBINPUT_IGNORE_DEVICE=1",
			 node, target, kind);
	struct stat st;
	ITEST_ASSERT_SYSCALL(stat(node, &st));
	ITEST_ASSERT_MSG((st.st_mode & 07777) == 0600, "%s (%s %s) has mode %04o, want 0600", node, target, kind,
			 st.st_mode & 07777);
	ITEST_ASSERT_EQ_INT(st.st_uid, 0);
	ITEST_ASSERT_EQ_INT(st.st_gid, 0);
	char *to = link_target(link);
	ITEST_ASSERT_MSG(to != NULL, "no link %s", link);
	ITEST_ASSERT_STR_EQ(to, node);
	/* logind acts on the keys of devices whose current tags hold it. */
	ITEST_ASSERT_MSG(!has_current_tag(node, "power-switch"), "%s (%s %s) carries the power-switch tag", node,
			 target, kind);
	itest_log("%s %s: %s, mode %04o, %s", target, kind, node, st.st_mode & 07777, link);
	free(to);
	free(node);
}

/* The host target's devices are the host's own: left alone. */
static void assert_host_visible(struct ksd *k, const char *kind)
{
	char *node = ksd_vdev_node(k, "host", kind), link[128];
	snprintf(link, sizeof(link), "/dev/input/by-id/kvmswitch-host-%s", kind);
	ITEST_ASSERT_MSG(prop_is(node, "LIBINPUT_IGNORE_DEVICE", NULL), "the host %s %s is hidden from libinput",
			 kind, node);
	ITEST_ASSERT_MSG(access(link, F_OK) != 0, "the host %s has a link %s", kind, link);
	struct stat st;
	ITEST_ASSERT_SYSCALL(stat(node, &st));
	ITEST_ASSERT_MSG((st.st_mode & 07777) != 0600 || st.st_gid != 0, "the host %s %s got the guests' mode", kind,
			 node);
	if (strcmp(kind, "keyboard") == 0)
		ITEST_ASSERT_MSG(has_current_tag(node, "power-switch"),
				 "the host keyboard %s lost its power-switch tag (logind would ignore its keys)", node);
	free(node);
}

/* `libinput list-devices`: device name -> its capabilities line. */
struct li_dev {
	char name[128];
	char caps[128];
};

static size_t libinput_list(struct li_dev *devs, size_t max)
{
	const char *const argv[] = { "libinput", "list-devices", NULL };
	char *out, *err;
	int st = tproc_run(argv, NULL, &out, &err, 60000);
	ITEST_ASSERT_MSG(st == 0, "libinput list-devices exited with %d: %.400s", st, err);
	size_t n = 0;
	for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ':');
		if (!v)
			continue;
		for (v++; *v == ' '; v++)
			;
		if (strncmp(line, "Device:", 7) == 0 && n < max)
			snprintf(devs[n++].name, sizeof(devs[0].name), "%s", v);
		else if (strncmp(line, "Capabilities:", 13) == 0 && n > 0)
			snprintf(devs[n - 1].caps, sizeof(devs[0].caps), "%s", v);
	}
	free(out);
	free(err);
	return n;
}

static const struct li_dev *li_find(const struct li_dev *devs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(devs[i].name, name) == 0)
			return &devs[i];
	return NULL;
}

static struct ksd *start_with_tablet(const char *cfg, struct tdev **kbd)
{
	*kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct tdev *tablet = tdev_create(TDEV_TABLET, "tablet");
	struct ksd *k = ksd_start(cfg);
	const struct tdev *all[] = { *kbd, mouse, tablet };
	for (size_t i = 0; i < 3; i++)
		ITEST_ASSERT_MSG(ksd_wait_input(k, tdev_devnode(all[i]), true, T), "%s not taken", tdev_name(all[i]));
	return k;
}

/* Rules installed, then the daemon: the devices are hidden from their
 * "add" event on, and libinput sees the host's devices only. */
ITEST_TIMEOUT(guest_devices_hidden_host_devices_not, 120)
{
	itest_udev_rules_install(RULES_NAME);
	struct tdev *kbd;
	struct ksd *k = start_with_tablet(CFG_HOST_VIRTUAL_WIN, &kbd);
	for (size_t i = 0; i < 3; i++)
		assert_guest_hidden(k, "win", guest_kinds[i]);
	/* 70-power-switch.rules tags the guest keyboard (it has keys), ours
	 * removes it again: it stays in TAGS (udev's tags are sticky), not in
	 * CURRENT_TAGS, which is what logind reads. */
	char *gk = ksd_vdev_node(k, "win", "keyboard");
	ITEST_ASSERT(prop_is(gk, "ID_INPUT_KEY", "1"));
	ITEST_ASSERT(has_tag(gk, "power-switch"));
	ITEST_ASSERT(!has_current_tag(gk, "power-switch"));
	assert_host_visible(k, "keyboard");
	assert_host_visible(k, "pointer");

	struct li_dev devs[64];
	size_t n = libinput_list(devs, 64);
	const struct li_dev *hk = li_find(devs, n, "kvmswitch host keyboard");
	const struct li_dev *hp = li_find(devs, n, "kvmswitch host pointer");
	ITEST_ASSERT_MSG(hk && strstr(hk->caps, "keyboard"), "libinput: host keyboard %s (caps '%s')",
			 hk ? "found" : "missing", hk ? hk->caps : "");
	ITEST_ASSERT_MSG(hp && strstr(hp->caps, "pointer"), "libinput: host pointer %s (caps '%s')",
			 hp ? "found" : "missing", hp ? hp->caps : "");
	for (size_t i = 0; i < n; i++)
		ITEST_ASSERT_MSG(strncmp(devs[i].name, "kvmswitch win ", 14) != 0, "libinput lists the guest device '%s'",
				 devs[i].name);
	free(gk);
}

/* The other way round: devices that exist before the rules are hidden by
 * the next event udev processes for them, and libinput listed the guest
 * devices before (the check above can fail). */
ITEST_TIMEOUT(rules_apply_to_existing_devices, 120)
{
	if (!itest_in_vm())
		itest_skip("installs udev rules into " RULES_DIR ": runs only in the test VM");
	struct tdev *kbd;
	struct ksd *k = start_with_tablet(CFG_HOST_VIRTUAL_WIN, &kbd);
	struct li_dev devs[64];
	size_t n = libinput_list(devs, 64);
	ITEST_ASSERT_MSG(li_find(devs, n, "kvmswitch win keyboard") != NULL,
			 "without the rules, libinput should list the guest keyboard");
	char *gk = ksd_vdev_node(k, "win", "keyboard");
	ITEST_ASSERT_MSG(has_current_tag(gk, "power-switch"), "without the rules, the guest keyboard should carry "
			 "power-switch (70-power-switch.rules)");

	itest_udev_rules_install(RULES_NAME);
	itest_udev_retrigger();
	ITEST_ASSERT(wait_prop(gk, "LIBINPUT_IGNORE_DEVICE", "1", T));
	for (size_t i = 0; i < 3; i++)
		assert_guest_hidden(k, "win", guest_kinds[i]);
	assert_host_visible(k, "keyboard");
	n = libinput_list(devs, 64);
	ITEST_ASSERT_MSG(li_find(devs, n, "kvmswitch host keyboard") != NULL, "libinput lost the host keyboard");
	ITEST_ASSERT_MSG(li_find(devs, n, "kvmswitch win keyboard") == NULL, "libinput still lists the guest keyboard");
	free(gk);
}

/* `kvmswitch libvirt-xml` names paths that work for the way kvmswitch
 * runs (the README's quick start runs it without the udev rules): with a
 * daemon and no rule, the daemon's event nodes, taken from the daemon's own
 * configuration without -c, and a note on stderr saying why and what to
 * do; with neither daemon nor rule, the links and a warning that they do
 * not exist; with the rule, the stable links. */
ITEST_TIMEOUT(libvirt_xml_paths_work_as_kvmswitch_runs, 180)
{
	if (!itest_in_vm())
		itest_skip("installs udev rules into " RULES_DIR ": runs only in the test VM");
	ITEST_ASSERT_MSG(access(RULES_DIR "/" RULES_NAME, F_OK) != 0, "a rule was left installed");
	/* A target only this daemon's file has: the default lookup would not
	 * find it. */
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[target vmx]\n");
	char *kn = ksd_vdev_node(k, "vmx", "keyboard"), *pn = ksd_vdev_node(k, "vmx", "pointer");
	const char *link = "/dev/input/by-id/kvmswitch-vmx-keyboard";
	ITEST_ASSERT_MSG(access(link, F_OK) != 0, "%s exists without the rule", link);
	char sock[PATH_MAX + 32], want[PATH_MAX + 128];
	snprintf(sock, sizeof(sock), "KVMSWITCH_SOCKET=%s", ksd_socket(k));
	const char *const with_daemon[] = { sock, NULL };
	const char *const no_daemon[] = { "KVMSWITCH_SOCKET=/nonexistent/kvmswitch.sock", NULL };
	const char *const argv[] = { ksd_binary(), "libvirt-xml", "vmx", NULL };
	const char *const argv_c[] = { ksd_binary(), "libvirt-xml", "-c", ksd_config_path(k), "vmx", NULL };
	char *out, *err;

	ITEST_ASSERT_EQ_INT(tproc_run(argv, with_daemon, &out, &err, 30000), 0);
	snprintf(want, sizeof(want), "<source dev='%s' grab='all' repeat='on' grabToggle='ctrl-ctrl'/>", kn);
	ITEST_ASSERT_STR_CONTAINS(out, want);
	snprintf(want, sizeof(want), "<source dev='%s'/>", pn);
	ITEST_ASSERT_STR_CONTAINS(out, want);
	ITEST_ASSERT_STR_CONTAINS(err, "kvmswitch: note: /dev/input/by-id/kvmswitch-vmx-keyboard does not exist "
				       "(kvmswitch's udev rule is not installed or not loaded), so these elements name "
				       "the event nodes that the running kvmswitch");
	ITEST_ASSERT_STR_CONTAINS(err, "For the stable links: install kvmswitch's udev rules");
	free(out);
	free(err);

	ITEST_ASSERT_EQ_INT(tproc_run(argv_c, no_daemon, &out, &err, 30000), 0);
	ITEST_ASSERT_STR_CONTAINS(out, "<source dev='/dev/input/by-id/kvmswitch-vmx-keyboard' grab='all'");
	ITEST_ASSERT_STR_CONTAINS(err, "kvmswitch: warning: these elements name /dev/input/by-id/kvmswitch-vmx-keyboard "
				       "and -pointer, which exist only with kvmswitch's udev rules, and they are not "
				       "installed");
	free(out);
	free(err);

	itest_udev_rules_install(RULES_NAME);
	itest_udev_retrigger();
	int64_t end = itest_now_ms() + T;
	while (access(link, F_OK) != 0 && itest_now_ms() < end)
		usleep(100000);
	ITEST_ASSERT_MSG(access(link, F_OK) == 0, "udev made no %s", link);
	ITEST_ASSERT_EQ_INT(tproc_run(argv, with_daemon, &out, &err, 30000), 0);
	ITEST_ASSERT_STR_CONTAINS(out, "<source dev='/dev/input/by-id/kvmswitch-vmx-keyboard' grab='all' repeat='on' "
				       "grabToggle='ctrl-ctrl'/>");
	ITEST_ASSERT_STR_CONTAINS(out, "<source dev='/dev/input/by-id/kvmswitch-vmx-pointer'/>");
	ITEST_ASSERT_STR_EQ(err, "");
	free(out);
	free(err);
	free(kn);
	free(pn);
}

/* The opt-in seat rule tags /dev/uinput and the keyboards for logind's
 * uaccess (the ACL itself needs a logind session, which the VM has not). */
ITEST_TIMEOUT(optin_uaccess_rule_tags_devices, 120)
{
	if (!itest_in_vm())
		itest_skip("installs udev rules into " RULES_DIR ": runs only in the test VM");
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	ITEST_ASSERT_MSG(!has_current_tag(tdev_devnode(kbd), "uaccess"), "a keyboard has uaccess without the rule");
	itest_udev_rules_install("70-kvmswitch-uaccess.rules");
	RUN_OK("udevadm", "trigger", "--action=change", "--subsystem-match=input", "--subsystem-match=misc",
	       "--settle");
	ITEST_ASSERT(has_current_tag(tdev_devnode(kbd), "uaccess"));
	ITEST_ASSERT(has_current_tag(tdev_devnode(mouse), "uaccess"));
	ITEST_ASSERT(has_current_tag("/dev/uinput", "uaccess"));
	/* 71-seat.rules puts what has uaccess on a seat. */
	ITEST_ASSERT(has_current_tag("/dev/uinput", "seat"));
}

/* The opt-in group rule gives the guest devices to group kvmswitch. */
ITEST_TIMEOUT(optin_group_rule_relaxes_guest_mode, 120)
{
	if (!itest_in_vm())
		itest_skip("adds a group and udev rules: runs only in the test VM");
	RUN_OK("groupadd", "-f", "--system", "kvmswitch");
	itest_udev_rules_install(RULES_NAME);
	itest_udev_rules_install("72-kvmswitch-group.rules");
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_HOST_VIRTUAL_WIN);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, T));
	char *gk = ksd_vdev_node(k, "win", "keyboard");
	char *hk = ksd_vdev_node(k, "host", "keyboard");
	struct stat st, hst;
	ITEST_ASSERT_SYSCALL(stat(gk, &st));
	ITEST_ASSERT_SYSCALL(stat(hk, &hst));
	char *out;
	const char *const argv[] = { "getent", "group", "kvmswitch", NULL };
	ITEST_ASSERT_EQ_INT(tproc_run(argv, NULL, &out, NULL, 20000), 0);
	char *gid = strchr(strchr(out, ':') + 1, ':') + 1;
	ITEST_ASSERT_EQ_INT(st.st_gid, atoi(gid));
	ITEST_ASSERT_EQ_INT(st.st_mode & 07777, 0660);
	ITEST_ASSERT_NE_INT(hst.st_gid, atoi(gid));
	ITEST_ASSERT(prop_is(gk, "LIBINPUT_IGNORE_DEVICE", "1"));
	free(out);
	free(gk);
	free(hk);
}

/* ---- the staged install, the units, the man pages ---- */

/* `make install` (or uninstall) of what `make tests` built: -o keeps make
 * from rebuilding the binary or the man pages here (in the VM, or while
 * someone edits a source), so the test installs exactly what was built. */
static void make_stage(const char *dest, const char *target)
{
	char bflag[PATH_MAX + 8], dflag[PATH_MAX + 16], bin[PATH_MAX + 16], man1[PATH_MAX + 32], man5[PATH_MAX + 32];
	snprintf(bflag, sizeof(bflag), "B=%s", build_dir());
	snprintf(dflag, sizeof(dflag), "DESTDIR=%s", dest);
	snprintf(bin, sizeof(bin), "%s/kvmswitch", build_dir());
	snprintf(man1, sizeof(man1), "%s/man/kvmswitch.1", build_dir());
	snprintf(man5, sizeof(man5), "%s/man/kvmswitch.conf.5", build_dir());
	ITEST_ASSERT_MSG(access(man1, R_OK) == 0 && access(man5, R_OK) == 0, "no man pages in %s (run make tests)",
			 build_dir());
	RUN_OK("make", "-s", "-C", itest_src_dir(), "-o", bin, "-o", man1, "-o", man5, bflag, dflag, "PREFIX=/usr",
	       "UDEVDIR=/usr/lib/udev", target);
}

/* Copies a staged unit file, with its /usr/bin/kvmswitch pointing at bin. */
static void copy_unit(const char *from, const char *to, const char *bin)
{
	char *text = itest_read_file(from, NULL);
	ITEST_ASSERT_NOT_NULL(text);
	FILE *f = fopen(to, "we");
	ITEST_ASSERT_NOT_NULL(f);
	for (char *p = text, *hit; *p; p = hit + strlen("/usr/bin/kvmswitch")) {
		hit = strstr(p, "/usr/bin/kvmswitch");
		if (!hit) {
			fputs(p, f);
			break;
		}
		fprintf(f, "%.*s%s", (int)(hit - p), p, bin);
	}
	fclose(f);
	free(text);
}

static char *stage_install(void)
{
	char *dest = itest_tmpfile("stage");
	make_stage(dest, "install");
	return dest;
}

static void remove_tree(void *path)
{
	const char *const argv[] = { "rm", "-rf", path, NULL };
	tproc_run(argv, NULL, NULL, NULL, 60000);
	free(path);
}

/* A staged install for units that systemd starts, which run its binary:
 * not under /tmp, which the system unit's PrivateTmp=yes hides from the
 * daemon (where the test VM can apply it: a checkout under /tmp). */
static char *stage_install_for_units(void)
{
	char tmpl[] = "/var/lib/kvmswitch-itest.XXXXXX";
	ITEST_ASSERT_NOT_NULL(mkdtemp(tmpl));
	char *dest = strdup(tmpl);
	ITEST_ASSERT_NOT_NULL(dest);
	itest_defer(remove_tree, strdup(dest));
	make_stage(dest, "install");
	return dest;
}

static const struct {
	const char *path;
	unsigned mode;
} installed[] = {
	{ "/usr/bin/kvmswitch", 0755 },
	{ "/usr/share/man/man1/kvmswitch.1", 0644 },
	{ "/usr/share/man/man5/kvmswitch.conf.5", 0644 },
	{ "/usr/lib/udev/rules.d/71-kvmswitch.rules", 0644 },
	{ "/usr/lib/systemd/user/kvmswitch.service", 0644 },
	{ "/usr/lib/systemd/system/kvmswitch.service", 0644 },
	{ "/usr/share/kvmswitch/udev/70-kvmswitch-uaccess.rules", 0644 },
	{ "/usr/share/kvmswitch/udev/72-kvmswitch-group.rules", 0644 },
	{ "/usr/share/doc/kvmswitch/quickstart.md", 0644 },
	{ "/usr/share/doc/kvmswitch/troubleshooting.md", 0644 },
	{ "/usr/share/doc/kvmswitch/permissions.md", 0644 },
	{ "/usr/share/doc/kvmswitch/kvmswitch.conf.example", 0644 },
	/* Where each shell looks for completions (Debian's paths for PREFIX=/usr). */
	{ "/usr/share/bash-completion/completions/kvmswitch", 0644 },
	{ "/usr/share/zsh/vendor-completions/_kvmswitch", 0644 },
	{ "/usr/share/fish/vendor_completions.d/kvmswitch.fish", 0644 },
};

ITEST_TIMEOUT(staged_install_has_every_file_and_uninstall_removes_them, 300)
{
	char *dest = stage_install();
	char path[PATH_MAX + 256];
	for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s%s", dest, installed[i].path);
		ITEST_ASSERT_MSG(stat(path, &st) == 0, "make install did not install %s", installed[i].path);
		ITEST_ASSERT_MSG((st.st_mode & 07777) == installed[i].mode, "%s has mode %04o, want %04o",
				 installed[i].path, st.st_mode & 07777, installed[i].mode);
	}
	/* The installed binary is the built one, and the units start it. */
	snprintf(path, sizeof(path), "%s/usr/bin/kvmswitch", dest);
	char *out;
	const char *const argv[] = { path, "--version", NULL };
	ITEST_ASSERT_EQ_INT(tproc_run(argv, NULL, &out, NULL, 20000), 0);
	ITEST_ASSERT_STR_CONTAINS(out, "kvmswitch ");
	free(out);
	const char *units[] = { "/usr/lib/systemd/user/kvmswitch.service", "/usr/lib/systemd/system/kvmswitch.service" };
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", dest, units[i]);
		char *text = itest_read_file(path, NULL);
		ITEST_ASSERT_NOT_NULL(text);
		ITEST_ASSERT_STR_CONTAINS(text, "\nExecStart=/usr/bin/kvmswitch run\n");
		ITEST_ASSERT_STR_CONTAINS(text, "\nFileDescriptorStoreMax=");
		ITEST_ASSERT_MSG(!strstr(text, "@BINDIR@"), "%s has an unreplaced @BINDIR@", units[i]);
		free(text);
	}
	/* Every docs/NAME.md is installed (the lead's and the other helpers' too). */
	char docs[PATH_MAX + 8];
	snprintf(docs, sizeof(docs), "%s/docs", itest_src_dir());
	DIR *dir = opendir(docs);
	ITEST_ASSERT_NOT_NULL(dir);
	for (struct dirent *e; (e = readdir(dir));) {
		size_t l = strlen(e->d_name);
		if (l < 4 || strcmp(e->d_name + l - 3, ".md") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/usr/share/doc/kvmswitch/%s", dest, e->d_name);
		ITEST_ASSERT_MSG(access(path, F_OK) == 0, "docs/%s was not installed", e->d_name);
	}
	closedir(dir);

	make_stage(dest, "uninstall");
	for (size_t i = 0; i < sizeof(installed) / sizeof(installed[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dest, installed[i].path);
		ITEST_ASSERT_MSG(access(path, F_OK) != 0, "make uninstall left %s", installed[i].path);
	}
	free(dest);
}

/* Runs make in the source tree with these arguments (and -s); returns its
 * status, stdout and stderr. */
static int make_run(const char *const args[], char **out, char **err)
{
	const char *argv[32] = { "make", "-s", "-C", itest_src_dir() };
	size_t n = 4;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return tproc_run(argv, NULL, out, err, 120000);
}

/* What make uninstall cannot remove, because make install did not put it
 * there, it names, with the command that does: an opt-in rule copied to
 * /etc/udev/rules.d keeps granting input access, an enabled unit, a drop-in,
 * /etc/kvmswitch. A clean uninstall says nothing of the kind. */
ITEST_TIMEOUT(uninstall_names_what_it_leaves, 300)
{
	char *dest = stage_install();
	char bflag[PATH_MAX + 8], dflag[PATH_MAX + 16], path[PATH_MAX + 128];
	snprintf(bflag, sizeof(bflag), "B=%s", build_dir());
	snprintf(dflag, sizeof(dflag), "DESTDIR=%s", dest);
	const char *const uninstall[] = { bflag, dflag, "PREFIX=/usr", "UDEVDIR=/usr/lib/udev", "uninstall", NULL };
	char *out, *err;
	ITEST_ASSERT_EQ_INT(make_run(uninstall, &out, &err), 0);
	ITEST_ASSERT_MSG(!strstr(out, "left") && !strstr(err, "left"), "a clean uninstall names leftovers: %s%s", out,
			 err);
	free(out);
	free(err);

	make_stage(dest, "install");
	const char *const dirs[] = { "/etc/udev/rules.d", "/etc/kvmswitch", "/etc/systemd/system/multi-user.target.wants",
				     "/etc/systemd/system/kvmswitch.service.d" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "mkdir -p '%s%s'", dest, dirs[i]);
		ITEST_ASSERT_EQ_INT(system(path), 0);
	}
	snprintf(path, sizeof(path), "%s/etc/udev/rules.d/70-kvmswitch-uaccess.rules", dest);
	FILE *f = fopen(path, "w");
	ITEST_ASSERT_NOT_NULL(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/etc/systemd/system/multi-user.target.wants/kvmswitch.service", dest);
	ITEST_ASSERT_SYSCALL(symlink("/usr/lib/systemd/system/kvmswitch.service", path));
	ITEST_ASSERT_EQ_INT(make_run(uninstall, &out, &err), 0);
	static const char *const said[] = {
		"/etc/udev/rules.d/70-kvmswitch-uaccess.rules, a rule copied there by hand, which keeps giving access to "
		"input devices: sudo rm ",
		"/etc/systemd/system/multi-user.target.wants/kvmswitch.service: the system unit is still enabled: sudo "
		"systemctl disable --now kvmswitch.service",
		"/etc/systemd/system/kvmswitch.service.d: drop-ins made with systemctl edit",
		"/etc/kvmswitch: your configuration (and any listener secret)",
	};
	for (size_t i = 0; i < 4; i++) {
		char want[512];
		snprintf(want, sizeof(want), "make uninstall: left %s%s", dest, said[i]);
		ITEST_ASSERT_STR_CONTAINS(out, want);
	}
	/* It removed its own files all the same. */
	snprintf(path, sizeof(path), "%s/usr/bin/kvmswitch", dest);
	ITEST_ASSERT(access(path, F_OK) != 0);
	free(out);
	free(err);
	free(dest);
}

/* A plain make needs no scdoc: it builds the program, says the man pages
 * were left out, and make install installs the rest. A missing library is
 * named with its package. */
ITEST_TIMEOUT(make_says_what_is_missing, 300)
{
	char *b = itest_tmpfile("b"), *dest = itest_tmpfile("stage");
	char bflag[PATH_MAX + 8], dflag[PATH_MAX + 16], bin[PATH_MAX + 16], path[PATH_MAX + 64];
	snprintf(bflag, sizeof(bflag), "B=%s", b);
	snprintf(dflag, sizeof(dflag), "DESTDIR=%s", dest);
	snprintf(bin, sizeof(bin), "%s/kvmswitch", b);
	ITEST_ASSERT_SYSCALL(mkdir(b, 0755));
	snprintf(path, sizeof(path), "%s/kvmswitch", build_dir());
	ITEST_ASSERT_EQ_INT(tproc_run((const char *const[]){ "cp", "-p", path, bin, NULL }, NULL, NULL, NULL, 20000), 0);
	char *out, *err;
	const char *const all[] = { bflag, "-o", bin, "SCDOC=/nonexistent/scdoc", "all", NULL };
	ITEST_ASSERT_EQ_INT(make_run(all, &out, &err), 0);
	ITEST_ASSERT_STR_CONTAINS(err, "make: /nonexistent/scdoc not found: the man pages are not built. Install scdoc");
	free(out);
	free(err);
	const char *const install[] = { bflag, dflag, "-o", bin, "SCDOC=/nonexistent/scdoc", "PREFIX=/usr",
					"UDEVDIR=/usr/lib/udev", "install", NULL };
	ITEST_ASSERT_EQ_INT(make_run(install, &out, &err), 0);
	ITEST_ASSERT_STR_CONTAINS(err, "make install: no man pages in");
	snprintf(path, sizeof(path), "%s/usr/bin/kvmswitch", dest);
	ITEST_ASSERT(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "%s/usr/share/doc/kvmswitch/kvmswitch.conf.example", dest);
	ITEST_ASSERT(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "%s/usr/share/man/man1/kvmswitch.1", dest);
	ITEST_ASSERT(access(path, F_OK) != 0);
	free(out);
	free(err);

	const char *const pkgs[] = { bflag, "PKG_CONFIG_LIBDIR=/nonexistent", "pkgs-daemon", NULL };
	ITEST_ASSERT_NE_INT(make_run(pkgs, &out, &err), 0);
	ITEST_ASSERT_STR_CONTAINS(err, "make: pkg-config package libevdev not found: install its development package "
				       "(Debian, Ubuntu: libevdev-dev; README.md names Fedora's and Arch's");
	free(out);
	free(err);
	free(b);
	free(dest);
}

ITEST_TIMEOUT(man_pages_render_without_warnings, 300)
{
	char *dest = stage_install();
	const struct {
		const char *path, *title;
		const char *sections[8];
	} pages[] = {
		{ "/usr/share/man/man1/kvmswitch.1", "kvmswitch(1)",
		  { "SYNOPSIS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "SIGNALS", "SYSTEMD", NULL } },
		{ "/usr/share/man/man5/kvmswitch.conf.5", "kvmswitch.conf(5)",
		  { "SYNTAX", "[general]", "[input]", "[target NAME]", "[listener]", "CHORDS", NULL } },
	};
	const char *const env[] = { "MANWIDTH=80", "LC_ALL=C.UTF-8", NULL };
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof(path), "%s%s", dest, pages[i].path);
		const char *const argv[] = { "man", "--warnings", "-l", path, NULL };
		char *out, *err;
		int st = tproc_run(argv, env, &out, &err, 60000);
		ITEST_ASSERT_MSG(st == 0, "man -l %s exited with %d: %.400s", pages[i].path, st, err);
		ITEST_ASSERT_MSG(err[0] == '\0', "man --warnings -l %s warns:\n%.1000s", pages[i].path, err);
		ITEST_ASSERT_STR_CONTAINS(out, pages[i].title);
		for (size_t s = 0; pages[i].sections[s]; s++) {
			char want[64];
			snprintf(want, sizeof(want), "\n%s\n", pages[i].sections[s]);
			ITEST_ASSERT_MSG(strstr(out, want), "%s has no section %s", pages[i].path, pages[i].sections[s]);
		}
		free(out);
		free(err);
	}
	free(dest);
}

/* Both installed units under systemd-analyze verify, as installed except
 * for ExecStart's path (the staged binary: verify checks that it exists),
 * with the staged man pages on MANPATH (verify checks Documentation=). */
ITEST_TIMEOUT(units_verify_clean, 300)
{
	char *dest = stage_install();
	char manpath[PATH_MAX + 32], rt[PATH_MAX + 32];
	snprintf(manpath, sizeof(manpath), "MANPATH=%s/usr/share/man", dest);
	char *xdg = itest_tmpfile("xdg");
	ITEST_ASSERT_SYSCALL(mkdir(xdg, 0700));
	snprintf(rt, sizeof(rt), "XDG_RUNTIME_DIR=%s", xdg);
	const struct {
		const char *unit;
		bool user;
	} units[] = {
		{ "/usr/lib/systemd/system/kvmswitch.service", false },
		{ "/usr/lib/systemd/user/kvmswitch.service", true },
	};
	for (size_t i = 0; i < 2; i++) {
		char from[PATH_MAX + 64], dir[PATH_MAX + 32], to[PATH_MAX + 64], bin[PATH_MAX + 32];
		snprintf(from, sizeof(from), "%s%s", dest, units[i].unit);
		snprintf(dir, sizeof(dir), "%s/verify-%zu", dest, i);
		snprintf(to, sizeof(to), "%s/kvmswitch.service", dir);
		snprintf(bin, sizeof(bin), "%s/usr/bin/kvmswitch", dest);
		ITEST_ASSERT_SYSCALL(mkdir(dir, 0755));
		copy_unit(from, to, bin);
		const char *const argv[] = { "systemd-analyze", units[i].user ? "--user" : "--system", "verify", to,
					     NULL };
		const char *const env[] = { manpath, rt, "SYSTEMD_LOG_LEVEL=notice", NULL };
		char *out, *err;
		int st = tproc_run(argv, env, &out, &err, 120000);
		ITEST_ASSERT_MSG(st == 0 && err[0] == '\0' && out[0] == '\0', "systemd-analyze verify %s: status %d:\n%.1500s%.500s",
				 units[i].unit, st, err, out);
		itest_log("systemd-analyze %s verify %s: clean", units[i].user ? "--user" : "--system", units[i].unit);
		free(out);
		free(err);
	}
	free(xdg);
	free(dest);
}

/* The system unit runs root without capabilities: the daemon must work
 * with what is left (device nodes opened as their owner). */
ITEST_TIMEOUT(runs_as_root_without_capabilities, 120)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	const char *nocaps[] = { "setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", NULL };
	struct ksd *k = ksd_start_as(KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\n", NULL, nocaps);
	char status[64], *text;
	snprintf(status, sizeof(status), "/proc/%d/status", (int)tproc_pid(ksd_proc(k)));
	text = itest_read_file(status, NULL);
	ITEST_ASSERT_NOT_NULL(text);
	ITEST_ASSERT_STR_CONTAINS(text, "CapEff:\t0000000000000000");
	ITEST_ASSERT_STR_CONTAINS(text, "CapBnd:\t0000000000000000");
	free(text);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, T));
	char *node = ksd_vdev_node(k, "guest", "keyboard");
	struct treader *r = treader_open(node, false);
	unsigned rep[2] = { 60000, 60000 };
	ioctl(treader_fd(r), EVIOCSREP, rep);
	treader_drain(r);
	tdev_tap(kbd, KEY_Q);
	ITEST_ASSERT(treader_wait_event(r, EV_KEY, KEY_Q, 1, T));
	ITEST_ASSERT(treader_wait_event(r, EV_KEY, KEY_Q, 0, T));
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
	free(node);
}

/* ---- the file-descriptor store, simulated ---- */

struct stored {
	int fd;
	char name[96];
};

struct fdstore_sim {
	int fd;
	char *path;
	struct stored st[32];
	size_t n;
	char removed[32][96]; /* names of FDSTOREREMOVE=1 messages */
	size_t n_removed;
	int ready; /* READY=1 messages */
};

static bool same_file(int a, int b)
{
	pid_t me = getpid();
	return syscall(SYS_kcmp, me, me, KCMP_FILE, a, b) == 0;
}

static void sim_finish(void *data)
{
	struct fdstore_sim *s = data;
	for (size_t i = 0; i < s->n; i++)
		close(s->st[i].fd);
	close(s->fd);
	free(s->path);
	free(s);
}

static struct fdstore_sim *sim_start(void)
{
	struct fdstore_sim *s = calloc(1, sizeof(*s));
	ITEST_ASSERT_NOT_NULL(s);
	s->path = itest_tmpfile("notify.sock");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ITEST_ASSERT(strlen(s->path) < sizeof(sa.sun_path));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ITEST_ASSERT_SYSCALL(s->fd);
	ITEST_ASSERT_SYSCALL(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)));
	itest_defer(sim_finish, s);
	return s;
}

/* What systemd does with one notification: FDSTORE=1 keeps the fds (a
 * duplicate of one it holds is dropped), FDSTOREREMOVE=1 closes those of
 * that name. */
static void sim_message(struct fdstore_sim *s, char *text, int *fds, size_t nfds)
{
	bool store = false, remove = false;
	char name[96] = "stored";
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(l, "FDSTORE=1"))
			store = true;
		else if (!strcmp(l, "FDSTOREREMOVE=1"))
			remove = true;
		else if (!strcmp(l, "READY=1"))
			s->ready++;
		else if (!strncmp(l, "FDNAME=", 7))
			snprintf(name, sizeof(name), "%s", l + 7);
	}
	if (remove) {
		if (s->n_removed < 32)
			snprintf(s->removed[s->n_removed++], sizeof(s->removed[0]), "%s", name);
		for (size_t i = 0; i < s->n;) {
			if (strcmp(s->st[i].name, name) == 0) {
				close(s->st[i].fd);
				s->st[i] = s->st[--s->n];
			} else {
				i++;
			}
		}
	}
	for (size_t i = 0; i < nfds; i++) {
		bool dup = false;
		for (size_t j = 0; j < s->n && !dup; j++)
			dup = same_file(s->st[j].fd, fds[i]);
		if (!store || dup || s->n >= 32) {
			close(fds[i]);
			continue;
		}
		s->st[s->n].fd = fds[i];
		snprintf(s->st[s->n++].name, sizeof(s->st[0].name), "%s", name);
	}
}

/* Handles every queued notification, waiting up to timeout_ms for one. */
static void sim_poll(struct fdstore_sim *s, int timeout_ms)
{
	struct pollfd p = { s->fd, POLLIN, 0 };
	if (poll(&p, 1, timeout_ms) <= 0)
		return;
	for (;;) {
		char buf[4096];
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int) * 16)];
		} ctl;
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
		ssize_t r = recvmsg(s->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (r < 0)
			return;
		buf[r] = '\0';
		int fds[16];
		size_t nfds = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfds < 16; i++)
					memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		sim_message(s, buf, fds, nfds);
	}
}

static bool sim_has(const struct fdstore_sim *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->st[i].name, name) == 0)
			return true;
	return false;
}

static bool sim_wait(struct fdstore_sim *s, const char *const names[], int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		bool all = true;
		for (size_t i = 0; names[i]; i++)
			all &= sim_has(s, names[i]);
		if (all)
			return true;
		if (itest_now_ms() > deadline)
			return false;
		sim_poll(s, 100);
	}
}

static bool sim_removed(const struct fdstore_sim *s, const char *name)
{
	for (size_t i = 0; i < s->n_removed; i++)
		if (strcmp(s->removed[i], name) == 0)
			return true;
	return false;
}

/* Starts the daemon as systemd would: NOTIFY_SOCKET, and the stored fds as
 * fds 3... with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (set by a bash
 * that then execs the daemon, keeping its pid). */
static struct ksd *sim_start_daemon(struct fdstore_sim *s, const char *cfg)
{
	sim_poll(s, 0);
	char notify[PATH_MAX + 32], nfds[32], names[2048] = "", pass[512] = "";
	snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", s->path);
	int high[32];
	for (size_t i = 0; i < s->n; i++) {
		high[i] = fcntl(s->st[i].fd, F_DUPFD, 100); /* without FD_CLOEXEC: inherited */
		ITEST_ASSERT_SYSCALL(high[i]);
		size_t l = strlen(names), lp = strlen(pass);
		snprintf(names + l, sizeof(names) - l, "%s%s", i ? ":" : "", s->st[i].name);
		snprintf(pass + lp, sizeof(pass) - lp, "%s%d", i ? " " : "", high[i]);
	}
	snprintf(nfds, sizeof(nfds), "LISTEN_FDS=%zu", s->n);
	char fdnames[2100], passenv[530];
	snprintf(fdnames, sizeof(fdnames), "LISTEN_FDNAMES=%s", names);
	snprintf(passenv, sizeof(passenv), "KS_PASS_FDS=%s", pass);
	const char *env[] = { notify, nfds, fdnames, passenv, NULL };
	const char *wrapper[] = { "/bin/bash", "-c",
				  "i=3; for fd in $KS_PASS_FDS; do eval \"exec $i<&$fd $fd<&-\"; i=$((i+1)); done; "
				  "unset KS_PASS_FDS; export LISTEN_PID=$$; exec \"$@\"",
				  "kvmswitch-under-a-simulated-systemd", NULL };
	if (s->n == 0)
		env[1] = NULL;
	struct ksd *k = ksd_start_as(cfg, env, wrapper);
	for (size_t i = 0; i < s->n; i++)
		close(high[i]);
	sim_poll(s, 0);
	return k;
}

/* Watches udev for the removal of some devices. */
struct removal_watch {
	struct udev *udev;
	struct udev_monitor *mon;
	char syspath[8][PATH_MAX];
	size_t n;
	size_t seen; /* removals seen so far */
};

static void watch_finish(void *data)
{
	struct removal_watch *w = data;
	udev_monitor_unref(w->mon);
	udev_unref(w->udev);
	free(w);
}

static struct removal_watch *watch_start(void)
{
	struct removal_watch *w = calloc(1, sizeof(*w));
	ITEST_ASSERT_NOT_NULL(w);
	w->udev = udev_new();
	w->mon = udev_monitor_new_from_netlink(w->udev, "udev");
	ITEST_ASSERT_NOT_NULL(w->mon);
	ITEST_ASSERT(udev_monitor_filter_add_match_subsystem_devtype(w->mon, "input", NULL) >= 0);
	ITEST_ASSERT(udev_monitor_enable_receiving(w->mon) >= 0);
	udev_monitor_set_receive_buffer_size(w->mon, 4 * 1024 * 1024);
	itest_defer(watch_finish, w);
	return w;
}

static void watch_add(struct removal_watch *w, const char *node)
{
	struct udev_device *d = udev_dev(node);
	snprintf(w->syspath[w->n++], PATH_MAX, "%s", udev_device_get_syspath(d));
	udev_device_unref(d);
}

/* How many of the watched devices udev announced removed, waiting up to
 * timeout_ms for `want` of them (0: just what is queued). */
static size_t watch_removed(struct removal_watch *w, size_t want, int timeout_ms)
{
	size_t *seen = &w->seen;
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { udev_monitor_get_fd(w->mon), POLLIN, 0 };
		int64_t left64 = deadline - itest_now_ms();
		int left = left64 < 0 ? 0 : (int)left64;
		if (*seen >= want && want > 0)
			return *seen;
		if (poll(&p, 1, want > 0 ? left : 0) <= 0)
			return *seen;
		struct udev_device *d;
		while ((d = udev_monitor_receive_device(w->mon))) {
			const char *a = udev_device_get_action(d), *sp = udev_device_get_syspath(d);
			for (size_t i = 0; a && sp && !strcmp(a, "remove") && i < w->n; i++)
				if (!strcmp(sp, w->syspath[i])) {
					itest_log("udev: %s removed", sp);
					(*seen)++;
				}
			udev_device_unref(d);
		}
		if (want == 0)
			return *seen;
	}
}

#define CFG_WIN KSD_MATCH_TEST_DEVICES "[general]\nstart = win\n[target win]\n"

/* The daemon restarts under a (simulated) service manager while QEMU holds
 * the guest devices: the nodes stay, QEMU keeps its fds and receives keys
 * from the new daemon through them; a key held at the restart is released
 * on the guest. */
ITEST_TIMEOUT(fdstore_restart_keeps_guest_devices_in_qemu, 400)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct fdstore_sim *s = sim_start();
	struct ksd *k1 = sim_start_daemon(s, CFG_WIN);
	ITEST_ASSERT(ksd_wait_input(k1, tdev_devnode(kbd), true, T));
	ITEST_ASSERT(ksd_wait_input(k1, tdev_devnode(mouse), true, T));
	const char *const names[] = { "vdev/win/keyboard", "vdev/win/pointer", NULL };
	ITEST_ASSERT_MSG(sim_wait(s, names, T), "the daemon did not store its guest devices (%zu fds stored)", s->n);
	ITEST_ASSERT_EQ_INT(s->n, 2); /* the host target is native: nothing of it */
	for (int64_t until = itest_now_ms() + T; !s->ready && itest_now_ms() < until;)
		sim_poll(s, 100);
	ITEST_ASSERT_GE_INT(s->ready, 1);

	char *nodes[2] = { ksd_vdev_node(k1, "win", "keyboard"), ksd_vdev_node(k1, "win", "pointer") };
	struct stat before[2];
	for (int i = 0; i < 2; i++)
		ITEST_ASSERT_SYSCALL(stat(nodes[i], &before[i]));
	struct qemu_consumer *q = qemu_consumer_start((const char *const *)nodes, 2, NULL);
	struct removal_watch *w = watch_start();
	watch_add(w, nodes[0]);
	watch_add(w, nodes[1]);

	/* QEMU reads each node on its own: one device at a time. */
	tdev_tap(kbd, KEY_A);
	QEMU_CONSUMER_EXPECT(q, 0, 60000, "key a 1", "key a 0");
	TDEV_FRAME(mouse, { EV_REL, REL_X, 7 });
	QEMU_CONSUMER_EXPECT(q, 2, 60000, "rel x 7");
	size_t n;
	qemu_consumer_events(q, &n);

	/* Shift held while the daemon stops: released on the guest, through
	 * the device that survives. */
	tdev_key(kbd, KEY_LEFTSHIFT, 1);
	QEMU_CONSUMER_EXPECT(q, n, 60000, "key shift 1");
	ITEST_ASSERT_EQ_INT(ksd_stop(k1), 0);
	QEMU_CONSUMER_EXPECT(q, n, 60000, "key shift 1", "key shift 0");
	tdev_key(kbd, KEY_LEFTSHIFT, 0);
	sim_poll(s, 0);
	for (int i = 0; i < 2; i++) {
		struct stat st;
		ITEST_ASSERT_MSG(stat(nodes[i], &st) == 0 && st.st_rdev == before[i].st_rdev,
				 "%s changed or vanished while the daemon was down", nodes[i]);
	}
	ITEST_ASSERT_EQ_INT(watch_removed(w, 0, 0), 0);

	struct ksd *k2 = sim_start_daemon(s, CFG_WIN);
	ITEST_ASSERT(ksd_wait_input(k2, tdev_devnode(kbd), true, T));
	char *log = itest_read_file(tproc_stderr_path(ksd_proc(k2)), NULL);
	ITEST_ASSERT_NOT_NULL(log);
	ITEST_ASSERT_STR_CONTAINS(log, "kvmswitch win keyboard is ");
	ITEST_ASSERT_MSG(strstr(log, "(kept across the restart)"), "the new daemon did not adopt the stored devices:\n%.2000s",
			 log);
	free(log);
	for (int i = 0; i < 2; i++) {
		char *now = ksd_vdev_node(k2, "win", i ? "pointer" : "keyboard");
		ITEST_ASSERT_STR_EQ(now, nodes[i]);
		free(now);
	}
	/* QEMU still holds the very same devices, and they still work. */
	qemu_consumer_events(q, &n);
	tdev_tap(kbd, KEY_B);
	QEMU_CONSUMER_EXPECT(q, n, 60000, "key b 1", "key b 0");
	TDEV_FRAME(mouse, { EV_REL, REL_Y, -4 });
	QEMU_CONSUMER_EXPECT(q, n + 2, 60000, "rel y -4");
	ITEST_ASSERT_EQ_INT(watch_removed(w, 0, 0), 0);
	char fddir[64];
	snprintf(fddir, sizeof(fddir), "/proc/%d/fd", (int)tproc_pid(qemu_consumer_proc(q)));
	DIR *d = opendir(fddir);
	ITEST_ASSERT_NOT_NULL(d);
	int held = 0;
	for (struct dirent *e; (e = readdir(d));) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISCHR(st.st_mode))
			held += st.st_rdev == before[0].st_rdev || st.st_rdev == before[1].st_rdev;
	}
	closedir(d);
	ITEST_ASSERT_EQ_INT(held, 2);
	/* The new daemon adopted; it stored nothing new. */
	sim_poll(s, 200);
	ITEST_ASSERT_EQ_INT(s->n, 2);
	qemu_consumer_stop(q);
	ITEST_ASSERT_EQ_INT(ksd_stop(k2), 0);
	free(nodes[0]);
	free(nodes[1]);
}

/* The negative control: without a service manager the devices go with the
 * daemon (so the checks above can fail). */
ITEST_TIMEOUT(without_store_devices_vanish_on_exit, 120)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_WIN);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, T));
	char *node = ksd_vdev_node(k, "win", "keyboard");
	struct removal_watch *w = watch_start();
	watch_add(w, node);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
	ITEST_ASSERT_EQ_INT(watch_removed(w, 1, T), 1);
	free(node);
}

/* A restart with a configuration that dropped a target: its stored devices
 * are destroyed and removed from the store; the kept target's are adopted. */
ITEST_TIMEOUT(fdstore_drops_devices_no_target_wants, 120)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct fdstore_sim *s = sim_start();
	struct ksd *k1 = sim_start_daemon(s, CFG_WIN "[target old]\n");
	ITEST_ASSERT(ksd_wait_input(k1, tdev_devnode(kbd), true, T));
	const char *const names[] = { "vdev/win/keyboard", "vdev/win/pointer", "vdev/old/keyboard", "vdev/old/pointer",
				      NULL };
	ITEST_ASSERT(sim_wait(s, names, T));
	char *win = ksd_vdev_node(k1, "win", "keyboard");
	char *old[2] = { ksd_vdev_node(k1, "old", "keyboard"), ksd_vdev_node(k1, "old", "pointer") };
	struct removal_watch *w = watch_start();
	watch_add(w, old[0]);
	watch_add(w, old[1]);
	watch_add(w, win);
	ITEST_ASSERT_EQ_INT(ksd_stop(k1), 0);
	ITEST_ASSERT_EQ_INT(watch_removed(w, 0, 0), 0);

	struct ksd *k2 = sim_start_daemon(s, CFG_WIN);
	ITEST_ASSERT(ksd_wait_input(k2, tdev_devnode(kbd), true, T));
	ITEST_ASSERT_EQ_INT(watch_removed(w, 2, T), 2);
	sim_poll(s, 500);
	ITEST_ASSERT(sim_removed(s, "vdev/old/keyboard"));
	ITEST_ASSERT(sim_removed(s, "vdev/old/pointer"));
	ITEST_ASSERT(!sim_removed(s, "vdev/win/keyboard"));
	ITEST_ASSERT_EQ_INT(s->n, 2);
	char *now = ksd_vdev_node(k2, "win", "keyboard");
	ITEST_ASSERT_STR_EQ(now, win);
	ITEST_ASSERT_NULL(treader_find_node("kvmswitch old keyboard", 0));
	/* The win keyboard was not among the removed. */
	ITEST_ASSERT_EQ_INT(watch_removed(w, 0, 0), 2);
	free(now);
	free(win);
	free(old[0]);
	free(old[1]);
}

/* ---- a real systemd (252 on Debian 12): a user manager for root ---- */

static void write_text(const char *path, const char *text);

/* The VM has no systemd as PID 1, but a user manager runs there: with
 * cgroup2 mounted and /run/systemd/system present (sd_booted()). Root's
 * user manager can apply the whole sandbox of the system unit, too. */
struct sysd {
	struct tproc *proc;
	bool made_booted; /* we created /run/systemd/system */
	char unitdir[PATH_MAX];
	const char *units[4];
	size_t n_units;
};

static int systemctl(const char *const args[], char **out)
{
	const char *argv[16] = { "systemctl", "--user", "--no-pager" };
	size_t n = 3;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char *err = NULL;
	int st = tproc_run(argv, NULL, out, &err, 120000);
	if (st != 0)
		itest_log("systemctl --user %s: status %d: %.400s", args[0], st, err);
	free(err);
	return st;
}

#define SYSTEMCTL(...) systemctl((const char *const[]){ __VA_ARGS__, NULL }, NULL)

static void sysd_finish(void *data)
{
	struct sysd *s = data;
	/* The services are not in the manager's process group: stop them
	 * before the manager goes. */
	for (size_t i = 0; i < s->n_units; i++) {
		char path[PATH_MAX + 128];
		SYSTEMCTL("stop", s->units[i]);
		snprintf(path, sizeof(path), "%s/%s", s->unitdir, s->units[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.d/test-log.conf", s->unitdir, s->units[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.d/vm-quirks.conf", s->unitdir, s->units[i]);
		unlink(path);
	}
	if (tproc_running(s->proc)) {
		tproc_kill(s->proc, SIGTERM);
		tproc_wait(s->proc, 30000);
	}
	if (itest_case_failed())
		tproc_dump(s->proc);
	if (s->made_booted)
		rmdir("/run/systemd/system"); /* later programs see no systemd */
	free(s);
}

static struct sysd *sysd_start(void)
{
	if (!itest_in_vm())
		itest_skip("starts a systemd user manager for root: runs only in the test VM");
	const char *rt = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	ITEST_ASSERT_MSG(rt && home, "XDG_RUNTIME_DIR and HOME must be set");
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0)
		RUN_OK("mount", "-t", "cgroup2", "none", "/sys/fs/cgroup");
	struct sysd *s = calloc(1, sizeof(*s));
	ITEST_ASSERT_NOT_NULL(s);
	mkdir("/run/systemd", 0755);
	s->made_booted = mkdir("/run/systemd/system", 0755) == 0;
	snprintf(s->unitdir, sizeof(s->unitdir), "%s/.config/systemd/user", home);
	RUN_OK("mkdir", "-p", s->unitdir);
	/* Start nothing but an empty target: default.target would start
	 * dbus, gpg-agent and friends. */
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/kvmswitch-test-idle.target", s->unitdir);
	FILE *f = fopen(path, "we");
	ITEST_ASSERT_NOT_NULL(f);
	fputs("[Unit]\nDescription=nothing\n", f);
	fclose(f);
	char priv[PATH_MAX];
	snprintf(priv, sizeof(priv), "%s/systemd/private", rt);
	unlink(priv); /* an earlier case's manager's */
	const char *const argv[] = { "/lib/systemd/systemd", "--user", "--unit=kvmswitch-test-idle.target",
				     "--log-target=console", "--log-level=info", NULL };
	s->proc = tproc_spawn(argv, NULL);
	itest_defer(sysd_finish, s);
	int64_t deadline = itest_now_ms() + 120000;
	const char *const probe[] = { "systemctl", "--user", "show", "-p", "Version", NULL };
	while (access(priv, F_OK) != 0 || tproc_run(probe, NULL, NULL, NULL, 30000) != 0) {
		if (!tproc_running(s->proc)) {
			tproc_dump(s->proc);
			ITEST_FAIL("the systemd user manager exited (status %d)", tproc_wait(s->proc, 0));
		}
		ITEST_ASSERT_MSG(itest_now_ms() < deadline, "the systemd user manager did not start");
		usleep(200000);
	}
	return s;
}

/* Installs a staged unit into the manager, ExecStart and ExecReload on the
 * built binary, and a drop-in sending its output to a file (the VM has no
 * journal). Returns that file's path (malloc'd). */
static char *sysd_add_unit(struct sysd *s, const char *dest, const char *staged, const char *name)
{
	/* The unit runs the staged install's copy of the build's binary. */
	char to[PATH_MAX + 64], bin[PATH_MAX + 32];
	snprintf(to, sizeof(to), "%s/%s", s->unitdir, name);
	snprintf(bin, sizeof(bin), "%s/usr/bin/kvmswitch", dest);
	copy_unit(staged, to, bin);
	char dropin[PATH_MAX + 96], text2[2 * PATH_MAX + 160];
	char *log = itest_tmpfile(name);
	snprintf(dropin, sizeof(dropin), "%s/%s.d/test-log.conf", s->unitdir, name);
	snprintf(text2, sizeof(text2), "[Service]\nStandardOutput=append:%s.stderr\nStandardError=append:%s.stderr\n", log, log);
	if (itest_binary_has_asan(bin)) {
		/* LeakSanitizer stops the world with ptrace, which the units'
		 * sandbox (SystemCallFilter) forbids: it dies with "fatal
		 * error" at every exit. The daemon's leaks are checked outside
		 * systemd (make asan's other cases, valgrind). */
		itest_log("an ASan build: leak checking off for %s", name);
		size_t l = strlen(text2);
		snprintf(text2 + l, sizeof(text2) - l, "Environment=ASAN_OPTIONS=detect_leaks=0\n");
	}
	write_text(dropin, text2);
	s->units[s->n_units++] = name;
	ITEST_ASSERT_EQ_INT(SYSTEMCTL("daemon-reload"), 0);
	char *path;
	if (asprintf(&path, "%s.stderr", log) < 0)
		ITEST_FAIL("out of memory");
	free(log);
	return path;
}

/* Options that mask paths (ProtectHome=, ProtectKernelTunables=, ...: an
 * "inaccessible" node mounted over each) fail any unit in the test VM, whose
 * root is an overlay on 9p ("Failed to set up mount namespacing:
 * /run/systemd/unit-root/home: No such file or directory"). Each sandbox
 * option is probed alone on /bin/true; those that fail there are turned off
 * for `unit` by a drop-in, and said so. The rest of the unit stays as
 * installed. */
static void sysd_vm_quirks(struct sysd *s, const char *unit)
{
	static const char *const opts[] = { "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
					    "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
					    "ProtectKernelLogs=yes", "ProtectControlGroups=yes", "ProtectProc=invisible" };
	enum { N = sizeof(opts) / sizeof(opts[0]) };
	char off[1024] = "[Service]\n", path[PATH_MAX + 640], names[N][64];
	size_t n_off = 0;
	for (size_t i = 0; i < N; i++) {
		char text[256];
		snprintf(names[i], sizeof(names[i]), "kvmswitch-probe-%zu.service", i);
		snprintf(path, sizeof(path), "%s/%s", s->unitdir, names[i]);
		snprintf(text, sizeof(text), "[Service]\nType=oneshot\nExecStart=/bin/true\n%s\n", opts[i]);
		write_text(path, text);
	}
	ITEST_ASSERT_EQ_INT(SYSTEMCTL("daemon-reload"), 0);
	for (size_t i = 0; i < N; i++) {
		int st = SYSTEMCTL("start", names[i]);
		snprintf(path, sizeof(path), "%s/%s", s->unitdir, names[i]);
		unlink(path);
		if (st == 0)
			continue;
		char key[64];
		snprintf(key, sizeof(key), "%.*s", (int)(strchr(opts[i], '=') - opts[i]), opts[i]);
		itest_log("the test VM cannot apply %s to any unit: turned off for %s", opts[i], unit);
		size_t l = strlen(off);
		snprintf(off + l, sizeof(off) - l, "%s=no\n", key);
		n_off++;
	}
	/* Seen: the four path-masking ones. More would mean something else. */
	ITEST_ASSERT_MSG(n_off <= 4, "the test VM cannot apply %zu of the sandbox's mount options", n_off);
	if (n_off) {
		snprintf(path, sizeof(path), "%s/%s.d/vm-quirks.conf", s->unitdir, unit);
		write_text(path, off);
	}
}

/* `systemctl --user show -p PROP --value UNIT` as a number. */
static long sysd_prop(const char *unit, const char *prop)
{
	char *out = NULL;
	const char *const args[] = { "show", "-p", prop, "--value", unit, NULL };
	ITEST_ASSERT_EQ_INT(systemctl(args, &out), 0);
	long v = strtol(out, NULL, 10);
	free(out);
	return v;
}

static bool sysd_active(const char *unit)
{
	char *out = NULL;
	const char *const args[] = { "show", "-p", "ActiveState", "--value", unit, NULL };
	ITEST_ASSERT_EQ_INT(systemctl(args, &out), 0);
	bool r = strncmp(out, "active\n", 7) == 0;
	free(out);
	return r;
}

/* `kvmswitch status --json` through the socket until it contains want. */
static bool status_has(const char *sock, const char *want, int timeout_ms)
{
	char env[PATH_MAX + 32];
	snprintf(env, sizeof(env), "KVMSWITCH_SOCKET=%s", sock);
	const char *const envs[] = { env, NULL };
	const char *const argv[] = { ksd_binary(), "status", "--json", NULL };
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		char *out = NULL;
		int st = tproc_run(argv, envs, &out, NULL, 20000);
		bool ok = st == 0 && strstr(out, want);
		free(out);
		if (ok)
			return true;
		if (itest_now_ms() > deadline)
			return false;
		usleep(200000);
	}
}

/* A key typed on the test keyboard arrives on the guest keyboard. */
static void key_reaches(struct tdev *kbd, struct treader *r, unsigned code)
{
	treader_drain(r);
	tdev_tap(kbd, code);
	ITEST_ASSERT_MSG(treader_wait_event(r, EV_KEY, code, 1, T), "the key did not reach %s", treader_devnode(r));
	ITEST_ASSERT(treader_wait_event(r, EV_KEY, code, 0, T));
}

static void write_text(const char *path, const char *text)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	const char *const argv[] = { "mkdir", "-p", dirname(dir), NULL };
	ITEST_ASSERT_EQ_INT(tproc_run(argv, NULL, NULL, NULL, 20000), 0);
	FILE *f = fopen(path, "we");
	ITEST_ASSERT_MSG(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	ITEST_ASSERT(fclose(f) == 0);
}

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

/* The sysdwin target's keyboard, open for reading, once the unit's daemon
 * has grabbed the test keyboard. */
static struct treader *sysd_guest_keyboard(const char *sock)
{
	char *node = treader_find_node("kvmswitch sysdwin keyboard", T);
	ITEST_ASSERT_NOT_NULL(node);
	struct treader *r = treader_open(node, false);
	free(node);
	unsigned rep[2] = { 60000, 60000 };
	ioctl(treader_fd(r), EVIOCSREP, rep);
	ITEST_ASSERT(status_has(sock, "\"grabbed\":true", T));
	return r;
}

/* What realtime = auto got under a unit: status says it, the kernel agrees
 * (the policy of the daemon's main thread, priority 10, reset on fork), and
 * the memory lock. */
static void assert_realtime(const char *sock, long pid, int policy, const char *granted_by, bool locked)
{
	char want[256];
	snprintf(want, sizeof(want), "\"policy\":\"%s\",\"priority\":10,\"granted_by\":\"%s\"",
		 policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_RR", granted_by);
	ITEST_ASSERT_MSG(status_has(sock, want, T), "status lacks %s", want);
	/* ASan's runtime makes mlockall a no-op that succeeds: an ASan build
	 * says locked where the limit would refuse it. */
	if (!locked && itest_binary_has_asan(ksd_binary()))
		locked = true;
	ITEST_ASSERT(status_has(sock, locked ? "\"memory_locked\":true" : "\"memory_locked\":false", T));
	int p = sched_getscheduler((pid_t)pid);
	struct sched_param sp = { 0 };
	ITEST_ASSERT_SYSCALL(sched_getparam((pid_t)pid, &sp));
	itest_log("the daemon (pid %ld) runs policy %d, priority %d, granted by %s", pid, p, sp.sched_priority,
		  granted_by);
	ITEST_ASSERT_EQ_INT(p, policy | SCHED_RESET_ON_FORK);
	ITEST_ASSERT_EQ_INT(sp.sched_priority, 10);
}

/* Devices and a target of their own: a daemon left behind by a killed case
 * must not take other cases' devices. */
#define SYSD_CFG                                                                                     \
	"[general]\nstart = sysdwin\n[input]\nmatch = name:\"" ITEST_DEVICE_PREFIX "sysd-*\"\n[target sysdwin]\n"

/* The installed user unit under systemd 252: Type=notify start, reload,
 * `systemctl restart` and a crash restarted by Restart=on-failure all keep
 * the guest device (the fd store); `systemctl stop` empties the store and
 * the device goes. */
ITEST_TIMEOUT(systemd_user_unit_restarts_keep_guest_device, 600)
{
	struct sysd *s = sysd_start();
	char *dest = stage_install_for_units();
	char staged[PATH_MAX + 64], cfg[PATH_MAX], sock[PATH_MAX];
	snprintf(staged, sizeof(staged), "%s/usr/lib/systemd/user/kvmswitch.service", dest);
	snprintf(cfg, sizeof(cfg), "%s/.config/kvmswitch/kvmswitch.conf", getenv("HOME"));
	snprintf(sock, sizeof(sock), "%s/kvmswitch.sock", getenv("XDG_RUNTIME_DIR"));
	write_text(cfg, SYSD_CFG);
	char *unitlog = sysd_add_unit(s, dest, staged, "kvmswitch.service");
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "sysd-kbd");

	/* Type=notify: start returns once READY=1 came. */
	ITEST_ASSERT_EQ_INT(SYSTEMCTL("start", "kvmswitch.service"), 0);
	ITEST_ASSERT(sysd_active("kvmswitch.service"));
	ITEST_ASSERT_EQ_INT(sysd_prop("kvmswitch.service", "NFileDescriptorStore"), 2);
	char *node = treader_find_node("kvmswitch sysdwin keyboard", T);
	ITEST_ASSERT_NOT_NULL(node);
	struct stat before;
	ITEST_ASSERT_SYSCALL(stat(node, &before));
	struct treader *r = treader_open(node, false);
	unsigned rep[2] = { 60000, 60000 };
	ioctl(treader_fd(r), EVIOCSREP, rep);
	struct removal_watch *w = watch_start();
	watch_add(w, node);
	ITEST_ASSERT(status_has(sock, "\"grabbed\":true", T));
	key_reaches(kbd, r, KEY_A);
	/* Root's user manager: the daemon has CAP_SYS_NICE. */
	assert_realtime(sock, sysd_prop("kvmswitch.service", "MainPID"), SCHED_FIFO, "CAP_SYS_NICE", true);

	/* systemctl reload: ExecReload=kvmswitch reload, synchronous. */
	ITEST_ASSERT_EQ_INT(SYSTEMCTL("reload", "kvmswitch.service"), 0);
	ITEST_ASSERT(status_has(sock, "\"reloads\":1", T));

	long pid = sysd_prop("kvmswitch.service", "MainPID");
	ITEST_ASSERT_EQ_INT(SYSTEMCTL("restart", "kvmswitch.service"), 0);
	ITEST_ASSERT(sysd_active("kvmswitch.service"));
	ITEST_ASSERT_NE_INT(sysd_prop("kvmswitch.service", "MainPID"), pid);
	ITEST_ASSERT_EQ_INT(sysd_prop("kvmswitch.service", "NFileDescriptorStore"), 2);
	ITEST_ASSERT(status_has(sock, "\"grabbed\":true", T));
	key_reaches(kbd, r, KEY_B);
	ITEST_ASSERT_EQ_INT(watch_removed(w, 0, 0), 0);

	/* A crash: Restart=on-failure (RestartSec=2s) starts it again. */
	pid = sysd_prop("kvmswitch.service", "MainPID");
	ITEST_ASSERT_SYSCALL(kill((pid_t)pid, SIGSEGV));
	int64_t deadline = itest_now_ms() + 60000;
	while (sysd_prop("kvmswitch.service", "NRestarts") < 1 || !sysd_active("kvmswitch.service") ||
	       sysd_prop("kvmswitch.service", "MainPID") == pid)
		ITEST_ASSERT_MSG(itest_now_ms() < deadline, "kvmswitch was not restarted after a crash");
	ITEST_ASSERT_EQ_INT(sysd_prop("kvmswitch.service", "NFileDescriptorStore"), 2);
	ITEST_ASSERT(status_has(sock, "\"grabbed\":true", T));
	key_reaches(kbd, r, KEY_C);
	ITEST_ASSERT_EQ_INT(watch_removed(w, 0, 0), 0);
	struct stat after;
	ITEST_ASSERT_SYSCALL(stat(node, &after));
	ITEST_ASSERT_EQ_INT(after.st_rdev, before.st_rdev);
	ITEST_ASSERT(!treader_gone(r));
	char *log = itest_read_file(unitlog, NULL);
	ITEST_ASSERT_NOT_NULL(log);
	ITEST_ASSERT_STR_CONTAINS(log, "kvmswitch sysdwin keyboard is ");
	ITEST_ASSERT_STR_CONTAINS(log, "(kept across the restart)");
	free(log);
	free(unitlog);

	/* systemctl stop: the unit becomes inactive with no job left, systemd
	 * empties the store, and the device goes. */
	ITEST_ASSERT_EQ_INT(SYSTEMCTL("stop", "kvmswitch.service"), 0);
	ITEST_ASSERT_EQ_INT(sysd_prop("kvmswitch.service", "NFileDescriptorStore"), 0);
	ITEST_ASSERT_EQ_INT(watch_removed(w, 1, T), 1);
	unlink(cfg);
	free(node);
	free(dest);
}

/* The installed system unit's sandbox, applied by systemd (root's user
 * manager applies it all): the daemon runs without capabilities, under
 * seccomp and no-new-privileges, and still takes, forwards and reloads. */
ITEST_TIMEOUT(systemd_system_unit_sandbox_works, 600)
{
	struct sysd *s = sysd_start();
	char *dest = stage_install_for_units();
	char staged[PATH_MAX + 64], sock[PATH_MAX];
	snprintf(staged, sizeof(staged), "%s/usr/lib/systemd/system/kvmswitch.service", dest);
	snprintf(sock, sizeof(sock), "%s/kvmswitch/kvmswitch.sock", getenv("XDG_RUNTIME_DIR"));
	write_text("/etc/kvmswitch/kvmswitch.conf", SYSD_CFG);
	sysd_vm_quirks(s, "kvmswitch-system.service");
	free(sysd_add_unit(s, dest, staged, "kvmswitch-system.service"));
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "sysd-kbd");

	ITEST_ASSERT_EQ_INT(SYSTEMCTL("start", "kvmswitch-system.service"), 0);
	ITEST_ASSERT(sysd_active("kvmswitch-system.service"));
	long pid = sysd_prop("kvmswitch-system.service", "MainPID");
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	char *st = itest_read_file(path, NULL);
	ITEST_ASSERT_NOT_NULL(st);
	ITEST_ASSERT_STR_CONTAINS(st, "\nCapEff:\t0000000000000000\n");
	ITEST_ASSERT_STR_CONTAINS(st, "\nCapBnd:\t0000000000000000\n");
	ITEST_ASSERT_STR_CONTAINS(st, "\nNoNewPrivs:\t1\n");
	ITEST_ASSERT_STR_CONTAINS(st, "\nSeccomp:\t2\n");
	free(st);
	/* ProtectSystem=strict: / is read-only for it. */
	snprintf(path, sizeof(path), "/proc/%ld/mountinfo", pid);
	char *mi = itest_read_file(path, NULL);
	ITEST_ASSERT_NOT_NULL(mi);
	ITEST_ASSERT_MSG(strstr(mi, " / / ro,") || strstr(mi, " / / ro "), "/ is not read-only for the service:\n%.600s",
			 mi);
	free(mi);

	struct treader *r = sysd_guest_keyboard(sock);
	key_reaches(kbd, r, KEY_Z);
	/* No capabilities: LimitRTPRIO= and LimitMEMLOCK= grant realtime = auto. */
	assert_realtime(sock, pid, SCHED_FIFO, "RLIMIT_RTPRIO", true);
	ITEST_ASSERT_EQ_INT(SYSTEMCTL("reload", "kvmswitch-system.service"), 0);
	ITEST_ASSERT(status_has(sock, "\"reloads\":1", T));
	ITEST_ASSERT_EQ_INT(sysd_prop("kvmswitch-system.service", "NFileDescriptorStore"), 2);
	ITEST_ASSERT_EQ_INT(SYSTEMCTL("stop", "kvmswitch-system.service"), 0);
	unlink("/etc/kvmswitch/kvmswitch.conf");
	free(dest);
}

/* ---- RealtimeKit on the system bus ---- */

static void wait_for(const char *const argv[], const char *what, struct tproc *p)
{
	int64_t deadline = itest_now_ms() + 120000;
	while (tproc_run(argv, NULL, NULL, NULL, 30000) != 0) {
		if (p && !tproc_running(p)) {
			tproc_dump(p);
			ITEST_FAIL("%s exited (status %d)", what, tproc_wait(p, 0));
		}
		ITEST_ASSERT_MSG(itest_now_ms() < deadline, "%s did not come up", what);
		usleep(200000);
	}
}

/* Waits until `name` has an owner on the system bus (no activation). */
static void wait_for_name(const char *name, struct tproc *p)
{
	const char *const argv[] = { "busctl", "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
				     "org.freedesktop.DBus", "GetNameOwner", "s", name, NULL };
	wait_for(argv, name, p);
}

/* A D-Bus system bus with polkit and RealtimeKit on it, as a desktop has
 * them (only in the test VM; stopped when the case ends). */
static void system_bus_with_rtkit(void)
{
	if (!itest_in_vm())
		itest_skip("starts a D-Bus system bus, polkitd and rtkit-daemon: runs only in the test VM");
	RUN_OK("mkdir", "-p", "/run/dbus");
	const char *const bus[] = { "dbus-daemon", "--system", "--nofork", "--nopidfile", NULL };
	wait_for_name("org.freedesktop.DBus", tproc_spawn(bus, NULL));
	/* (With --no-debug, polkitd 122 never took its name here.) */
	const char *const pk[] = { "/usr/lib/polkit-1/polkitd", NULL };
	wait_for_name("org.freedesktop.PolicyKit1", tproc_spawn(pk, NULL));
	/* --no-limit-resources: with RLIMIT_FSIZE 0, its --stderr log into a
	 * file would kill it (SIGXFSZ). */
	const char *const kit[] = { "/usr/libexec/rtkit-daemon", "--stderr", "--no-limit-resources", NULL };
	wait_for_name("org.freedesktop.RealtimeKit1", tproc_spawn(kit, NULL));
}

static void unlink_path(void *path)
{
	unlink(path);
	free(path);
}

/* The user unit of a user with neither CAP_SYS_NICE nor RLIMIT_RTPRIO (a
 * drop-in takes root's away, as a desktop user has none): realtime = auto
 * gets SCHED_RR at priority 10 from RealtimeKit over the system bus, which
 * the unit's sandbox lets it reach. Without CAP_IPC_LOCK, under the user
 * manager's RLIMIT_MEMLOCK (8 MiB), its memory is not locked. */
ITEST_TIMEOUT(systemd_user_unit_realtime_through_rtkit, 600)
{
	system_bus_with_rtkit();
	struct sysd *s = sysd_start();
	char *dest = stage_install_for_units();
	char staged[PATH_MAX + 64], cfg[PATH_MAX], sock[PATH_MAX], *dropin;
	snprintf(staged, sizeof(staged), "%s/usr/lib/systemd/user/kvmswitch.service", dest);
	snprintf(cfg, sizeof(cfg), "%s/.config/kvmswitch/kvmswitch.conf", getenv("HOME"));
	snprintf(sock, sizeof(sock), "%s/kvmswitch.sock", getenv("XDG_RUNTIME_DIR"));
	write_text(cfg, SYSD_CFG);
	if (asprintf(&dropin, "%s/kvmswitch.service.d/unprivileged.conf", s->unitdir) < 0)
		ITEST_FAIL("out of memory");
	write_text(dropin, "[Service]\nCapabilityBoundingSet=~CAP_SYS_NICE CAP_IPC_LOCK\nLimitRTPRIO=0\n");
	itest_defer(unlink_path, dropin);
	free(sysd_add_unit(s, dest, staged, "kvmswitch.service"));
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "sysd-kbd");

	ITEST_ASSERT_EQ_INT(SYSTEMCTL("start", "kvmswitch.service"), 0);
	ITEST_ASSERT(sysd_active("kvmswitch.service"));
	long pid = sysd_prop("kvmswitch.service", "MainPID");
	struct treader *r = sysd_guest_keyboard(sock);
	key_reaches(kbd, r, KEY_K);
	assert_realtime(sock, pid, SCHED_RR, "RealtimeKit", false);
	ITEST_ASSERT_EQ_INT(SYSTEMCTL("stop", "kvmswitch.service"), 0);
	unlink(cfg);
	free(dest);
}
