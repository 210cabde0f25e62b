/* Game time (issue 15) and the monitor (issue 14) against a real kernel:
 * keys that stay on the host (the host's readers and QEMU input-linux's
 * trace say who got what), host-only devices, the lock, the toggling
 * hotkey, `kvmswitch monitor` and who may use it, `kvmswitch keys`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 5000 /* ms to wait for what must come */

static void wait_taken(struct ksd *k, struct tdev *d, bool grabbed)
{
	ITEST_ASSERT_MSG(ksd_wait_input(k, tdev_devnode(d), grabbed, 10000), "%s is not %s by kvmswitch",
			 tdev_name(d), grabbed ? "grabbed" : "taken ungrabbed");
}

static void assert_active(struct ksd *k, const char *want)
{
	char *a = ksd_active(k);
	ITEST_ASSERT_STR_EQ(a, want);
	free(a);
}

static char *status_json(struct ksd *k)
{
	char *s = ksd_request(k, "status");
	ITEST_ASSERT_MSG(strncmp(s, "ok {", 4) == 0, "status: %.200s", s);
	return s;
}

static void expect_reply(struct ksd *k, const char *req, const char *want)
{
	char *r = ksd_request(k, req);
	ITEST_ASSERT_STR_EQ(r, want);
	free(r);
}

static void expect_line(int fd, const char *want)
{
	char *l = tsock_recv_line(fd, T);
	ITEST_ASSERT_MSG(l != NULL, "no line (wanted '%s')", want);
	ITEST_ASSERT_STR_EQ(l, want);
	free(l);
}

/* A key pressed and released, in two frames, on a reader. */
#define EXPECT_TAP(r_, code_)                                                                                  \
	TREADER_EXPECT((r_), T, { EV_KEY, (code_), 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, (code_), 0 },        \
		       { EV_SYN, SYN_REPORT, 0 })

/* ======================================================================== */
/* Keys that stay on the host                                              */

#define CFG_KEYS KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\nhost-keys = volumeup mute\nshared-keys = v\n"

/* A native host and a guest read by QEMU. Volume up (a host key) goes to
 * the host through kvmswitch's host keyboard while the guest has the
 * keyboard, V (a shared key) to both. Held across a switch to the host, V is
 * released in the guest at once and both stay held on the host until they
 * are up, released there once; the keyboard stays grabbed until then, so the
 * host's reader of the physical device sees none of it. On the native host
 * V is the host's own (it reads the device), and the guest never gets it. */
ITEST_TIMEOUT(host_and_shared_keys_reach_the_host_and_qemu, 240)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_KEYS);
	wait_taken(k, kbd, true);
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	struct treader *phys = treader_open(tdev_devnode(kbd), false); /* the compositor */
	char *gnode = ksd_vdev_node(k, "guest", "keyboard");
	struct qemu_consumer *q = qemu_consumer_start((const char *const[]){ gnode }, 1, NULL);

	tdev_tap(kbd, KEY_VOLUMEUP);
	EXPECT_TAP(hk, KEY_VOLUMEUP);
	tdev_tap(kbd, KEY_V);
	EXPECT_TAP(hk, KEY_V);
	QEMU_CONSUMER_EXPECT(q, 0, 30000, "key v 1", "key v 0");

	/* Held across a switch to the native host. */
	tdev_key(kbd, KEY_V, 1);
	TREADER_EXPECT(hk, T, { EV_KEY, KEY_V, 1 }, { EV_SYN, SYN_REPORT, 0 });
	tdev_key(kbd, KEY_MUTE, 1);
	TREADER_EXPECT(hk, T, { EV_KEY, KEY_MUTE, 1 }, { EV_SYN, SYN_REPORT, 0 });
	QEMU_CONSUMER_EXPECT(q, 2, 30000, "key v 1");
	ksd_switch(k, "host");
	QEMU_CONSUMER_EXPECT(q, 3, 30000, "key v 0");
	ITEST_ASSERT_EQ_INT(ksd_held(k, "host"), 2);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, 100));
	treader_expect_silence(hk, 200);
	tdev_key(kbd, KEY_V, 0);
	TREADER_EXPECT(hk, T, { EV_KEY, KEY_V, 0 }, { EV_SYN, SYN_REPORT, 0 });
	tdev_key(kbd, KEY_MUTE, 0);
	TREADER_EXPECT(hk, T, { EV_KEY, KEY_MUTE, 0 }, { EV_SYN, SYN_REPORT, 0 });
	wait_taken(k, kbd, false);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "host"), 0);
	treader_expect_silence(phys, 200); /* all of it came through kvmswitch's keyboard */

	/* On the native host: the host reads V itself; the switch to the guest
	 * waits for it to come up, and the guest gets nothing of it. */
	tdev_key(kbd, KEY_V, 1);
	TREADER_EXPECT(phys, T, { EV_KEY, KEY_V, 1 }, { EV_SYN, SYN_REPORT, 0 });
	ksd_switch(k, "guest");
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), false, 100));
	tdev_key(kbd, KEY_V, 0);
	TREADER_EXPECT(phys, T, { EV_KEY, KEY_V, 0 }, { EV_SYN, SYN_REPORT, 0 });
	wait_taken(k, kbd, true);
	tdev_tap(kbd, KEY_A);
	QEMU_CONSUMER_EXPECT(q, 4, 30000, "key a 1", "key a 0");
	/* Nothing else reached QEMU: no volume key, no second V. */
	usleep(500000);
	size_t n;
	qemu_consumer_poll(q);
	qemu_consumer_events(q, &n);
	ITEST_ASSERT_EQ_INT(n, 6);
	treader_expect_silence(hk, 100);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "host"), 0);
	qemu_consumer_stop(q);
	free(gnode);
}

/* A host-only device: with the native host never grabbed (the host reads
 * it, while the guest has the keyboard), with a virtual host grabbed and
 * forwarded to the host's keyboard; never to the guest. Its keys may still
 * be hotkeys. */
ITEST_TIMEOUT(host_only_device_never_reaches_the_guest, 180)
{
	static const char cfg_native[] = KSD_MATCH_TEST_DEVICES "host-only = name:\"" ITEST_DEVICE_PREFIX "pad\"\n"
								"[general]\nstart = guest\n"
								"[target host]\nhotkey = f14\n[target guest]\n";
	static const char cfg_virtual[] = KSD_MATCH_TEST_DEVICES "host-only = name:\"" ITEST_DEVICE_PREFIX "pad\"\n"
								 "[general]\nstart = guest\n"
								 "[target host]\nmode = virtual\nhotkey = f14\n[target guest]\n";
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct tdev *pad = tdev_create(TDEV_KEYBOARD, "pad");
	struct ksd *k = ksd_start(cfg_native);
	wait_taken(k, kbd, true);
	wait_taken(k, pad, false);
	char *s = status_json(k);
	char pat[160];
	snprintf(pat, sizeof(pat), "\"node\":\"%s\",\"name\":\"%s\",\"grabbed\":false,\"pending\":false,\"host_only\":true",
		 tdev_devnode(pad), tdev_name(pad));
	ITEST_ASSERT_STR_CONTAINS(s, pat);
	free(s);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	struct treader *ppad = treader_open(tdev_devnode(pad), false);
	tdev_tap(pad, KEY_F13);
	EXPECT_TAP(ppad, KEY_F13);
	tdev_tap(kbd, KEY_B);
	EXPECT_TAP(gk, KEY_B);
	treader_expect_silence(gk, 200);
	treader_expect_silence(hk, 100);
	/* Its key as the host's hotkey: the host reads it too. */
	tdev_tap(pad, KEY_F14);
	EXPECT_TAP(ppad, KEY_F14);
	wait_taken(k, kbd, false);
	assert_active(k, "host");
	ksd_switch(k, "guest");
	wait_taken(k, kbd, true);

	/* A virtual host: grabbed, and its keys go to the host's keyboard. */
	FILE *f = fopen(ksd_config_path(k), "w");
	ITEST_ASSERT_NOT_NULL(f);
	fputs(cfg_virtual, f);
	fclose(f);
	expect_reply(k, "reload", "ok reloaded");
	wait_taken(k, pad, true);
	assert_active(k, "guest");
	hk = ksd_open_vdev(k, "host", "keyboard"); /* the host's devices are new in virtual mode */
	treader_drain(ppad);
	tdev_tap(pad, KEY_F13);
	EXPECT_TAP(hk, KEY_F13);
	treader_expect_silence(gk, 200);
	treader_expect_silence(ppad, 100);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "host"), 0);
}

/* ======================================================================== */
/* The lock                                                                */

/* start-locked: the hotkey does nothing, a command still switches; the
 * lock chord and lock/unlock toggle it; status shows it; subscribers get it
 * (at once when they subscribe, then as it changes); a reload keeps it. In
 * the guest the locked hotkey's completing key and the lock chord are
 * swallowed. */
ITEST_TIMEOUT(lock_stops_hotkeys_not_commands, 180)
{
	static const char cfg[] = KSD_MATCH_TEST_DEVICES "[general]\nlock = scrolllock\nstart-locked = yes\n"
							"[target host]\nmode = virtual\n[target guest]\n";
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(cfg);
	wait_taken(k, kbd, true);
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	int sub = tsock_unix_connect(ksd_socket(k));
	tsock_send_str(sub, "subscribe\n");
	expect_line(sub, "ok subscribed host");
	expect_line(sub, "event lock on");
	char *s = status_json(k);
	ITEST_ASSERT_STR_CONTAINS(s, "\"locked\":true");
	free(s);
	char *out = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &out, "status"), 0);
	ITEST_ASSERT_STR_CONTAINS(out, "active: host (locked: the hotkeys do not switch)");
	free(out);

	tdev_key(kbd, KEY_LEFTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	TREADER_EXPECT(hk, T, { EV_KEY, KEY_LEFTCTRL, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_LEFTCTRL, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	assert_active(k, "host");
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &out, "switch", "guest"), 0);
	ITEST_ASSERT_STR_EQ(out, "guest\n");
	free(out);
	expect_line(sub, "event switch host guest command");

	/* In the guest: the locked chord reaches it but for its last key. */
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_LEFTCTRL, 1 }, { EV_SYN, SYN_REPORT, 0 });
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_LEFTCTRL, 0 }, { EV_SYN, SYN_REPORT, 0 });
	assert_active(k, "guest");

	/* The chord unlocks, and is swallowed. */
	tdev_tap(kbd, KEY_SCROLLLOCK);
	expect_line(sub, "event lock off");
	treader_expect_silence(gk, 200);
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	expect_line(sub, "event switch guest host hotkey");
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	treader_drain(gk);
	treader_drain(hk);

	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &out, "lock"), 0);
	ITEST_ASSERT_STR_EQ(out, "locked\n");
	free(out);
	expect_line(sub, "event lock on");
	expect_reply(k, "reload", "ok reloaded");
	s = status_json(k);
	ITEST_ASSERT_STR_CONTAINS(s, "\"locked\":true");
	free(s);
	expect_reply(k, "unlock", "ok unlocked");
	expect_line(sub, "event lock off");
	expect_reply(k, "unlock", "ok unlocked");
	close(sub);
}

/* hotkey-action = toggle: the hotkey goes from the host to the VM target
 * used last, and back. */
ITEST(toggle_hotkey_returns_to_the_last_vm)
{
	static const char cfg[] = KSD_MATCH_TEST_DEVICES "[general]\nhotkey-action = toggle\n"
							"[target host]\n[target a]\n[target b]\n";
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(cfg);
	wait_taken(k, kbd, false);
	ksd_switch(k, "b");
	ksd_switch(k, "host");
	wait_taken(k, kbd, false);
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	wait_taken(k, kbd, true);
	assert_active(k, "b"); /* cycling would have gone to a */
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	wait_taken(k, kbd, false);
	assert_active(k, "host");
}

/* ======================================================================== */
/* kvmswitch monitor                                                       */

/* Waits until status counts `n` monitor clients (a CLI may take seconds to
 * start: an ASan build, as another user, in the emulated test VM). */
static void wait_monitors(struct ksd *k, long long n)
{
	int64_t deadline = itest_now_ms() + 30000;
	while (ksd_counter(k, "monitors") != n && itest_now_ms() < deadline)
		usleep(20000);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "monitors"), n);
}

/* argv (a kvmswitch command, maybe behind setpriv) against this daemon. */
static struct tproc *spawn_cli(struct ksd *k, const char *const argv[])
{
	char env0[4200];
	snprintf(env0, sizeof(env0), "KVMSWITCH_SOCKET=%s", ksd_socket(k));
	return tproc_spawn(argv, (const char *const[]){ env0, NULL });
}

/* The JSON of the next "event input" line on fd (malloc'd). */
static char *next_input_event(int fd)
{
	for (;;) {
		char *l = tsock_recv_line(fd, T);
		ITEST_ASSERT_MSG(l != NULL, "no input event line");
		if (strncmp(l, "event input {", 13) == 0) {
			memmove(l, l + 12, strlen(l + 12) + 1);
			return l;
		}
		free(l);
	}
}

/* A monitor client sees each key typed on a test device with its name,
 * device and destination (and so does `kvmswitch monitor`, in words); the
 * daemon's log says nothing of them. Without a monitor client the daemon
 * makes no such lines at all: a subscriber gets none, and the count of
 * lines made stays put. */
ITEST_TIMEOUT(monitor_shows_keys_with_device_and_destination, 180)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\nhost-keys = mute\n");
	wait_taken(k, kbd, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	int sub = tsock_unix_connect(ksd_socket(k));
	tsock_send_str(sub, "subscribe\n");
	expect_line(sub, "ok subscribed guest");
	/* No monitor: typing makes no monitor line. */
	tdev_tap(kbd, KEY_F17);
	EXPECT_TAP(gk, KEY_F17);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "monitor_events"), 0);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "monitors"), 0);

	int mon = tsock_unix_connect(ksd_socket(k));
	tsock_send_str(mon, "monitor\n");
	expect_line(mon, "ok monitoring");
	struct tproc *cli = spawn_cli(k, (const char *const[]){ ksd_binary(), "monitor", NULL });
	wait_monitors(k, 2);

	tdev_tap(kbd, KEY_F17);
	EXPECT_TAP(gk, KEY_F17);
	char want[512];
	snprintf(want, sizeof(want),
		 "{\"node\":\"%s\",\"device\":\"%s\",\"type\":\"key\",\"key\":\"f17\",\"code\":%d,\"value\":\"down\","
		 "\"route\":\"target\",\"target\":\"guest\"}",
		 tdev_devnode(kbd), tdev_name(kbd), KEY_F17);
	char *e = next_input_event(mon);
	ITEST_ASSERT_STR_EQ(e, want);
	free(e);
	e = next_input_event(mon);
	ITEST_ASSERT_STR_CONTAINS(e, "\"key\":\"f17\"");
	ITEST_ASSERT_STR_CONTAINS(e, "\"value\":\"up\"");
	free(e);
	/* A host key, and a hotkey's completing key. */
	tdev_tap(kbd, KEY_MUTE);
	e = next_input_event(mon);
	ITEST_ASSERT_STR_CONTAINS(e, "\"key\":\"mute\"");
	ITEST_ASSERT_STR_CONTAINS(e, "\"route\":\"target\",\"target\":\"host\",\"host_key\":true");
	free(e);
	free(next_input_event(mon));
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	free(next_input_event(mon));
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	e = next_input_event(mon);
	ITEST_ASSERT_STR_CONTAINS(e, "\"key\":\"rightctrl\"");
	ITEST_ASSERT_STR_CONTAINS(e, "\"route\":\"hotkey\"");
	free(e);
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	expect_line(sub, "event switch guest host hotkey");
	free(next_input_event(mon));
	free(next_input_event(mon));

	/* The CLI's words. */
	usleep(300000);
	tproc_kill(cli, SIGTERM);
	tproc_wait(cli, T);
	char *text = itest_read_file(tproc_stdout_path(cli), NULL);
	ITEST_ASSERT_NOT_NULL(text);
	char line[512];
	snprintf(line, sizeof(line), "%s (%s)", tdev_name(kbd), tdev_devnode(kbd));
	ITEST_ASSERT_STR_CONTAINS(text, line);
	ITEST_ASSERT_STR_CONTAINS(text, " f17 ");
	ITEST_ASSERT_STR_CONTAINS(text, "down -> guest\n");
	ITEST_ASSERT_STR_CONTAINS(text, "down -> host (host key)\n");
	ITEST_ASSERT_STR_CONTAINS(text, "down -> nowhere: a hotkey\n");
	free(text);

	/* The monitors leave: the stream stops in the daemon. */
	close(mon);
	wait_monitors(k, 0);
	long long made = ksd_counter(k, "monitor_events");
	ITEST_ASSERT_GE_INT(made, 8);
	tdev_tap(kbd, KEY_F17);
	usleep(300000);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "monitor_events"), made);
	/* The subscriber never got an input line, only the switch. */
	char *l = tsock_recv_line(sub, 300);
	ITEST_ASSERT_MSG(l == NULL, "the subscriber got '%s'", l);
	close(sub);
	/* Nothing of the typed keys is in the daemon's log (debug level). */
	char *log = itest_read_file(tproc_stderr_path(ksd_proc(k)), NULL);
	ITEST_ASSERT_NOT_NULL(log);
	ITEST_ASSERT_MSG(!strcasestr(log, "f17") && !strstr(log, "\"key\""), "the log names a typed key:\n%.2000s",
			 log);
	ITEST_ASSERT_STR_CONTAINS(log, "monitor: a client watches the input events");
	free(log);
}

/* monitor is for the daemon's own uid: a daemon run as nobody serves root
 * every other command, but refuses it monitor; another uid cannot even
 * connect. Over the network listener it is never allowed (unit
 * auth_only_switch_commands, and `kvmswitch remote` refuses to send it). */
ITEST_TIMEOUT(monitor_only_for_the_daemons_own_uid, 180)
{
	if (!getenv("KVMSWITCH_IN_VM"))
		itest_skip("runs processes as other uids: only in the test VM");
	ITEST_ASSERT_SYSCALL(chmod(itest_tmpdir(), 0777));
	const char *as_nobody[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", NULL };
	struct ksd *k = ksd_start_as(KSD_MATCH_TEST_DEVICES "[target host]\n", NULL, as_nobody);
	/* Root (not the daemon's uid): status yes, monitor no. */
	expect_reply(k, "ping", "ok pong");
	expect_reply(k, "monitor", "error 'monitor' is only for the daemon's own user: it shows what is typed");
	char *out = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &out, "monitor"), 1);
	free(out);
	/* The daemon's own uid may. */
	const char *argv[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ksd_binary(), "monitor",
			       NULL };
	struct tproc *own = spawn_cli(k, argv);
	wait_monitors(k, 1);
	ITEST_ASSERT(tproc_running(own));
	/* Another uid: refused at the door. */
	const char *other[] = { "setpriv", "--reuid=65533", "--regid=65533", "--clear-groups", ksd_binary(), "monitor",
				NULL };
	struct tproc *o = spawn_cli(k, other);
	ITEST_ASSERT_EQ_INT(tproc_wait(o, 20000), 3);
	char *err = itest_read_file(tproc_stderr_path(o), NULL);
	ITEST_ASSERT_STR_CONTAINS(err, "Permission denied");
	free(err);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "monitors"), 1);
}

/* `kvmswitch keys`: the names, and every one of them is taken by the
 * config (checked through host-keys and shared-keys of a real config). */
ITEST_TIMEOUT(keys_lists_names_the_config_takes, 120)
{
	char *cfgpath = itest_tmpfile_with("empty.conf", "", 0600);
	char *out = NULL;
	struct tproc *p = tproc_spawn((const char *const[]){ ksd_binary(), "keys", "-c", cfgpath, NULL }, NULL);
	ITEST_ASSERT_EQ_INT(tproc_wait(p, 20000), 0);
	out = itest_read_file(tproc_stdout_path(p), NULL);
	ITEST_ASSERT_NOT_NULL(out);
	ITEST_ASSERT_STR_CONTAINS(out, "\nleftctrl                 ctrl           Control_L\n");
	ITEST_ASSERT_STR_CONTAINS(out, "\nvolumeup ");
	ITEST_ASSERT_STR_CONTAINS(out, "\nBTN_SIDE\n");
	/* Every name, through host-keys and shared-keys lines of at most
	 * 3500 bytes each (a line has 4096): none may be refused. */
	static char names_buf[16][3600];
	size_t len[16] = { 0 };
	int names = 0, n_lists = 1, checks = 0;
	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[64];
		if (*l == '#' || sscanf(l, "%63s", name) != 1)
			continue;
		if (len[n_lists - 1] + strlen(name) + 2 > 3500)
			n_lists++;
		ITEST_ASSERT_LT_INT(n_lists, 16);
		len[n_lists - 1] += (size_t)snprintf(names_buf[n_lists - 1] + len[n_lists - 1], 3600 - len[n_lists - 1],
						     "%s ", name);
		names++;
	}
	for (int i = 0; i < n_lists; i += 2) {
		char conf[8000];
		snprintf(conf, sizeof(conf), "[general]\nhotkey = none\nemergency = none\nhost-keys = %s\n%s%s%s",
			 names_buf[i], i + 1 < n_lists ? "shared-keys = " : "", i + 1 < n_lists ? names_buf[i + 1] : "",
			 i + 1 < n_lists ? "\n" : "");
		char fname[32];
		snprintf(fname, sizeof(fname), "names%d.conf", i);
		char *path = itest_tmpfile_with(fname, conf, 0600);
		struct tproc *c = tproc_spawn((const char *const[]){ ksd_binary(), "check", "-c", path, NULL }, NULL);
		int st = tproc_wait(c, 20000);
		if (st != 0)
			tproc_dump(c);
		ITEST_ASSERT_EQ_INT(st, 0);
		checks++;
		free(path);
	}
	itest_log("%d names checked in %d configs", names, checks);
	ITEST_ASSERT_GT_INT(names, 400);
	free(out);
	free(cfgpath);
}
