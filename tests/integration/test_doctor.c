/* kvmswitch doctor against a real machine (the test VM): it finds uinput,
 * udev and the daemon (at the path the commands use, and at root's path
 * when they look elsewhere), reports kvmswitch's udev rules missing, then
 * installed but not applied, then applied, sees a QEMU holding a guest
 * device, tells what a mouse with a horizontal wheel loses on QEMU's
 * input-linux path (and QEMU's own trace agrees), and shows the nodes of
 * one physical device (a HID device with keyboard, consumer-control and
 * mouse collections, made through uhid) as one finding. */
#include <fcntl.h>
#include <linux/uhid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 10000
#define CFG_WIN KSD_MATCH_TEST_DEVICES "[target win]\n"

/* `kvmswitch doctor -c CONFIG` against daemon k (its socket), or with env
 * as given when k is NULL; its exit status and stdout. */
static int doctor(struct ksd *k, const char *config, const char *const env[], char **out)
{
	char sock[4200];
	const char *env_k[] = { sock, NULL };
	if (k)
		snprintf(sock, sizeof(sock), "KVMSWITCH_SOCKET=%s", ksd_socket(k));
	const char *const args[] = { "doctor", "-c", config, NULL };
	char *err;
	int st = ksd_cli_env(k ? env_k : env, out, &err, args);
	itest_log("kvmswitch doctor (exit %d):\n%s%s", st, *out, err);
	ITEST_ASSERT_STR_EQ(err, "");
	free(err);
	return st;
}

/* The finding line that starts with `prefix` (status word, check name). */
static const char *finding(const char *out, const char *prefix)
{
	for (const char *l = out; *l;) {
		if (strncmp(l, prefix, strlen(prefix)) == 0)
			return l;
		const char *nl = strchr(l, '\n');
		if (!nl)
			break;
		l = nl + 1;
	}
	return NULL;
}

#define ASSERT_FINDING(out_, prefix_)                                                                  \
	ITEST_ASSERT_MSG(finding((out_), (prefix_)), "doctor has no line '%s...':\n%s", (prefix_), (out_))

static void wait_taken(struct ksd *k, struct tdev *d)
{
	ITEST_ASSERT_MSG(ksd_wait_input(k, tdev_devnode(d), false, T), "%s not taken", tdev_name(d));
}

ITEST_TIMEOUT(finds_uinput_udev_and_the_daemon, 120)
{
	struct ksd *k = ksd_start(CFG_WIN);
	char *out, want[4200];
	doctor(k, ksd_config_path(k), NULL, &out);
	ASSERT_FINDING(out, "ok    uinput: /dev/uinput is there and writable\n");
	ASSERT_FINDING(out, "ok    udev: systemd-udevd is running\n");
	snprintf(want, sizeof(want), "ok    daemon: kvmswitch 0.1.0 (pid %d) answers at %s; its configuration: %s\n",
		 (int)tproc_pid(ksd_proc(k)), ksd_socket(k), ksd_config_path(k));
	ASSERT_FINDING(out, want);
	snprintf(want, sizeof(want), "ok    config: %s: 2 targets: host (host), win (evdev)\n", ksd_config_path(k));
	ASSERT_FINDING(out, want);
	ITEST_ASSERT_STR_CONTAINS(out, "\n        keyboard /dev/input/event");
	free(out);
	/* The same findings for scripts. */
	char sock[4200];
	snprintf(sock, sizeof(sock), "KVMSWITCH_SOCKET=%s", ksd_socket(k));
	ITEST_ASSERT_EQ_INT(ksd_cli_env((const char *const[]){ sock, NULL }, &out, NULL,
					(const char *const[]){ "doctor", "--json", "-c", ksd_config_path(k), NULL }),
			    1);
	ITEST_ASSERT_STR_CONTAINS(out, "{\"findings\":[{\"status\":\"ok\",\"check\":\"config\",");
	ITEST_ASSERT_STR_CONTAINS(out, "{\"status\":\"ok\",\"check\":\"uinput\",\"message\":\"/dev/uinput is there and "
				       "writable\",\"fix\":null,\"details\":[]}");
	ITEST_ASSERT_STR_CONTAINS(out, "\"fail\":");
	free(out);
}

/* Missing (a VM device is visible to the host: fail), installed but not
 * applied to the devices that existed before (fail, with the fix), applied
 * (ok; the devices are root's alone, with their links). */
ITEST_TIMEOUT(reports_the_rules_missing_then_installed, 180)
{
	if (!itest_in_vm())
		itest_skip("installs udev rules: runs only in the test VM");
	struct ksd *k = ksd_start(CFG_WIN);
	char *kbd = ksd_vdev_node(k, "win", "keyboard"), *out;
	doctor(k, ksd_config_path(k), NULL, &out);
	ASSERT_FINDING(out, "fail  udev-rules: 71-kvmswitch.rules is not installed: the host's desktop also reads");
	ITEST_ASSERT_STR_CONTAINS(out, "; fix: sudo make install PREFIX=/usr (or sudo install -m644 udev/71-kvmswitch.rules "
				       "/etc/udev/rules.d/), then sudo udevadm control --reload && sudo udevadm trigger "
				       "--subsystem-match=input\n");
	free(out);

	itest_udev_rules_install("71-kvmswitch.rules");
	doctor(k, ksd_config_path(k), NULL, &out);
	ASSERT_FINDING(out, "fail  udev-rules: /etc/udev/rules.d/71-kvmswitch.rules is installed but not applied to 2 "
			    "of kvmswitch's VM devices (udev read it after they appeared); fix: sudo udevadm control "
			    "--reload && sudo udevadm trigger --subsystem-match=input\n");
	char want[256];
	snprintf(want, sizeof(want), "\n        %s: kvmswitch win keyboard\n", kbd);
	ITEST_ASSERT_STR_CONTAINS(out, want);
	free(out);

	itest_udev_retrigger();
	doctor(k, ksd_config_path(k), NULL, &out);
	ASSERT_FINDING(out, "ok    udev-rules: /etc/udev/rules.d/71-kvmswitch.rules is installed\n");
	snprintf(want, sizeof(want), "\n        keyboard %s = /dev/input/by-id/kvmswitch-win-keyboard: mode 0600 root:root; "
		 "held by no process\n", kbd);
	ITEST_ASSERT_STR_CONTAINS(out, want);
	free(out);
	free(kbd);
}

/* root with a session (XDG_RUNTIME_DIR set) looks in /run/user/0 while the
 * daemon run without one (sudo, the system unit) is in /run/kvmswitch; a
 * user may not even look there. Both are told where it is. */
static void remove_dir(void *path)
{
	rmdir(path);
	free(path);
}

ITEST_TIMEOUT(finds_the_daemon_at_the_root_path, 180)
{
	if (!itest_in_vm())
		itest_skip("uses root's /run/kvmswitch: runs only in the test VM");
	char *conf = itest_tmpfile_with("k.conf", CFG_WIN, 0644);
	struct tproc *d = tproc_spawn((const char *const[]){ "env", "-u", "XDG_RUNTIME_DIR", "-u", "KVMSWITCH_SOCKET",
							     ksd_binary(), "run", "-c", conf, NULL },
				      NULL);
	int64_t deadline = itest_now_ms() + 20000;
	while (access("/run/kvmswitch/kvmswitch.sock", F_OK) < 0 && itest_now_ms() < deadline)
		usleep(50 * 1000);
	ITEST_ASSERT_SYSCALL(access("/run/kvmswitch/kvmswitch.sock", F_OK));
	char *out, want[1024];
	const char *const rootenv[] = { "env", "-u", "KVMSWITCH_SOCKET", "XDG_RUNTIME_DIR=/run/user/0", ksd_binary(),
					"doctor", "-c", conf, NULL };
	tproc_run(rootenv, NULL, &out, NULL, 60000);
	itest_log("doctor as root with a session:\n%s", out);
	snprintf(want, sizeof(want), "warn  daemon: no daemon at /run/user/0/kvmswitch.sock, where the commands look, but "
		 "kvmswitch 0.1.0 (pid %d) answers at /run/kvmswitch/kvmswitch.sock; fix: export "
		 "KVMSWITCH_SOCKET=/run/kvmswitch/kvmswitch.sock, or run the commands with sudo", (int)tproc_pid(d));
	ASSERT_FINDING(out, want);
	free(out);

	/* A user: the directory is root's alone. (Its runtime directory must
	 * be one it may enter: not under the case's tmpdir, which is root's.) */
	char tmpl[] = "/tmp/kvmswitch-doctor-rt.XXXXXX";
	ITEST_ASSERT_NOT_NULL(mkdtemp(tmpl));
	ITEST_ASSERT_SYSCALL(chmod(tmpl, 0777));
	char *rt = strdup(tmpl);
	itest_defer(remove_dir, strdup(tmpl));
	char rtenv[4200];
	snprintf(rtenv, sizeof(rtenv), "XDG_RUNTIME_DIR=%s", rt);
	const char *const userenv[] = { "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "-u",
					"KVMSWITCH_SOCKET", "-u", "XDG_CONFIG_HOME", rtenv, "HOME=/nonexistent", ksd_binary(),
					"doctor", NULL };
	tproc_run(userenv, NULL, &out, NULL, 60000);
	itest_log("doctor as nobody:\n%s", out);
	snprintf(want, sizeof(want), "warn  daemon: no daemon at %s/kvmswitch.sock, where the commands look; only root may "
		 "look into /run/kvmswitch, where a daemon run as root (the system unit) has its socket; fix: use sudo", rt);
	ASSERT_FINDING(out, want);
	/* Not the misleading "no daemon". */
	ITEST_ASSERT_MSG(!finding(out, "fail  daemon"), "doctor as nobody says there is no daemon:\n%s", out);
	free(out);
	free(rt);
	ITEST_ASSERT_EQ_INT(tproc_stop(d, 10000), 0);
	free(conf);
}

ITEST_TIMEOUT(sees_a_qemu_holding_a_guest_device, 300)
{
	struct ksd *k = ksd_start(CFG_WIN);
	char *node = ksd_vdev_node(k, "win", "keyboard"), *out, want[512];
	doctor(k, ksd_config_path(k), NULL, &out);
	ASSERT_FINDING(out, "warn  guest: target win: its devices are not open in any process: the VM does not read them");
	free(out);

	const char *nodes[] = { node };
	struct qemu_consumer *q = qemu_consumer_start(nodes, 1, NULL);
	doctor(k, ksd_config_path(k), NULL, &out);
	snprintf(want, sizeof(want), "warn  guest: target win: its pointer is not open in any process: the VM does not "
		 "read it; its keyboard is read by qemu-system-x86 (pid %d, input-linux)",
		 (int)tproc_pid(qemu_consumer_proc(q)));
	ASSERT_FINDING(out, want);
	snprintf(want, sizeof(want), "\n        keyboard %s: ", node);
	ITEST_ASSERT_STR_CONTAINS(out, want);
	snprintf(want, sizeof(want), "; held by qemu-system-x86 (pid %d, input-linux)\n", (int)tproc_pid(qemu_consumer_proc(q)));
	ITEST_ASSERT_STR_CONTAINS(out, want);
	free(out);
	qemu_consumer_stop(q);
	free(node);
}

/* The test mouse has a horizontal wheel, hi-res wheels and BTN_FORWARD,
 * BTN_BACK and BTN_TASK: doctor says input-linux loses them and what to
 * set, and a QEMU reading the guest pointer through input-linux indeed
 * gets none of them. With libvirt-input = passthrough, nothing is lost. */
ITEST_TIMEOUT(tells_what_a_mouse_with_a_horizontal_wheel_loses, 300)
{
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_WIN);
	wait_taken(k, mouse);
	wait_taken(k, kbd);
	char *out, want[1024];
	doctor(k, ksd_config_path(k), NULL, &out);
	snprintf(want, sizeof(want), "warn  inputs: kvmtest mouse: on QEMU's input-linux path (win) a guest loses the "
		 "horizontal wheel, high-resolution scrolling (it gets whole notches, at most one per frame), the buttons "
		 "BTN_FORWARD, BTN_BACK, BTN_TASK; fix: set libvirt-input = passthrough in [target win] and give the "
		 "domain what kvmswitch libvirt-xml prints then");
	ASSERT_FINDING(out, want);
	ASSERT_FINDING(out, "ok    inputs: kvmtest kbd: a guest gets all of it on either path\n");
	snprintf(want, sizeof(want), "\n        %-18s take ", tdev_devnode(mouse));
	const char *line = strstr(out, want);
	ITEST_ASSERT_MSG(line, "no line for %s:\n%s", tdev_devnode(mouse), out);
	const char *name = strstr(line, " kvmtest mouse (matched by the rule at line 2)\n");
	ITEST_ASSERT_MSG(name && name < strchr(line + 1, '\n'), "its line: %.200s", line + 1);
	free(out);

	/* What QEMU's input-linux makes of it: the motion, not the tilt wheel
	 * nor the forward button. */
	char *ptr = ksd_vdev_node(k, "win", "pointer");
	const char *nodes[] = { ptr };
	struct qemu_consumer *q = qemu_consumer_start(nodes, 1, NULL);
	ksd_switch(k, "win");
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(mouse), true, T));
	TDEV_FRAME(mouse, { EV_REL, REL_X, 5 }, { EV_REL, REL_HWHEEL, 1 }, { EV_REL, REL_HWHEEL_HI_RES, 120 });
	tdev_key(mouse, BTN_FORWARD, 1);
	tdev_key(mouse, BTN_FORWARD, 0);
	TDEV_FRAME(mouse, { EV_REL, REL_Y, 7 });
	QEMU_CONSUMER_EXPECT(q, 0, T, "rel x 5", "rel y 7");
	qemu_consumer_stop(q);
	free(ptr);

	/* The other path loses nothing. */
	char *conf = itest_tmpfile_with("pass.conf", CFG_WIN "libvirt-input = passthrough\n", 0644);
	doctor(k, conf, NULL, &out);
	ASSERT_FINDING(out, "ok    inputs: kvmtest mouse: the guests get all of it on virtio-input-host (win); "
			    "input-linux would lose the horizontal wheel");
	free(out);
	free(conf);
}

/* ---- one physical device with several nodes, through uhid ---- */

/* A keyboard, a consumer control and a mouse with eight buttons, a wheel
 * and AC Pan (the horizontal wheel), each an application collection of its
 * own: hid-generic makes input devices of them, all under one HID device
 * (Linux 6.1 puts the consumer control into the keyboard's). */
static const unsigned char receiver_rd[] = {
	0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x85, 0x01,	/* Keyboard, report 1 */
	0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02,
	0x95, 0x06, 0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x19, 0x00, 0x29, 0x65, 0x81, 0x00, 0xc0,
	0x05, 0x0c, 0x09, 0x01, 0xa1, 0x01, 0x85, 0x02,	/* Consumer Control, report 2 */
	0x15, 0x00, 0x26, 0xff, 0x03, 0x19, 0x00, 0x2a, 0xff, 0x03, 0x75, 0x10, 0x95, 0x01, 0x81, 0x00, 0xc0,
	0x05, 0x01, 0x09, 0x02, 0xa1, 0x01, 0x85, 0x03,	/* Mouse, report 3 */
	0x09, 0x01, 0xa1, 0x00, 0x05, 0x09, 0x19, 0x01, 0x29, 0x08, 0x15, 0x00, 0x25, 0x01, 0x95, 0x08, 0x75, 0x01,
	0x81, 0x02, 0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x09, 0x38, 0x15, 0x81, 0x25, 0x7f, 0x75, 0x08, 0x95, 0x03,
	0x81, 0x06, 0x05, 0x0c, 0x0a, 0x38, 0x02, 0x15, 0x81, 0x25, 0x7f, 0x75, 0x08, 0x95, 0x01, 0x81, 0x06, 0xc0,
	0xc0,
};

static void uhid_destroy(void *data)
{
	int *fd = data;
	struct uhid_event ev = { .type = UHID_DESTROY };
	if (write(*fd, &ev, sizeof(ev)) < 0)
		itest_log("UHID_DESTROY: %s", strerror(errno));
	close(*fd);
	free(fd);
}

ITEST_TIMEOUT(groups_the_nodes_of_one_physical_device, 180)
{
	if (!itest_in_vm())
		itest_skip("loads the uhid module: runs only in the test VM");
	const char *const modprobe[] = { "modprobe", "uhid", NULL };
	ITEST_ASSERT_EQ_INT(tproc_run(modprobe, NULL, NULL, NULL, 60000), 0);
	int *fd = malloc(sizeof(*fd));
	ITEST_ASSERT_NOT_NULL(fd);
	*fd = open("/dev/uhid", O_RDWR | O_CLOEXEC);
	ITEST_ASSERT_SYSCALL(*fd);
	struct uhid_event ev = { .type = UHID_CREATE2 };
	snprintf((char *)ev.u.create2.name, sizeof(ev.u.create2.name), ITEST_DEVICE_PREFIX "receiver");
	snprintf((char *)ev.u.create2.phys, sizeof(ev.u.create2.phys), "kvmtest-uhid");
	ev.u.create2.rd_size = sizeof(receiver_rd);
	ev.u.create2.bus = BUS_USB;
	ev.u.create2.vendor = 0x4b56;
	ev.u.create2.product = 0x0003;
	memcpy(ev.u.create2.rd_data, receiver_rd, sizeof(receiver_rd));
	ITEST_ASSERT_EQ_INT(write(*fd, &ev, sizeof(ev)), (long long)sizeof(ev));
	itest_defer(uhid_destroy, fd);
	const char *names[] = { "kvmtest receiver Keyboard", "kvmtest receiver Mouse" };
	char *nodes[2];
	for (size_t i = 0; i < 2; i++) {
		nodes[i] = treader_find_node(names[i], T);
		ITEST_ASSERT_MSG(nodes[i] != NULL, "hid-generic made no '%s'", names[i]);
	}
	char *conf = itest_tmpfile_with("k.conf", CFG_WIN, 0644), *out, sock[4200];
	snprintf(sock, sizeof(sock), "KVMSWITCH_SOCKET=%s/none.sock", itest_tmpdir());
	doctor(NULL, conf, (const char *const[]){ sock, NULL }, &out);
	/* One finding for both, named by their HID device, each node below it. */
	const char *f = finding(out, "warn  inputs: kvmtest receiver (hid 0003:4B56:0003.");
	ITEST_ASSERT_MSG(f, "no finding for the receiver as one device:\n%s", out);
	ITEST_ASSERT_STR_CONTAINS(f, "): on QEMU's input-linux path (win) a guest loses the horizontal wheel, "
				     "high-resolution scrolling (it gets whole notches, at most one per frame), the buttons "
				     "BTN_FORWARD, BTN_BACK, BTN_TASK; fix: ");
	const char *next = strchr(f, '\n') + 1;
	for (size_t i = 0; i < 2; i++) {
		char want[256];
		snprintf(want, sizeof(want), "        %-18s take ", nodes[i]);
		const char *at = strstr(next, want);
		ITEST_ASSERT_MSG(at && (size_t)(at - next) < 2 * 200, "%s is not listed under the receiver:\n%s", nodes[i],
				 next);
		ITEST_ASSERT_STR_CONTAINS(at, names[i]);
		free(nodes[i]);
	}
	free(out);
	free(conf);
}
