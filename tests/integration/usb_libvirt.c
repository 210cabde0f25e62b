/* libvirt integration in the test VM (tests/vm/run --usb): libvirtd runs
 * inside it (tests/vm/libvirt-setup.sh) with a q35 domain of type 'qemu'
 * that has a qemu-xhci controller, and the VM's two real USB HID devices
 * (QEMU's usb-kbd and usb-mouse, both 0627:0001) move between the VM's host
 * side and that domain.
 *
 * The domain "kvmusb" is started by the first case that needs it and kept
 * for the next ones (creating one costs ~10 s of nested TCG); the case that
 * destroys it comes last among them. Each case stands alone, though: it
 * (re)starts libvirtd and the domain if they are not running. */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define USB_KBD_NAME "QEMU QEMU USB Keyboard"
#define USB_MOUSE_NAME "QEMU QEMU USB Mouse"
#define DOM_USB "kvmusb"
#define DOM_XML "kvmxml"
#define URI "qemu:///system"
/* Attaching in nested TCG takes seconds; udev on the way back too. */
#define SLOW 90000
#define T 30000

/* The usb target moves both devices; a second, evdev target makes kvmswitch's
 * grab visible (it grabs the devices while "guest" is active). */
#define CFG_BASE                                                                                  \
	"[input]\nmatch = id:0627:0001\n"                                                         \
	"[target guest]\n"                                                                        \
	"[target usb]\ntype = usb\ndomain = " DOM_USB "\nusb = 0627:0001\n"

/* ---- environment ---- */

static void need_usb_vm(void)
{
	const char *usb = getenv("KVMSWITCH_VM_USB"), *vm = getenv("KVMSWITCH_IN_VM");
	if (!usb || strcmp(usb, "1") != 0 || !vm || strcmp(vm, "1") != 0)
		itest_skip("needs the test VM with its USB devices (tests/vm/run --usb): it runs libvirtd there");
}

/* Runs tests/vm/libvirt-setup.sh [arg]; fails the case unless it succeeds. */
static void libvirt_setup(const char *arg)
{
	char script[PATH_MAX + 64], cache[PATH_MAX + 64], build[PATH_MAX];
	snprintf(script, sizeof(script), "%s/tests/vm/libvirt-setup.sh", itest_src_dir());
	const char *b = getenv("KVMSWITCH_BUILD");
	if (!realpath(b && *b ? b : "build", build))
		snprintf(build, sizeof(build), "/tmp");
	/* libvirtd's QEMU capabilities cache survives VM boots there. */
	snprintf(cache, sizeof(cache), "KVMSWITCH_LIBVIRT_CACHE=%s/vm/libvirt-cache", build);
	const char *argv[] = { script, arg, NULL };
	const char *env[] = { cache, NULL };
	struct tproc *p = tproc_spawn(argv, env);
	int st = tproc_wait(p, 180000);
	if (st != 0) {
		tproc_dump(p);
		ITEST_FAIL("libvirt-setup.sh %s failed (status %d)", arg ? arg : "", st);
	}
}

static void quiet(void *data, virErrorPtr e)
{
	(void)data;
	(void)e;
}

static void conn_close(void *data)
{
	virConnectClose(data);
}

static virConnectPtr lv_open(void)
{
	libvirt_setup(NULL);
	virSetErrorFunc(NULL, quiet);
	virConnectPtr c = virConnectOpen(URI);
	ITEST_ASSERT_MSG(c != NULL, "cannot connect to " URI ": %s", virGetLastErrorMessage());
	itest_defer(conn_close, c);
	return c;
}

static bool dom_running(virConnectPtr c, const char *name)
{
	virDomainPtr d = virDomainLookupByName(c, name);
	if (!d)
		return false;
	int st = 0, reason = 0;
	bool run = virDomainGetState(d, &st, &reason, 0) == 0 && st == VIR_DOMAIN_RUNNING;
	virDomainFree(d);
	return run;
}

/* Starts a transient q35 domain of type 'qemu' (no disk: it idles in its
 * firmware) with a qemu-xhci controller and `devices` (XML) if it does not
 * run yet. */
static void dom_start(virConnectPtr c, const char *name, const char *devices)
{
	if (dom_running(c, name))
		return;
	char xml[8192];
	snprintf(xml, sizeof(xml),
		 "<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
		 "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
		 "<emulator>/usr/bin/qemu-system-x86_64</emulator>"
		 "<controller type='usb' model='qemu-xhci'/><memballoon model='none'/>%s</devices></domain>",
		 name, devices ? devices : "");
	int64_t t0 = itest_now_ms();
	virDomainPtr d = virDomainCreateXML(c, xml, 0);
	ITEST_ASSERT_MSG(d != NULL, "cannot start domain %s: %s", name, virGetLastErrorMessage());
	itest_log("domain %s started in %lld ms", name, (long long)(itest_now_ms() - t0));
	virDomainFree(d);
}

static void dom_destroy(virConnectPtr c, const char *name)
{
	virDomainPtr d = virDomainLookupByName(c, name);
	if (!d)
		return;
	ITEST_ASSERT_MSG(virDomainDestroy(d) == 0, "cannot destroy %s: %s", name, virGetLastErrorMessage());
	virDomainFree(d);
}

static char *dom_xml(virConnectPtr c, const char *name)
{
	virDomainPtr d = virDomainLookupByName(c, name);
	ITEST_ASSERT_MSG(d != NULL, "no domain %s: %s", name, virGetLastErrorMessage());
	char *x = virDomainGetXMLDesc(d, 0);
	virDomainFree(d);
	ITEST_ASSERT_NOT_NULL(x);
	return x;
}

static int count_substr(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ---- the VM's USB devices in sysfs ---- */

struct usbdev {
	char sysname[64];
	unsigned bus, dev;
};

static int read_num(const char *dir, const char *name, int base)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *s = itest_read_file(path, NULL);
	if (!s)
		return -1;
	int v = (int)strtol(s, NULL, base);
	free(s);
	return v;
}

/* The USB devices 0627:0001 (both of the VM's HID devices). */
static int usb_devices(struct usbdev *out, int max)
{
	DIR *d = opendir("/sys/bus/usb/devices");
	ITEST_ASSERT_NOT_NULL(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.' || strchr(e->d_name, ':') || strlen(e->d_name) >= sizeof(out->sysname))
			continue;
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "/sys/bus/usb/devices/%s", e->d_name);
		if (read_num(dir, "idVendor", 16) != 0x0627 || read_num(dir, "idProduct", 16) != 0x0001)
			continue;
		snprintf(out[n].sysname, sizeof(out[n].sysname), "%.63s", e->d_name);
		out[n].bus = (unsigned)read_num(dir, "busnum", 10);
		out[n].dev = (unsigned)read_num(dir, "devnum", 10);
		n++;
	}
	closedir(d);
	return n;
}

/* The driver of the device's first interface: "usbhid", "usbfs" (QEMU holds
 * it), or "" (none). */
static const char *usb_driver(const struct usbdev *u)
{
	static char name[64];
	char path[PATH_MAX], link[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/%s:1.0/driver", u->sysname, u->sysname);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return "";
	link[n] = '\0';
	snprintf(name, sizeof(name), "%.60s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
	return name;
}

/* Waits until the driver is `want` (or, with want_not, is not). */
static bool wait_driver(const struct usbdev *u, const char *want, bool want_not, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;
	do {
		if (!strcmp(usb_driver(u), want) != want_not)
			return true;
		usleep(100000);
	} while (itest_now_ms() < end);
	return false;
}

/* Both HID devices, as input nodes now. */
static void usb_nodes(char **kbd, char **mouse)
{
	*kbd = treader_find_node(USB_KBD_NAME, T);
	ITEST_ASSERT_MSG(*kbd != NULL, "no '%s' input device", USB_KBD_NAME);
	*mouse = treader_find_node(USB_MOUSE_NAME, T);
	ITEST_ASSERT_MSG(*mouse != NULL, "no '%s' input device", USB_MOUSE_NAME);
}

/* ---- talking to kvmswitch ---- */

static int sock_connect(struct ksd *k)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ksd_socket(k));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ITEST_ASSERT_SYSCALL(fd);
	ITEST_ASSERT_SYSCALL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	return fd;
}

/* One line from fd (without newline), waiting up to timeout_ms; NULL if
 * none. buf keeps what came after it. */
struct lines {
	int fd;
	char buf[8192];
	size_t len;
};

static char *read_line(struct lines *l, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;
	for (;;) {
		char *nl = memchr(l->buf, '\n', l->len);
		if (nl) {
			size_t n = (size_t)(nl - l->buf);
			char *line = strndup(l->buf, n);
			memmove(l->buf, nl + 1, l->len - n - 1);
			l->len -= n + 1;
			return line;
		}
		int left = (int)(end - itest_now_ms());
		struct pollfd p = { l->fd, POLLIN, 0 };
		if (left <= 0 || poll(&p, 1, left) <= 0 || l->len >= sizeof(l->buf))
			return NULL;
		ssize_t r = read(l->fd, l->buf + l->len, sizeof(l->buf) - l->len);
		if (r <= 0)
			return NULL;
		l->len += (size_t)r;
	}
}

/* A request whose reply may wait for libvirt (a switch to a usb target). */
static char *ask(struct ksd *k, const char *req, int timeout_ms)
{
	struct lines l = { .fd = sock_connect(k) };
	ITEST_ASSERT(write(l.fd, req, strlen(req)) == (ssize_t)strlen(req) && write(l.fd, "\n", 1) == 1);
	int64_t t0 = itest_now_ms();
	char *r = read_line(&l, timeout_ms);
	close(l.fd);
	ITEST_ASSERT_MSG(r != NULL, "no reply to '%s' within %d ms", req, timeout_ms);
	itest_log("'%s' -> '%s' (%lld ms)", req, r, (long long)(itest_now_ms() - t0));
	return r;
}

static void switch_ok(struct ksd *k, const char *target)
{
	char req[64], want[64];
	snprintf(req, sizeof(req), "switch %s", target);
	snprintf(want, sizeof(want), "ok %s", target);
	char *r = ask(k, req, SLOW);
	ITEST_ASSERT_STR_EQ(r, want);
	free(r);
}

static void sub_close(void *data)
{
	struct lines *l = data;
	close(l->fd);
	free(l);
}

static struct lines *subscribe(struct ksd *k)
{
	struct lines *l = calloc(1, sizeof(*l));
	ITEST_ASSERT_NOT_NULL(l);
	l->fd = sock_connect(k);
	itest_defer(sub_close, l);
	ITEST_ASSERT(write(l->fd, "subscribe\n", 10) == 10);
	char *r = read_line(l, T);
	ITEST_ASSERT_MSG(r && strncmp(r, "ok subscribed ", 14) == 0, "subscribe: %s", r ? r : "(no reply)");
	free(r);
	return l;
}

/* Waits for the switch event line `want` ("event switch A B REASON"),
 * failing on any other switch event first. */
static void expect_event(struct lines *l, const char *want, int timeout_ms)
{
	char *line = read_line(l, timeout_ms);
	ITEST_ASSERT_MSG(line != NULL, "no '%s' within %d ms", want, timeout_ms);
	ITEST_ASSERT_STR_EQ(line, want);
	free(line);
}

/* Nothing more on the subscription for ms (a refused switch is no switch). */
static void expect_no_event(struct lines *l, int ms)
{
	char *line = read_line(l, ms);
	ITEST_ASSERT_MSG(line == NULL, "unexpected '%s'", line);
	free(line);
}

static void assert_active(struct ksd *k, const char *want)
{
	char *a = ksd_active(k);
	ITEST_ASSERT_STR_EQ(a, want);
	free(a);
}

/* The status object of target `name` (up to the next target), in a static buffer. */
static const char *target_status(struct ksd *k, const char *name)
{
	static char obj[4096];
	char *s = ksd_request(k, "status");
	char pat[96];
	snprintf(pat, sizeof(pat), "{\"name\":\"%s\"", name);
	const char *p = strstr(s, pat);
	ITEST_ASSERT_MSG(p != NULL, "no target %s in status: %.300s", name, s);
	const char *end = strstr(p + 1, "},{\"name\":"); /* not the "domain":{"name": inside */
	const char *inputs = strstr(p, "\"inputs\":");
	if (!end || (inputs && inputs < end))
		end = inputs;
	size_t n = end ? (size_t)(end - p) : strlen(p);
	snprintf(obj, sizeof(obj), "%.*s", (int)(n < sizeof(obj) - 1 ? n : sizeof(obj) - 1), p);
	free(s);
	return obj;
}

/* Waits until target `name`'s domain has state `state` in status. */
static void wait_domain_state(struct ksd *k, const char *name, const char *state, int timeout_ms)
{
	char want[64];
	snprintf(want, sizeof(want), "\"state\":\"%s\"", state);
	int64_t end = itest_now_ms() + timeout_ms;
	const char *obj;
	do {
		obj = target_status(k, name);
		if (strstr(obj, want)) {
			itest_count_assertion();
			return;
		}
		usleep(100000);
	} while (itest_now_ms() < end);
	ITEST_FAIL("target %s: domain not %s within %d ms: %s", name, state, timeout_ms, obj);
}

/* Waits until target `name`'s status object contains `needle`. */
static void wait_status(struct ksd *k, const char *name, const char *needle, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;
	const char *obj;
	do {
		obj = target_status(k, name);
		if (strstr(obj, needle)) {
			itest_count_assertion();
			return;
		}
		usleep(100000);
	} while (itest_now_ms() < end);
	ITEST_FAIL("target %s: no %s in its status within %d ms: %s", name, needle, timeout_ms, obj);
}

static char *daemon_log(struct ksd *k)
{
	char *s = itest_read_file(tproc_stderr_path(ksd_proc(k)), NULL);
	ITEST_ASSERT_NOT_NULL(s);
	return s;
}

/* Does process pid have `node` open? */
static bool proc_has_open(pid_t pid, const char *node)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		char path[PATH_MAX], target[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, node) == 0;
		}
	}
	closedir(d);
	return found;
}

static pid_t qemu_pid(const char *domain)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/libvirt/qemu/%s.pid", domain);
	char *text = itest_read_file(path, NULL);
	ITEST_ASSERT_MSG(text != NULL, "no %s: is domain %s running?", path, domain);
	pid_t pid = (pid_t)atoi(text);
	free(text);
	return pid;
}

/* ---- the common steps ---- */

/* kvmswitch with the base config, started on "guest": both USB devices
 * grabbed, the usb target's domain known to run. */
static struct ksd *start_on_guest(const char *extra, char **kbd, char **mouse)
{
	char cfg[1024];
	snprintf(cfg, sizeof(cfg), CFG_BASE "%s[general]\nstart = guest\n", extra ? extra : "");
	usb_nodes(kbd, mouse);
	struct ksd *k = ksd_start(cfg);
	ITEST_ASSERT_MSG(ksd_wait_input(k, *kbd, true, T), "kvmswitch does not grab %s", *kbd);
	ITEST_ASSERT_MSG(ksd_wait_input(k, *mouse, true, T), "kvmswitch does not grab %s", *mouse);
	wait_domain_state(k, "usb", "running", T);
	return k;
}

/* After a switch to the usb target: both devices are in the domain, the
 * host lost their input nodes, QEMU holds them through usbfs. */
static void assert_in_domain(virConnectPtr c, struct ksd *k, const char *kbd, const char *mouse,
			     const struct usbdev *u, int n)
{
	ITEST_ASSERT_MSG(itest_udev_wait_removed(kbd, T), "%s still on the host", kbd);
	ITEST_ASSERT_MSG(itest_udev_wait_removed(mouse, T), "%s still on the host", mouse);
	char *x = dom_xml(c, DOM_USB);
	ITEST_ASSERT_EQ_INT(count_substr(x, "<hostdev mode='subsystem' type='usb'"), n);
	pid_t pid = qemu_pid(DOM_USB);
	for (int i = 0; i < n; i++) {
		char addr[64], node[64];
		snprintf(addr, sizeof(addr), "<address bus='%u' device='%u'/>", u[i].bus, u[i].dev);
		ITEST_ASSERT_STR_CONTAINS(x, addr);
		/* QEMU took it from usbhid (its interfaces go to usbfs once the
		 * guest configures the device; this guest idles in firmware). */
		ITEST_ASSERT_MSG(wait_driver(&u[i], "usbhid", true, T), "%s is still bound to usbhid", u[i].sysname);
		snprintf(node, sizeof(node), "/dev/bus/usb/%03u/%03u", u[i].bus, u[i].dev);
		ITEST_ASSERT_MSG(proc_has_open(pid, node), "the domain's QEMU (pid %d) does not have %s open", (int)pid,
				 node);
	}
	free(x);
	wait_status(k, "usb", "\"attached\":2", T);
}

/* After switching away: the domain has no hostdev left, both devices are
 * usbhid input devices again. Returns their new nodes. */
static void assert_home(virConnectPtr c, const struct usbdev *u, int n, char **kbd, char **mouse)
{
	/* Switching away answers at once; the detach follows. */
	int64_t end = itest_now_ms() + SLOW;
	while (c && dom_running(c, DOM_USB)) {
		char *x = dom_xml(c, DOM_USB);
		int left = count_substr(x, "<hostdev");
		free(x);
		if (left == 0)
			break;
		ITEST_ASSERT_MSG(itest_now_ms() < end, "%d devices still attached to %s", left, DOM_USB);
		usleep(200000);
	}
	for (int i = 0; i < n; i++)
		ITEST_ASSERT_MSG(wait_driver(&u[i], "usbhid", false, SLOW), "%s is bound to '%s', not usbhid",
				 u[i].sysname, usb_driver(&u[i]));
	*kbd = treader_find_node(USB_KBD_NAME, SLOW);
	ITEST_ASSERT_MSG(*kbd != NULL, "'%s' did not come back as an input device", USB_KBD_NAME);
	*mouse = treader_find_node(USB_MOUSE_NAME, SLOW);
	ITEST_ASSERT_MSG(*mouse != NULL, "'%s' did not come back as an input device", USB_MOUSE_NAME);
}

static struct treader *guest_keyboard(struct ksd *k)
{
	char *node = ksd_vdev_node(k, "guest", "keyboard");
	struct treader *r = treader_open(node, false);
	free(node);
	return r;
}

/* 'a' typed on the VM's USB keyboard (QMP to the test VM's QEMU) reaches
 * kvmswitch's guest keyboard, press and release. */
static void typed_reaches_guest(struct ksd *k)
{
	struct treader *gk = guest_keyboard(k);
	struct qmp *q = qmp_open(NULL);
	qmp_type_key(q, "a", true);
	ITEST_ASSERT_MSG(treader_wait_event(gk, EV_KEY, KEY_A, 1, T), "KEY_A did not reach the guest target");
	qmp_type_key(q, "a", false);
	ITEST_ASSERT_MSG(treader_wait_event(gk, EV_KEY, KEY_A, 0, T), "KEY_A's release did not reach the guest target");
	qmp_close(q);
}

/* ---- cases ---- */

/* Switch to the usb target: both identical devices (0627:0001, told apart
 * by bus/device address) go to the domain and leave the host; back on
 * "guest" they return to usbhid, kvmswitch grabs them again and forwards
 * what is typed on them. */
ITEST_TIMEOUT(usb_target_moves_both_devices_and_back, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	dom_start(c, DOM_USB, NULL);
	struct usbdev u[4];
	int n = usb_devices(u, 4);
	ITEST_ASSERT_EQ_INT(n, 2);
	ITEST_ASSERT(u[0].bus != u[1].bus || u[0].dev != u[1].dev);
	char *kbd, *mouse;
	struct ksd *k = start_on_guest(NULL, &kbd, &mouse);
	struct lines *sub = subscribe(k);

	switch_ok(k, "usb");
	expect_event(sub, "event switch guest usb command", T);
	assert_in_domain(c, k, kbd, mouse, u, n);
	assert_active(k, "usb");
	free(kbd);
	free(mouse);

	switch_ok(k, "guest");
	expect_event(sub, "event switch usb guest command", T);
	assert_home(c, u, n, &kbd, &mouse);
	ITEST_ASSERT_MSG(ksd_wait_input(k, kbd, true, SLOW), "kvmswitch does not grab %s again", kbd);
	ITEST_ASSERT_MSG(ksd_wait_input(k, mouse, true, SLOW), "kvmswitch does not grab %s again", mouse);
	wait_status(k, "usb", "\"attached\":0", T);

	/* Typed on the returned USB keyboard: forwarded to the guest target. */
	typed_reaches_guest(k);
	free(kbd);
	free(mouse);
}

/* libvirtd restarts while the devices are in the domain: kvmswitch
 * reconnects (close callback, backoff), sees the domain running again, and
 * still detaches what it attached. */
ITEST_TIMEOUT(usb_libvirtd_restart_reconnects, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	dom_start(c, DOM_USB, NULL);
	struct usbdev u[4];
	int n = usb_devices(u, 4);
	ITEST_ASSERT_EQ_INT(n, 2);
	char *kbd, *mouse;
	struct ksd *k = start_on_guest(NULL, &kbd, &mouse);
	switch_ok(k, "usb");
	assert_in_domain(c, k, kbd, mouse, u, n);
	free(kbd);
	free(mouse);

	libvirt_setup("--restart");
	/* The test's own connection went with it. */
	virConnectPtr c2 = virConnectOpen(URI);
	ITEST_ASSERT_MSG(c2 != NULL, "cannot reconnect: %s", virGetLastErrorMessage());
	itest_defer(conn_close, c2);
	int64_t end = itest_now_ms() + SLOW;
	char *log = NULL;
	while (itest_now_ms() < end) {
		free(log);
		log = daemon_log(k);
		if (count_substr(log, "libvirt: connected to " URI) >= 2)
			break;
		usleep(200000);
	}
	ITEST_ASSERT_STR_CONTAINS(log, "libvirt: lost the connection to " URI);
	ITEST_ASSERT_MSG(count_substr(log, "libvirt: connected to " URI) >= 2, "kvmswitch did not reconnect");
	free(log);
	wait_domain_state(k, "usb", "running", T);
	assert_active(k, "usb");

	switch_ok(k, "guest");
	assert_home(c2, u, n, &kbd, &mouse);
	ITEST_ASSERT_MSG(ksd_wait_input(k, kbd, true, SLOW), "kvmswitch does not grab %s again", kbd);
	free(kbd);
	free(mouse);
}

/* A kvmswitch killed while the devices are in the domain leaves them there;
 * the next one finds them attached live (not in the domain's definition),
 * takes them over, and as its target is not the usb one, detaches them. */
ITEST_TIMEOUT(usb_leftover_attachment_is_taken_over, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	dom_start(c, DOM_USB, NULL);
	struct usbdev u[4];
	int n = usb_devices(u, 4);
	ITEST_ASSERT_EQ_INT(n, 2);
	char *kbd, *mouse;
	struct ksd *k = start_on_guest(NULL, &kbd, &mouse);
	switch_ok(k, "usb");
	assert_in_domain(c, k, kbd, mouse, u, n);
	free(kbd);
	free(mouse);
	tproc_kill(ksd_proc(k), SIGKILL);
	ITEST_ASSERT_EQ_INT(tproc_wait(ksd_proc(k), T), 128 + SIGKILL);
	char *x = dom_xml(c, DOM_USB);
	ITEST_ASSERT_EQ_INT(count_substr(x, "<hostdev"), 2);
	free(x);

	struct ksd *k2 = ksd_start(CFG_BASE "[general]\nstart = guest\n");
	assert_home(c, u, n, &kbd, &mouse);
	ITEST_ASSERT_MSG(ksd_wait_input(k2, kbd, true, SLOW), "kvmswitch does not grab %s", kbd);
	ITEST_ASSERT_MSG(ksd_wait_input(k2, mouse, true, SLOW), "kvmswitch does not grab %s", mouse);
	char *log = daemon_log(k2);
	ITEST_ASSERT_EQ_INT(count_substr(log, "is attached to domain '" DOM_USB "' from before; kvmswitch takes it over"), 2);
	ITEST_ASSERT_EQ_INT(count_substr(log, "target 'usb': detached USB device 0627:0001"), 2);
	free(log);
	free(kbd);
	free(mouse);
}

/* return-after: the router's timer brings the target back to the host,
 * and with it the devices (the keyboard in the guest cannot). */
ITEST_TIMEOUT(usb_return_after_brings_devices_home, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	dom_start(c, DOM_USB, NULL);
	struct usbdev u[4];
	int n = usb_devices(u, 4);
	ITEST_ASSERT_EQ_INT(n, 2);
	char *kbd, *mouse;
	struct ksd *k = start_on_guest("return-after = 10\n", &kbd, &mouse);
	struct lines *sub = subscribe(k);
	int64_t t0 = itest_now_ms();
	switch_ok(k, "usb");
	expect_event(sub, "event switch guest usb command", T);
	assert_in_domain(c, k, kbd, mouse, u, n);
	free(kbd);
	free(mouse);
	expect_event(sub, "event switch usb host timer", SLOW);
	int64_t took = itest_now_ms() - t0;
	itest_log("back on the host after %lld ms", (long long)took);
	ITEST_ASSERT_GE_INT(took, 9500);
	assert_home(c, u, n, &kbd, &mouse);
	/* The host is native: kvmswitch takes them, ungrabbed. */
	ITEST_ASSERT_MSG(ksd_wait_input(k, kbd, false, SLOW), "kvmswitch does not take %s back", kbd);
	ITEST_ASSERT_MSG(ksd_wait_input(k, mouse, false, SLOW), "kvmswitch does not take %s back", mouse);
	free(kbd);
	free(mouse);
}

/* A usb target whose second device cannot be attached (a PCI controller
 * that does not exist): the USB devices attached first are detached again,
 * the switch request gets the error, the previous target is active again
 * and kvmswitch grabs the devices again. */
ITEST_TIMEOUT(usb_attach_failure_rolls_back, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	dom_start(c, DOM_USB, NULL);
	ITEST_ASSERT(access("/sys/bus/pci/devices/0000:00:1f.7", F_OK) != 0);
	struct usbdev u[4];
	int n = usb_devices(u, 4);
	ITEST_ASSERT_EQ_INT(n, 2);
	char *kbd, *mouse;
	struct ksd *k = start_on_guest("pci = 0000:00:1f.7\n", &kbd, &mouse);
	struct lines *sub = subscribe(k);

	char *r = ask(k, "switch usb", SLOW);
	ITEST_ASSERT_STR_CONTAINS(r, "error cannot switch: there is no PCI device 0000:00:1f.7 on this host");
	ITEST_ASSERT_STR_CONTAINS(r, "(active: guest)");
	free(r);
	/* Rolled back before the answer, not merely detached afterwards. */
	char *x = dom_xml(c, DOM_USB);
	ITEST_ASSERT_EQ_INT(count_substr(x, "<hostdev"), 0);
	free(x);
	expect_event(sub, "event switch guest usb command", T);
	expect_event(sub, "event switch usb guest attach-failed", T);
	assert_active(k, "guest");
	free(kbd);
	free(mouse);
	assert_home(c, u, n, &kbd, &mouse);
	ITEST_ASSERT_MSG(ksd_wait_input(k, kbd, true, SLOW), "kvmswitch does not grab %s again", kbd);
	ITEST_ASSERT_MSG(ksd_wait_input(k, mouse, true, SLOW), "kvmswitch does not grab %s again", mouse);
	/* Both were attached first, then detached again. */
	char *log = daemon_log(k);
	ITEST_ASSERT_EQ_INT(count_substr(log, "target 'usb': detached USB device 0627:0001"), 2);
	ITEST_ASSERT_STR_CONTAINS(log, "target 'usb': there is no PCI device 0000:00:1f.7 on this host");
	ITEST_ASSERT_STR_CONTAINS(log, "switching back to 'guest'");
	free(log);
}

/* ---- devices that follow the focus (evdev targets with usb devices) and
 * devices plugged in while their target is active ---- */

/* The USB device whose product string is `product` ("QEMU USB Mouse"), and
 * its serial; false if there is none. */
/* The first USB device (of the VM's 0627:0001) named `product`, and with
 * serial `want_serial` if that is not NULL (the VM's own devices share their
 * product names with those a test plugs in); its serial into `serial`. */
static bool usb_by_product(const char *product, const char *want_serial, struct usbdev *out, char *serial,
			   size_t len)
{
	struct usbdev u[8];
	int n = usb_devices(u, 8);
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/product", u[i].sysname);
		char *p = itest_read_file(path, NULL);
		bool match = p && strncmp(p, product, strlen(product)) == 0 && (p[strlen(product)] == '\n' || !p[strlen(product)]);
		free(p);
		if (!match)
			continue;
		*out = u[i];
		snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/serial", u[i].sysname);
		char *s = itest_read_file(path, NULL);
		snprintf(serial, len, "%s", s ? s : "");
		serial[strcspn(serial, "\n")] = '\0';
		free(s);
		if (want_serial && strcmp(serial, want_serial) != 0)
			continue;
		return true;
	}
	return false;
}

/* Waits until the domain has n hostdevs; returns its XML. */
static char *wait_hostdevs(virConnectPtr c, const char *dom, int n, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;
	for (;;) {
		char *x = dom_xml(c, dom);
		int have = count_substr(x, "<hostdev");
		if (have == n) {
			itest_count_assertion();
			return x;
		}
		free(x);
		ITEST_ASSERT_MSG(itest_now_ms() < end, "domain %s has %d hostdevs, not %d, after %d ms", dom, have, n,
				 timeout_ms);
		usleep(200000);
	}
}

/* A USB device plugged into the test VM (the outer QEMU's xhci), removed
 * again when the case ends. */
struct plugged {
	struct qmp *q;
	char id[32];
	bool in;
};

static void plug(struct plugged *p, const char *driver, const char *serial)
{
	if (serial)
		QMP_EXECUTE_OK(p->q, "device_add", "\"driver\": \"%s\", \"id\": \"%s\", \"bus\": \"xhci.0\", \"serial\": \"%s\"",
			       driver, p->id, serial);
	else
		qmp_device_add(p->q, driver, p->id, "xhci.0");
	p->in = true;
}

static void unplug(struct plugged *p)
{
	qmp_device_del(p->q, p->id);
	p->in = false;
}

static void plugged_cleanup(void *data)
{
	struct plugged *p = data;
	if (p->in)
		qmp_execute(p->q, NULL, "device_del", "\"id\": \"%s\"", p->id);
	qmp_close(p->q);
	free(p);
}

static struct plugged *plugged_new(const char *id)
{
	struct plugged *p = calloc(1, sizeof(*p));
	ITEST_ASSERT_NOT_NULL(p);
	p->q = qmp_open(NULL);
	snprintf(p->id, sizeof(p->id), "%s", id);
	itest_defer(plugged_cleanup, p);
	return p;
}

/* Waits for the USB device with serial `serial` to appear in sysfs. */
static struct usbdev wait_usb_serial(const char *product, const char *serial, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;
	struct usbdev u;
	char s[128];
	while (!usb_by_product(product, serial, &u, s, sizeof(s))) {
		ITEST_ASSERT_MSG(itest_now_ms() < end, "no USB device '%s' with serial %s", product, serial);
		usleep(100000);
	}
	return u;
}

/* An evdev target that lists the VM's USB mouse (by serial): switching to it
 * answers at once, the keyboard is grabbed and forwarded through evdev, the
 * mouse (which kvmswitch had taken for input) is let go and attached to the
 * domain; back on the host it comes home. */
ITEST_TIMEOUT(usb_evdev_target_takes_listed_device_along, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	dom_start(c, DOM_USB, NULL);
	struct usbdev m;
	char serial[128], cfg[1024];
	ITEST_ASSERT_MSG(usb_by_product("QEMU USB Mouse", NULL, &m, serial, sizeof(serial)), "no USB mouse in sysfs");
	ITEST_ASSERT_MSG(serial[0] != '\0', "the USB mouse has no serial");
	itest_log("the mouse is %s, serial %s", m.sysname, serial);
	snprintf(cfg, sizeof(cfg), "[input]\nmatch = id:0627:0001\n[target guest]\ndomain = " DOM_USB
		 "\nusb = 0627:0001:%s\n", serial);
	char *kbd, *mouse;
	usb_nodes(&kbd, &mouse);
	struct ksd *k = ksd_start(cfg);
	ITEST_ASSERT(ksd_wait_input(k, kbd, false, T));
	ITEST_ASSERT(ksd_wait_input(k, mouse, false, T));
	wait_domain_state(k, "guest", "running", T);
	struct lines *sub = subscribe(k);

	/* The switch never waits for libvirt. */
	int64_t t0 = itest_now_ms();
	char *r = ask(k, "switch guest", T);
	ITEST_ASSERT_STR_EQ(r, "ok guest");
	free(r);
	ITEST_ASSERT_LT_INT(itest_now_ms() - t0, 3000);
	expect_event(sub, "event switch host guest command", T);
	ITEST_ASSERT_MSG(ksd_wait_input(k, kbd, true, T), "kvmswitch does not grab %s", kbd);
	ITEST_ASSERT_MSG(itest_udev_wait_removed(mouse, SLOW), "the mouse %s did not leave the host", mouse);
	char *x = wait_hostdevs(c, DOM_USB, 1, SLOW);
	char addr[64];
	snprintf(addr, sizeof(addr), "<address bus='%u' device='%u'/>", m.bus, m.dev);
	ITEST_ASSERT_STR_CONTAINS(x, addr);
	free(x);
	wait_status(k, "guest", "\"attached\":1", T);

	/* Keys still go through kvmswitch to the target's keyboard. */
	typed_reaches_guest(k);

	switch_ok(k, "host");
	wait_hostdevs(c, DOM_USB, 0, SLOW);
	ITEST_ASSERT_MSG(wait_driver(&m, "usbhid", false, SLOW), "the mouse is bound to '%s', not usbhid", usb_driver(&m));
	free(mouse);
	mouse = treader_find_node(USB_MOUSE_NAME, SLOW);
	ITEST_ASSERT_MSG(mouse != NULL, "the mouse did not come back as an input device");
	ITEST_ASSERT_MSG(ksd_wait_input(k, mouse, false, SLOW), "kvmswitch does not take %s back", mouse);
	wait_status(k, "guest", "\"attached\":0", T);
	free(kbd);
	free(mouse);
}

/* A device an evdev target lists, plugged in while the target is active (a
 * USB tablet with a serial of its own stands in for a game controller), is
 * attached to the domain at once; unplugged there, what is left of it in the
 * domain is detached, and plugged back it is attached again. */
ITEST_TIMEOUT(usb_plugged_in_while_active_follows_the_focus, 900)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	dom_start(c, DOM_USB, NULL);
	struct ksd *k = ksd_start("[input]\nmatch = id:0627:0001\n[target guest]\ndomain = " DOM_USB
				  "\nusb = 0627:0001:kvmpad\n[general]\nstart = guest\n");
	wait_domain_state(k, "guest", "running", T);
	wait_status(k, "guest", "\"attached\":0", T);
	char *x = wait_hostdevs(c, DOM_USB, 0, T);
	free(x);

	struct plugged *p = plugged_new("kvmpad");
	for (int round = 0; round < 2; round++) {
		plug(p, "usb-tablet", "kvmpad");
		struct usbdev pad = wait_usb_serial("QEMU USB Tablet", "kvmpad", T);
		itest_log("round %d: the pad is %s (bus %u device %u)", round, pad.sysname, pad.bus, pad.dev);
		x = wait_hostdevs(c, DOM_USB, 1, SLOW);
		char addr[64];
		snprintf(addr, sizeof(addr), "<address bus='%u' device='%u'/>", pad.bus, pad.dev);
		ITEST_ASSERT_STR_CONTAINS(x, addr);
		free(x);
		wait_status(k, "guest", "\"attached\":1", T);
		if (round == 1)
			break;
		unplug(p);
		x = wait_hostdevs(c, DOM_USB, 0, SLOW);
		free(x);
		wait_status(k, "guest", "\"attached\":0", T);
	}
	char *log = daemon_log(k);
	ITEST_ASSERT_EQ_INT(count_substr(log, "plugged in while the target is active, to domain '" DOM_USB "'"), 2);
	ITEST_ASSERT_STR_CONTAINS(log, "was unplugged while attached to domain '" DOM_USB "'");
	free(log);

	/* Away from the target, it comes home. */
	struct usbdev pad = wait_usb_serial("QEMU USB Tablet", "kvmpad", T);
	switch_ok(k, "host");
	x = wait_hostdevs(c, DOM_USB, 0, SLOW);
	free(x);
	ITEST_ASSERT_MSG(wait_driver(&pad, "usbhid", false, SLOW), "the pad is bound to '%s', not usbhid",
			 usb_driver(&pad));
	unplug(p);
}

/* The same for a usb target: a matching device plugged in while it is active
 * joins the others in the domain, and comes home with them. */
ITEST_TIMEOUT(usb_target_attaches_device_plugged_in_while_active, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	dom_start(c, DOM_USB, NULL);
	struct usbdev u[4];
	int n = usb_devices(u, 4);
	ITEST_ASSERT_EQ_INT(n, 2);
	char *kbd, *mouse;
	struct ksd *k = start_on_guest(NULL, &kbd, &mouse);
	switch_ok(k, "usb");
	assert_in_domain(c, k, kbd, mouse, u, n);
	free(kbd);
	free(mouse);

	struct plugged *p = plugged_new("kvmkbd3");
	plug(p, "usb-kbd", "kvmkbd3");
	struct usbdev third = wait_usb_serial("QEMU USB Keyboard", "kvmkbd3", T);
	char *x = wait_hostdevs(c, DOM_USB, 3, SLOW);
	char addr[64];
	snprintf(addr, sizeof(addr), "<address bus='%u' device='%u'/>", third.bus, third.dev);
	ITEST_ASSERT_STR_CONTAINS(x, addr);
	free(x);
	wait_status(k, "usb", "\"attached\":3", T);

	switch_ok(k, "guest");
	x = wait_hostdevs(c, DOM_USB, 0, SLOW);
	free(x);
	ITEST_ASSERT_MSG(wait_driver(&third, "usbhid", false, SLOW), "the third keyboard is bound to '%s', not usbhid",
			 usb_driver(&third));
	wait_status(k, "usb", "\"attached\":0", T);
	unplug(p);
}

/* The domain is destroyed while it owns the devices: the host becomes
 * active, the devices come home to usbhid and kvmswitch takes them; a
 * switch to the target is then refused at once, saying why. */
ITEST_TIMEOUT(usb_domain_destroyed_brings_devices_home, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	dom_start(c, DOM_USB, NULL);
	struct usbdev u[4];
	int n = usb_devices(u, 4);
	ITEST_ASSERT_EQ_INT(n, 2);
	char *kbd, *mouse;
	struct ksd *k = start_on_guest(NULL, &kbd, &mouse);
	struct lines *sub = subscribe(k);
	switch_ok(k, "usb");
	expect_event(sub, "event switch guest usb command", T);
	assert_in_domain(c, k, kbd, mouse, u, n);
	free(kbd);
	free(mouse);

	dom_destroy(c, DOM_USB);
	expect_event(sub, "event switch usb host domain-gone", SLOW);
	assert_active(k, "host");
	assert_home(NULL, u, n, &kbd, &mouse);
	ITEST_ASSERT_MSG(ksd_wait_input(k, kbd, false, SLOW), "kvmswitch does not take %s back", kbd);
	ITEST_ASSERT_MSG(ksd_wait_input(k, mouse, false, SLOW), "kvmswitch does not take %s back", mouse);

	/* A transient domain that was destroyed no longer exists. */
	wait_domain_state(k, "usb", "not found", T);
	int64_t t0 = itest_now_ms();
	char *r = ask(k, "switch usb", T);
	ITEST_ASSERT_LT_INT(itest_now_ms() - t0, 2000);
	ITEST_ASSERT_STR_CONTAINS(r, "error cannot switch: no domain '" DOM_USB "' at " URI);
	ITEST_ASSERT_STR_CONTAINS(r, "(active: host)");
	free(r);
	expect_no_event(sub, 1000); /* refused before any switch, not rolled back */
	assert_active(k, "host");
	free(kbd);
	free(mouse);
}

/* ---- evdev targets with a domain, and kvmswitch libvirt-xml ---- */

/* Waits for the stable link of a target's device (kvmswitch's udev rules
 * make it). */
static void stable_link(struct ksd *k, const char *target, const char *kind)
{
	char link[128];
	snprintf(link, sizeof(link), "/dev/input/by-id/kvmswitch-%s-%s", target, kind);
	char *node = ksd_vdev_node(k, target, kind);
	int64_t end = itest_now_ms() + T;
	while (access(link, F_OK) != 0 && itest_now_ms() < end)
		usleep(100000);
	char real[PATH_MAX];
	ITEST_ASSERT_MSG(realpath(link, real) != NULL, "udev made no %s: %s", link, strerror(errno));
	ITEST_ASSERT_STR_EQ(real, node);
	free(node);
}

/* `kvmswitch doctor` with k's configuration and socket: its stdout. */
static char *doctor(struct ksd *k)
{
	char sock[PATH_MAX + 32], *out;
	snprintf(sock, sizeof(sock), "KVMSWITCH_SOCKET=%s", ksd_socket(k));
	ksd_cli_env((const char *const[]){ sock, NULL }, &out, NULL,
		    (const char *const[]){ "doctor", "-c", ksd_config_path(k), NULL });
	itest_log("kvmswitch doctor:\n%s", out);
	return out;
}

/* A second EVIOCGRAB gets EBUSY while QEMU holds the node. */
static void assert_grabbed_by_other(const char *node)
{
	int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ITEST_ASSERT_SYSCALL(fd);
	int rc = ioctl(fd, EVIOCGRAB, 1);
	int e = errno;
	if (rc == 0)
		ioctl(fd, EVIOCGRAB, 0);
	close(fd);
	ITEST_ASSERT_MSG(rc < 0 && e == EBUSY, "EVIOCGRAB on %s: %s, not EBUSY (QEMU does not hold it)", node,
			 rc == 0 ? "it worked" : strerror(e));
}

/* The QEMU of domain DOM_XML has the keyboard and pointer nodes open and
 * grabbed. */
static void assert_domain_holds(const char *kn, const char *pn)
{
	assert_grabbed_by_other(kn);
	assert_grabbed_by_other(pn);
	pid_t pid = qemu_pid(DOM_XML);
	ITEST_ASSERT_MSG(proc_has_open(pid, kn), "QEMU (pid %d) does not have %s open", (int)pid, kn);
	ITEST_ASSERT_MSG(proc_has_open(pid, pn), "QEMU (pid %d) does not have %s open", (int)pid, pn);
}

/* A domain defined with `kvmswitch libvirt-xml` output starts and its QEMU
 * holds kvmswitch's devices (kvmswitch doctor sees both, and the missing
 * domain before); the evdev target follows the domain: switching
 * to it is refused while it does not run, and destroying it while the
 * target is active makes the host active. */
ITEST_TIMEOUT(usb_libvirt_xml_domain_holds_guest_devices, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	if (dom_running(c, DOM_XML))
		dom_destroy(c, DOM_XML);
	itest_udev_rules_install("71-kvmswitch.rules");
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[target guest]\ndomain = " DOM_XML "\n");
	stable_link(k, "guest", "keyboard");
	stable_link(k, "guest", "pointer");
	wait_domain_state(k, "guest", "not found", T);
	/* kvmswitch doctor says the same, and what to do. */
	char *out = doctor(k);
	ITEST_ASSERT_STR_CONTAINS(out, "\nfail  libvirt: target guest: no domain '" DOM_XML "' on " URI "; fix: correct "
				       "domain = in [target guest]; virsh -c " URI " list --all names them\n");
	free(out);
	char *st0 = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &st0, "status"), 0);
	ITEST_ASSERT_STR_CONTAINS(st0, "; domain " DOM_XML " at " URI ": not found");
	free(st0);
	struct lines *sub = subscribe(k);
	char *r = ask(k, "switch guest", T);
	ITEST_ASSERT_STR_CONTAINS(r, "error cannot switch: no domain '" DOM_XML "'");
	free(r);
	expect_no_event(sub, 500);

	char *xml = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &xml, "libvirt-xml", "-c", ksd_config_path(k), "guest"), 0);
	ITEST_ASSERT_STR_CONTAINS(xml, "<source dev='/dev/input/by-id/kvmswitch-guest-keyboard' grab='all' repeat='on' "
				       "grabToggle='ctrl-ctrl'/>");
	ITEST_ASSERT_STR_CONTAINS(xml, "<source dev='/dev/input/by-id/kvmswitch-guest-pointer'/>");
	dom_start(c, DOM_XML, xml);
	free(xml);

	char *kn = ksd_vdev_node(k, "guest", "keyboard"), *pn = ksd_vdev_node(k, "guest", "pointer");
	assert_domain_holds(kn, pn);
	pid_t pid = qemu_pid(DOM_XML);
	/* doctor: which domain names the devices and through which path, and
	 * that its QEMU holds them. */
	out = doctor(k);
	ITEST_ASSERT_STR_CONTAINS(out, "\nok    libvirt: domain " DOM_XML " (running) on " URI " reads guest's keyboard "
				       "(evdev: input-linux), guest's pointer (evdev: input-linux)\n");
	char want[256];
	snprintf(want, sizeof(want), "\nok    guest: target guest: read by qemu-system-x86 (pid %d, input-linux)\n",
		 (int)pid);
	ITEST_ASSERT_STR_CONTAINS(out, want);
	free(out);

	wait_domain_state(k, "guest", "running", T);
	/* `kvmswitch status` says so in words (docs/libvirt.md). */
	char *st = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &st, "status"), 0);
	ITEST_ASSERT_STR_CONTAINS(st, "; domain " DOM_XML " at " URI ": running");
	free(st);
	ksd_switch(k, "guest");
	expect_event(sub, "event switch host guest command", T);
	dom_destroy(c, DOM_XML);
	expect_event(sub, "event switch guest host domain-gone", SLOW);
	assert_active(k, "host");
	free(kn);
	free(pn);
}

/* follow = both: the domain starting makes its target active, but only once
 * its QEMU holds the target's keyboard (at the switch event, a second grab
 * of the node already gets EBUSY); the domain going brings the host back. */
ITEST_TIMEOUT(usb_follow_start_switches_once_qemu_reads_the_keyboard, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	if (dom_running(c, DOM_XML))
		dom_destroy(c, DOM_XML);
	itest_udev_rules_install("71-kvmswitch.rules");
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[target guest]\ndomain = " DOM_XML "\nfollow = both\n");
	stable_link(k, "guest", "keyboard");
	stable_link(k, "guest", "pointer");
	wait_domain_state(k, "guest", "not found", T);
	struct lines *sub = subscribe(k);
	char *xml = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &xml, "libvirt-xml", "-c", ksd_config_path(k), "guest"), 0);
	dom_start(c, DOM_XML, xml);
	free(xml);
	expect_event(sub, "event switch host guest domain-started", SLOW);
	char *kn = ksd_vdev_node(k, "guest", "keyboard");
	assert_grabbed_by_other(kn);
	assert_active(k, "guest");
	char *log = daemon_log(k);
	ITEST_ASSERT_STR_CONTAINS(log, "domain '" DOM_XML "' started and its QEMU reads the target's keyboard");
	free(log);
	dom_destroy(c, DOM_XML);
	expect_event(sub, "event switch guest host domain-gone", SLOW);
	free(kn);
}

/* libvirt-hotplug: a domain started without kvmswitch's devices (before
 * kvmswitch) gets them through libvirt's monitor passthrough, is marked
 * tainted for it, and gets them again after a restart, after which follow
 * = start switches to it; kvmswitch deletes them when it exits. */
ITEST_TIMEOUT(usb_libvirt_hotplug_gives_a_running_domain_the_devices, 900)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	if (dom_running(c, DOM_XML))
		dom_destroy(c, DOM_XML);
	dom_start(c, DOM_XML, NULL);
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[target guest]\ndomain = " DOM_XML
				  "\nlibvirt-hotplug = yes\nfollow = start\n");
	char *kn = ksd_vdev_node(k, "guest", "keyboard"), *pn = ksd_vdev_node(k, "guest", "pointer");
	struct lines *sub = subscribe(k);
	for (int round = 0; round < 2; round++) {
		pid_t pid = qemu_pid(DOM_XML);
		int64_t end = itest_now_ms() + SLOW;
		while (!(proc_has_open(pid, kn) && proc_has_open(pid, pn)) && itest_now_ms() < end)
			usleep(200000);
		ITEST_ASSERT_MSG(proc_has_open(pid, kn), "round %d: QEMU (pid %d) does not have %s open", round, (int)pid, kn);
		ITEST_ASSERT_MSG(proc_has_open(pid, pn), "round %d: QEMU (pid %d) does not have %s open", round, (int)pid, pn);
		assert_grabbed_by_other(kn);
		assert_grabbed_by_other(pn);
		if (round == 1)
			break;
		/* Running before kvmswitch: no start to follow. */
		expect_no_event(sub, 500);
		dom_destroy(c, DOM_XML);
		dom_start(c, DOM_XML, NULL);
		expect_event(sub, "event switch host guest domain-started", SLOW);
	}
	char *qlog = itest_read_file("/var/log/libvirt/qemu/" DOM_XML ".log", NULL);
	ITEST_ASSERT_NOT_NULL(qlog);
	ITEST_ASSERT_STR_CONTAINS(qlog, "tainted: custom-monitor");
	free(qlog);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
	char *log = daemon_log(k);
	ITEST_ASSERT_EQ_INT(count_substr(log, "target 'guest': domain '" DOM_XML "' reads its keyboard"), 2);
	ITEST_ASSERT_STR_CONTAINS(log, "deleted its input-linux objects from domain '" DOM_XML "'");
	free(log);
	dom_destroy(c, DOM_XML);
	free(kn);
	free(pn);
}

static void destroy_xml_domain(void *conn)
{
	virDomainPtr d = virDomainLookupByName(conn, DOM_XML);
	if (d) {
		virDomainDestroy(d);
		virDomainFree(d);
	}
}

/* The README's quick start: kvmswitch run from the build tree, without its
 * udev rules, and `kvmswitch libvirt-xml` pasted into a domain. The links
 * do not exist, so libvirt-xml names the running daemon's event nodes
 * (using its configuration, no -c), and the domain starts with them: its
 * QEMU holds kvmswitch's devices. (With the links it failed: "unable to
 * stat: /dev/input/by-id/kvmswitch-...".) */
ITEST_TIMEOUT(usb_libvirt_xml_without_udev_rules_starts_a_domain, 600)
{
	need_usb_vm();
	virConnectPtr c = lv_open();
	if (dom_running(c, DOM_XML))
		dom_destroy(c, DOM_XML);
	ITEST_ASSERT_MSG(access("/run/udev/rules.d/71-kvmswitch.rules", F_OK) != 0 &&
				 access("/etc/udev/rules.d/71-kvmswitch.rules", F_OK) != 0,
			 "kvmswitch's udev rule is installed in the VM");
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[target raw]\ndomain = " DOM_XML "\n");
	char *kn = ksd_vdev_node(k, "raw", "keyboard"), *pn = ksd_vdev_node(k, "raw", "pointer");
	ITEST_ASSERT(access("/dev/input/by-id/kvmswitch-raw-keyboard", F_OK) != 0);
	char *xml = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &xml, "libvirt-xml", "raw"), 0);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "<source dev='%s' grab='all' repeat='on' grabToggle='ctrl-ctrl'/>", kn);
	ITEST_ASSERT_STR_CONTAINS(xml, want);
	dom_start(c, DOM_XML, xml);
	free(xml);
	itest_defer(destroy_xml_domain, c);
	assert_domain_holds(kn, pn);
	wait_domain_state(k, "raw", "running", T);
	free(kn);
	free(pn);
}
