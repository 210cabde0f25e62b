/* The switcher against a real kernel: uinput test devices stand in for the
 * physical keyboard and mouse, kvmswitch grabs them, and we read what comes
 * out of its virtual devices, or what a QEMU input-linux consumer accepted. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 5000 /* ms to wait for an event that must come */

#define CFG_GUEST KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\n"
#define CFG_VIRTUAL_HOST KSD_MATCH_TEST_DEVICES "[target host]\nmode = virtual\n[target guest]\n"

static struct tdev *keyboard(const char *name)
{
	return tdev_create(TDEV_KEYBOARD, name);
}

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

ITEST(forward_to_vm_target)
{
	struct tdev *kbd = keyboard("kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	wait_taken(k, mouse, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	struct treader *gp = ksd_open_vdev(k, "guest", "pointer");
	struct treader *phys = treader_open(tdev_devnode(kbd), false);

	TDEV_FRAME(kbd, { EV_MSC, MSC_SCAN, 0x70004 }, { EV_KEY, KEY_A, 1 });
	TREADER_EXPECT(gk, T, { EV_MSC, MSC_SCAN, 0x70004 }, { EV_KEY, KEY_A, 1 }, { EV_SYN, SYN_REPORT, 0 });
	tdev_key(kbd, KEY_A, 0);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_A, 0 }, { EV_SYN, SYN_REPORT, 0 });

	TDEV_FRAME(mouse, { EV_REL, REL_X, 5 }, { EV_REL, REL_Y, -3 });
	TREADER_EXPECT(gp, T, { EV_REL, REL_X, 5 }, { EV_REL, REL_Y, -3 }, { EV_SYN, SYN_REPORT, 0 });
	TDEV_FRAME(mouse, { EV_KEY, BTN_LEFT, 1 });
	TREADER_EXPECT(gp, T, { EV_KEY, BTN_LEFT, 1 }, { EV_SYN, SYN_REPORT, 0 });
	TDEV_FRAME(mouse, { EV_KEY, BTN_LEFT, 0 }, { EV_REL, REL_WHEEL, -1 }, { EV_REL, REL_WHEEL_HI_RES, -120 });
	TREADER_EXPECT(gp, T, { EV_KEY, BTN_LEFT, 0 }, { EV_REL, REL_WHEEL, -1 }, { EV_REL, REL_WHEEL_HI_RES, -120 },
		       { EV_SYN, SYN_REPORT, 0 });

	/* Grabbed: the host's readers of the physical node see nothing. */
	treader_expect_silence(phys, 300);
	/* Keys never leak to the pointer device and vice versa. */
	treader_expect_silence(gk, 100);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);
}

ITEST_TIMEOUT(qemu_input_linux_receives_keys_and_motion, 180)
{
	struct tdev *kbd = keyboard("kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	wait_taken(k, mouse, true);
	char *nodes[2] = { ksd_vdev_node(k, "guest", "keyboard"), ksd_vdev_node(k, "guest", "pointer") };
	struct qemu_consumer *q = qemu_consumer_start((const char *const *)nodes, 2, NULL);

	tdev_tap(kbd, KEY_A);
	TDEV_FRAME(kbd, { EV_KEY, KEY_LEFTSHIFT, 1 });
	tdev_tap(kbd, KEY_B);
	TDEV_FRAME(kbd, { EV_KEY, KEY_LEFTSHIFT, 0 });
	QEMU_CONSUMER_EXPECT(q, 0, 30000, "key a 1", "key a 0", "key shift 1", "key b 1", "key b 0", "key shift 0");
	size_t n;
	qemu_consumer_events(q, &n);
	TDEV_FRAME(mouse, { EV_REL, REL_X, 10 });
	TDEV_FRAME(mouse, { EV_KEY, BTN_LEFT, 1 });
	TDEV_FRAME(mouse, { EV_KEY, BTN_LEFT, 0 });
	QEMU_CONSUMER_EXPECT(q, n, 30000, "rel x 10", "btn left 1", "btn left 0");
	qemu_consumer_stop(q);
	free(nodes[0]);
	free(nodes[1]);
}

/* A key held HOLD_MS on the physical keyboard while the guest is active,
 * read by QEMU's input-linux with repeat=on or off. Counts the presses QEMU
 * accepted (its input_event trace) and the make codes its emulated PS/2
 * keyboard sent the guest (ps2_keyboard_event: the default keyboard of a
 * pc/q35 machine and of a libvirt domain, and the one this consumer's
 * firmware-only guest is fed through). */
#define HOLD_MS 1500
struct held_count {
	size_t qemu_down, ps2_down;
};

static struct held_count hold_key_through_qemu(struct tdev *kbd, const char *gnode, bool repeat)
{
	static const char *const trace_ps2[] = { "-trace", "ps2_keyboard_event", NULL };
	struct qemu_consumer *q = qemu_consumer_start((const char *const[]){ gnode }, 1,
						      &(struct qemu_consumer_opts){ .repeat = repeat,
										    .extra = trace_ps2 });
	tdev_key(kbd, KEY_A, 1);
	usleep(HOLD_MS * 1000);
	tdev_key(kbd, KEY_A, 0);
	/* The release arrives last. */
	int64_t end = itest_now_ms() + 30000;
	size_t n;
	const struct qemu_input_event *ev;
	for (;;) {
		ev = qemu_consumer_events(q, &n);
		if ((n && ev[n - 1].kind == QEMU_INPUT_KEY && ev[n - 1].value == 0) || itest_now_ms() > end)
			break;
		usleep(20000);
	}
	ITEST_ASSERT_MSG(n && ev[n - 1].kind == QEMU_INPUT_KEY && !strcmp(ev[n - 1].name, "a") && ev[n - 1].value == 0,
			 "QEMU (repeat=%s) did not accept the release of a", repeat ? "on" : "off");
	struct held_count c = { 0, 0 };
	for (size_t i = 0; i < n; i++) {
		ITEST_ASSERT_MSG(ev[i].kind == QEMU_INPUT_KEY && !strcmp(ev[i].name, "a"), "QEMU accepted another event");
		c.qemu_down += ev[i].value == 1;
	}
	char *trace = itest_read_file(qemu_consumer_trace_path(q), NULL);
	ITEST_ASSERT_NOT_NULL(trace);
	for (const char *p = trace; (p = strstr(p, "ps2_keyboard_event ")); p++) {
		const char *eol = strchr(p, '\n');
		const char *down = strstr(p, " down 1 ");
		c.ps2_down += down && (!eol || down < eol);
	}
	free(trace);
	qemu_consumer_stop(q);
	itest_log("key held %d ms, input-linux repeat=%s: QEMU accepted %zu presses, its PS/2 keyboard sent %zu make "
		  "codes",
		  HOLD_MS, repeat ? "on" : "off", c.qemu_down, c.ps2_down);
	return c;
}

/* Autorepeat has one source: kvmswitch's guest keyboard (EV_REP, the
 * kernel's 250 ms delay and 33 ms period); the physical keyboard's repeats
 * are never forwarded. QEMU passes those repeats on only with repeat=on,
 * and its PS/2 keyboard does no typematic of its own: with repeat=off a key
 * held 1.5 s reaches a PS/2 guest as one press, with repeat=on as one press
 * and about (1500 - 250) / 33 repeats. This pins the documented choice
 * (docs/DESIGN.md, Autorepeat): repeat='on'. */
ITEST_TIMEOUT(held_key_repeats_in_qemu_only_with_repeat_on, 300)
{
	/* A keyboard that repeats as a real one does (test keyboards do not). */
	struct tdev *kbd = tdev_create_spec("repeating kbd", "KEY_A KEY_B LED_CAPSL EV_REP");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	char *gnode = ksd_vdev_node(k, "guest", "keyboard");
	long long dropped0 = ksd_counter(k, "dropped");
	struct held_count off = hold_key_through_qemu(kbd, gnode, false);
	/* The physical keyboard repeated too (its own EV_REP); kvmswitch
	 * dropped those. */
	ITEST_ASSERT_GT_INT(ksd_counter(k, "dropped") - dropped0, 10);
	struct held_count on = hold_key_through_qemu(kbd, gnode, true);
	ITEST_ASSERT_EQ_INT(off.qemu_down, 1);
	ITEST_ASSERT_EQ_INT(off.ps2_down, 1);
	/* 250 ms + 37 * 33 ms = 1.47 s: 38 presses in 1.5 s on an idle
	 * machine; fewer on a slow emulated one, never only one. */
	ITEST_ASSERT_GE_INT(on.qemu_down, 15);
	ITEST_ASSERT_LE_INT(on.qemu_down, 48);
	ITEST_ASSERT_EQ_INT(on.ps2_down, on.qemu_down);
	free(gnode);
}

/* Default config: the host is native. Ctrl+Ctrl goes to the guest and back;
 * the host sees the whole first chord and none of the second. */
ITEST(hotkey_switches_both_ways)
{
	struct tdev *kbd = keyboard("kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(NULL);
	wait_taken(k, kbd, false);
	wait_taken(k, mouse, false);
	assert_active(k, "host");
	struct treader *host = treader_open(tdev_devnode(kbd), false); /* like the compositor */
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");

	tdev_key(kbd, KEY_LEFTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	/* The mouse changes hands at once; the keyboard waits for its keys. */
	wait_taken(k, mouse, true);
	assert_active(k, "guest");
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), false, 100));
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	wait_taken(k, kbd, true);
	TREADER_EXPECT(host, T, { EV_KEY, KEY_LEFTCTRL, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_RIGHTCTRL, 1 },
		       { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_RIGHTCTRL, 0 }, { EV_SYN, SYN_REPORT, 0 },
		       { EV_KEY, KEY_LEFTCTRL, 0 }, { EV_SYN, SYN_REPORT, 0 });
	treader_expect_silence(gk, 200);

	/* Back: the first Ctrl reached the guest and is released there; the
	 * host sees nothing of the chord. */
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_LEFTCTRL, 1 }, { EV_SYN, SYN_REPORT, 0 });
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_LEFTCTRL, 0 }, { EV_SYN, SYN_REPORT, 0 });
	assert_active(k, "host");
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	wait_taken(k, kbd, false);
	wait_taken(k, mouse, false);
	treader_expect_silence(host, 200);
	treader_expect_silence(gk, 100);
	tdev_tap(kbd, KEY_H);
	TREADER_EXPECT(host, T, { EV_KEY, KEY_H, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_H, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
}

/* Host in virtual mode, so both sides are our devices: the chord's first key
 * is released on the old target and nothing of it reaches the new one. */
ITEST(hotkey_never_reaches_new_target)
{
	struct tdev *kbd = keyboard("kbd");
	struct ksd *k = ksd_start(CFG_VIRTUAL_HOST);
	wait_taken(k, kbd, true);
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");

	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	TREADER_EXPECT(hk, T, { EV_KEY, KEY_RIGHTCTRL, 1 }, { EV_SYN, SYN_REPORT, 0 });
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	TREADER_EXPECT(hk, T, { EV_KEY, KEY_RIGHTCTRL, 0 }, { EV_SYN, SYN_REPORT, 0 });
	assert_active(k, "guest");
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_tap(kbd, KEY_B);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_B, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_B, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	treader_expect_silence(hk, 200);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "host"), 0);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);
}

/* A key held while the CLI switches away from the guest is released on the
 * guest at once; its physical release later reaches nobody. */
ITEST(held_key_released_on_old_target_guest_side)
{
	struct tdev *kbd = keyboard("kbd");
	struct ksd *k = ksd_start(CFG_VIRTUAL_HOST "[general]\nstart = guest\n");
	wait_taken(k, kbd, true);
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");

	tdev_key(kbd, KEY_LEFTSHIFT, 1);
	tdev_key(kbd, KEY_X, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_LEFTSHIFT, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_X, 1 },
		       { EV_SYN, SYN_REPORT, 0 });
	char *out = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &out, "switch", "host"), 0);
	ITEST_ASSERT_STR_EQ(out, "host\n");
	free(out);
	/* One frame, in key-code order. */
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_LEFTSHIFT, 0 }, { EV_KEY, KEY_X, 0 }, { EV_SYN, SYN_REPORT, 0 });
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);
	tdev_key(kbd, KEY_X, 0);
	tdev_key(kbd, KEY_LEFTSHIFT, 0);
	treader_expect_silence(hk, 300);
	treader_expect_silence(gk, 100);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "host"), 0);
}

/* Native host: the keyboard is grabbed only after the key the host saw go
 * down has come up, so the host gets its release; the guest gets nothing of
 * it. And back: a key held on the guest keeps the keyboard grabbed until it
 * is up, so the host never sees that release without its press. */
ITEST(held_key_released_on_old_target_native_host_side)
{
	struct tdev *kbd = keyboard("kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(NULL);
	wait_taken(k, kbd, false);
	struct treader *host = treader_open(tdev_devnode(kbd), false);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");

	tdev_key(kbd, KEY_LEFTSHIFT, 1);
	TREADER_EXPECT(host, T, { EV_KEY, KEY_LEFTSHIFT, 1 }, { EV_SYN, SYN_REPORT, 0 });
	ksd_switch(k, "guest");
	wait_taken(k, mouse, true);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), false, 100));
	tdev_key(kbd, KEY_LEFTSHIFT, 0);
	TREADER_EXPECT(host, T, { EV_KEY, KEY_LEFTSHIFT, 0 }, { EV_SYN, SYN_REPORT, 0 });
	wait_taken(k, kbd, true);
	treader_expect_silence(gk, 200);

	tdev_key(kbd, KEY_X, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_X, 1 }, { EV_SYN, SYN_REPORT, 0 });
	ksd_switch(k, "host");
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_X, 0 }, { EV_SYN, SYN_REPORT, 0 });
	wait_taken(k, mouse, false);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, 100));
	tdev_key(kbd, KEY_X, 0);
	wait_taken(k, kbd, false);
	treader_expect_silence(host, 200);
	tdev_tap(kbd, KEY_Y);
	TREADER_EXPECT(host, T, { EV_KEY, KEY_Y, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_Y, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
}

/* The guest devices outlive the physical ones: unplugging a keyboard with a
 * key down releases it in the guest, and QEMU keeps reading the same node
 * from the replugged keyboard. */
ITEST_TIMEOUT(unplug_replug_keeps_guest_node, 180)
{
	struct tdev *kbd = keyboard("kbd");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	char *node = ksd_vdev_node(k, "guest", "keyboard");
	const char *nodes[1] = { node };
	struct qemu_consumer *q = qemu_consumer_start(nodes, 1, NULL);

	tdev_key(kbd, KEY_A, 1);
	QEMU_CONSUMER_EXPECT(q, 0, 30000, "key a 1");
	const char *old_node = strdup(tdev_devnode(kbd));
	tdev_destroy(kbd);
	QEMU_CONSUMER_EXPECT(q, 1, 30000, "key a 0");
	ITEST_ASSERT(ksd_wait_input_gone(k, old_node, 10000));
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);

	kbd = keyboard("kbd");
	wait_taken(k, kbd, true);
	char *again = ksd_vdev_node(k, "guest", "keyboard");
	ITEST_ASSERT_STR_EQ(again, node);
	tdev_tap(kbd, KEY_B);
	QEMU_CONSUMER_EXPECT(q, 2, 30000, "key b 1", "key b 0");
	ITEST_ASSERT(tproc_running(qemu_consumer_proc(q)));
	qemu_consumer_stop(q);
	free(again);
	free(node);
}

/* The daemon stopped while keys change and the mouse floods: the kernel
 * drops events (SYN_DROPPED), libevdev resyncs, and no key stays down. */
ITEST(syn_dropped_recovery_leaves_no_stuck_key)
{
	struct tdev *kbd = keyboard("kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	wait_taken(k, mouse, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");

	tdev_key(kbd, KEY_A, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_A, 1 }, { EV_SYN, SYN_REPORT, 0 });
	tproc_kill(ksd_proc(k), SIGSTOP);
	for (int i = 0; i < 2000; i++)
		TDEV_FRAME(mouse, { EV_REL, REL_X, 1 });
	for (int i = 0; i < 300; i++)
		tdev_tap(kbd, KEY_S);
	tdev_key(kbd, KEY_A, 0);
	tdev_key(kbd, KEY_D, 1);
	for (int i = 0; i < 300; i++)
		tdev_tap(kbd, KEY_F);
	tproc_kill(ksd_proc(k), SIGCONT);

	ITEST_ASSERT_MSG(treader_wait_event(gk, EV_KEY, KEY_A, 0, 10000), "KEY_A was not released on the guest");
	ITEST_ASSERT_MSG(treader_wait_event(gk, EV_KEY, KEY_D, 1, 10000), "KEY_D, down since the drop, did not reach the guest");
	ITEST_ASSERT_GE_INT(ksd_counter(k, "syn_dropped"), 1);
	tdev_key(kbd, KEY_D, 0);
	ITEST_ASSERT(treader_wait_event(gk, EV_KEY, KEY_D, 0, T));
	treader_drain(gk);
	tdev_tap(kbd, KEY_C);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_C, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_C, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);
}

/* LEDs a consumer (QEMU's virtio-input-host, a compositor) writes to the
 * guest keyboard light the physical keyboard; the host's state comes back
 * when the host is active again, and the guest's when the guest is. */
ITEST(led_round_trip)
{
	struct tdev *kbd = keyboard("kbd");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");

	treader_write_frame(gk, (const struct itest_ev[]){ { EV_LED, LED_CAPSL, 1 } }, 1);
	ITEST_ASSERT_MSG(tdev_wait_event(kbd, EV_LED, LED_CAPSL, 1, T), "caps lock LED not set on the keyboard");
	ksd_switch(k, "host");
	ITEST_ASSERT_MSG(tdev_wait_event(kbd, EV_LED, LED_CAPSL, 0, T), "host's LED state not restored");
	ksd_switch(k, "guest");
	ITEST_ASSERT_MSG(tdev_wait_event(kbd, EV_LED, LED_CAPSL, 1, T), "guest's LED state not restored");
	char *s = ksd_request(k, "status");
	ITEST_ASSERT_STR_CONTAINS(s, "\"name\":\"guest\",\"type\":\"evdev\",\"active\":true,\"held\":0,\"leds\":2");
	free(s);
}

/* SIGTERM with a key down: released in the guest while its device still
 * exists (the kernel drops unread events of a destroyed device), devices
 * given back, virtual devices and socket removed, exit status 0. */
ITEST(clean_exit)
{
	struct tdev *kbd = keyboard("kbd");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	char *gnode = ksd_vdev_node(k, "guest", "keyboard");
	tdev_key(kbd, KEY_LEFTALT, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_LEFTALT, 1 }, { EV_SYN, SYN_REPORT, 0 });
	tproc_kill(ksd_proc(k), SIGTERM);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_LEFTALT, 0 }, { EV_SYN, SYN_REPORT, 0 });
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
	ITEST_ASSERT(itest_udev_wait_removed(gnode, 10000));
	ITEST_ASSERT_MSG(access(ksd_socket(k), F_OK) < 0, "control socket left behind");
	/* Nobody holds the keyboard any more. */
	int fd = open(tdev_devnode(kbd), O_RDONLY | O_CLOEXEC);
	ITEST_ASSERT_SYSCALL(fd);
	ITEST_ASSERT_SYSCALL(ioctl(fd, EVIOCGRAB, 1));
	close(fd);
	free(gnode);
}

ITEST(hotplug_device_absent_at_start)
{
	struct ksd *k = ksd_start(CFG_GUEST);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	struct tdev *kbd = keyboard("late kbd");
	wait_taken(k, kbd, true);
	tdev_tap(kbd, KEY_L);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_L, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_L, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	char *node = strdup(tdev_devnode(kbd));
	tdev_destroy(kbd);
	ITEST_ASSERT(ksd_wait_input_gone(k, node, 10000));
	free(node);
}

/* The object of `list --json` output for the device named `name` (up to
 * its closing brace, in a static buffer). */
static const char *list_entry(const char *json, const char *name)
{
	static char obj[1024];
	char pat[128];
	snprintf(pat, sizeof(pat), "\"name\":\"%s\",", name);
	const char *p = strstr(json, pat);
	ITEST_ASSERT_MSG(p != NULL, "no device %s in: %.300s", name, json);
	const char *end = strchr(p, '}');
	snprintf(obj, sizeof(obj), "%.*s", (int)(end ? end - p : 0), p);
	return obj;
}

ITEST(match_and_exclude_rules)
{
	struct tdev *take = keyboard("take me");
	struct tdev *skip = keyboard("take me not");
	struct tdev *other = tdev_create(TDEV_MOUSE, "other mouse");
	struct ksd *k = ksd_start("[general]\nstart = guest\n[input]\nmatch = name:\"kvmtest take*\"\n"
				  "exclude = name:\"* not\"\n");
	wait_taken(k, take, true);
	char *s = ksd_request(k, "status");
	ITEST_ASSERT_MSG(!strstr(s, tdev_devnode(skip)), "excluded device taken");
	ITEST_ASSERT_MSG(!strstr(s, tdev_devnode(other)), "unmatched device taken");
	free(s);
	char *out = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &out, "list", "--json", "-c", ksd_config_path(k)), 0);
	ITEST_ASSERT_STR_CONTAINS(list_entry(out, "kvmtest take me not"),
				  "\"take\":false,\"reason\":\"excluded by the rule at line 5\"");
	ITEST_ASSERT_STR_CONTAINS(list_entry(out, "kvmtest take me"),
				  "\"kinds\":\"keyboard,key\",\"take\":true,\"reason\":\"matched by the rule at line 4\"");
	ITEST_ASSERT_STR_CONTAINS(list_entry(out, "kvmtest other mouse"),
				  "\"kinds\":\"mouse\",\"take\":false,\"reason\":\"no match rule selects it\"");
	free(out);
}

/* Backspace+Escape+Enter: everything let go at once, even keys held. */
ITEST(emergency_chord_releases_everything)
{
	struct tdev *kbd = keyboard("kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(CFG_VIRTUAL_HOST "[general]\nstart = guest\n");
	wait_taken(k, kbd, true);
	wait_taken(k, mouse, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	tdev_key(kbd, KEY_BACKSPACE, 1);
	tdev_key(kbd, KEY_ESC, 1);
	tdev_key(kbd, KEY_ENTER, 1);
	wait_taken(k, kbd, false);
	wait_taken(k, mouse, false);
	ITEST_ASSERT(treader_wait_event(gk, EV_KEY, KEY_BACKSPACE, 0, T));
	assert_active(k, "host");
	char *s = ksd_request(k, "status");
	ITEST_ASSERT_STR_CONTAINS(s, "\"released\":true");
	free(s);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);
	/* The next switch takes the devices back. */
	ksd_switch(k, "guest");
	tdev_key(kbd, KEY_ENTER, 0);
	tdev_key(kbd, KEY_ESC, 0);
	tdev_key(kbd, KEY_BACKSPACE, 0);
	wait_taken(k, kbd, true);
}

/* The source keyboard's repeats are not forwarded; the guest keyboard makes
 * its own, at its own rate. */
ITEST(autorepeat_is_not_doubled)
{
	struct tdev *kbd = tdev_create_spec("fast repeat", "KEY_R KEY_Q LED_CAPSL EV_REP");
	struct treader *phys = treader_open(tdev_devnode(kbd), false);
	treader_set_repeat(phys, 30, 10);
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard"); /* 60 s delay */

	tdev_key(kbd, KEY_R, 1);
	usleep(800 * 1000); /* the source repeats every 10 ms meanwhile */
	tdev_key(kbd, KEY_R, 0);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_R, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_R, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	treader_expect_silence(phys, 100);
	long long dropped = 0;
	char *s = ksd_request(k, "status");
	const char *c = strstr(s, "\"dropped\":");
	ITEST_ASSERT_NOT_NULL(c);
	dropped = atoll(c + 10);
	free(s);
	/* Those repeats reached kvmswitch (the only reader: it grabs) and were
	 * dropped, not forwarded. */
	ITEST_ASSERT_MSG(dropped >= 10, "the source repeated only %lld times in 800 ms", dropped);

	/* With a normal delay the guest keyboard repeats by itself. */
	treader_set_repeat(gk, 100, 50);
	tdev_key(kbd, KEY_R, 1);
	ITEST_ASSERT_MSG(treader_wait_event(gk, EV_KEY, KEY_R, 2, T), "the guest keyboard did not repeat");
	tdev_key(kbd, KEY_R, 0);
	ITEST_ASSERT(treader_wait_event(gk, EV_KEY, KEY_R, 0, T));
}

/* An absolute device brings the guest's tablet device, scaled to 0..32767;
 * a touch is its left button. */
ITEST(absolute_device_gets_a_tablet)
{
	struct tdev *tab = tdev_create_spec("tablet", "ABS_X:0:32767 ABS_Y:0:32767 BTN_TOUCH BTN_TOOL_PEN BTN_STYLUS INPUT_PROP_DIRECT");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, tab, true);
	struct treader *gt = ksd_open_vdev(k, "guest", "tablet");
	TDEV_FRAME(tab, { EV_ABS, ABS_X, 16384 }, { EV_ABS, ABS_Y, 100 }, { EV_KEY, BTN_TOUCH, 1 });
	TREADER_EXPECT(gt, T, { EV_ABS, ABS_X, 16384 }, { EV_ABS, ABS_Y, 100 }, { EV_KEY, BTN_LEFT, 1 },
		       { EV_SYN, SYN_REPORT, 0 });
	TDEV_FRAME(tab, { EV_KEY, BTN_TOUCH, 0 });
	TREADER_EXPECT(gt, T, { EV_KEY, BTN_LEFT, 0 }, { EV_SYN, SYN_REPORT, 0 });
	char *s = ksd_request(k, "status");
	ITEST_ASSERT_STR_CONTAINS(s, "\"tablet\":\"/dev/input/event");
	free(s);
}

/* udev may not have applied a new node's permissions when its add event
 * arrives; the daemon retries an EACCES instead of giving up. Runs the
 * daemon as nobody, so a node's mode means something. */
ITEST(eacces_on_new_node_is_retried)
{
	if (!getenv("KVMSWITCH_IN_VM"))
		itest_skip("changes /dev/uinput's mode: runs only in the test VM");
	ITEST_ASSERT_SYSCALL(chmod("/dev/uinput", 0666));
	ITEST_ASSERT_SYSCALL(chmod(itest_tmpdir(), 0777));
	const char *as_nobody[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", NULL };
	struct ksd *k = ksd_start_as(CFG_GUEST, NULL, as_nobody);
	struct tdev *kbd = keyboard("late perms");
	struct stat st;
	ITEST_ASSERT_SYSCALL(stat(tdev_devnode(kbd), &st));
	ITEST_ASSERT_MSG((st.st_mode & 0007) == 0, "test node is readable by others (mode %o)", st.st_mode & 0777);
	/* Not taken while it cannot be opened... */
	usleep(300 * 1000);
	char *s = ksd_request(k, "status");
	ITEST_ASSERT_MSG(!strstr(s, tdev_devnode(kbd)), "taken although not readable");
	free(s);
	/* ...taken once it can, without another udev event. */
	ITEST_ASSERT_SYSCALL(chmod(tdev_devnode(kbd), 0666));
	wait_taken(k, kbd, true);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "open_failures"), 0);
}

/* A reload whose new target cannot get its virtual devices says so (it is
 * applied otherwise), and a switch to that target is refused with the
 * reason instead of forwarding into nothing. */
ITEST(reload_reports_a_target_without_devices)
{
	if (!getenv("KVMSWITCH_IN_VM"))
		itest_skip("changes /dev/uinput's mode: runs only in the test VM");
	ITEST_ASSERT_SYSCALL(chmod("/dev/uinput", 0666));
	ITEST_ASSERT_SYSCALL(chmod(itest_tmpdir(), 0777));
	const char *as_nobody[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", NULL };
	struct ksd *k = ksd_start_as(CFG_GUEST "[target guest]\n", NULL, as_nobody);
	ITEST_ASSERT_SYSCALL(chmod("/dev/uinput", 0600));
	FILE *f = fopen(ksd_config_path(k), "a");
	ITEST_ASSERT_NOT_NULL(f);
	fputs("[target extra]\n", f);
	fclose(f);
	char *r = ksd_request(k, "reload");
	ITEST_ASSERT_STR_CONTAINS(r, "error configuration applied, but target 'extra' has no virtual devices");
	free(r);
	r = ksd_request(k, "switch extra");
	ITEST_ASSERT_STR_CONTAINS(r, "error cannot switch: its virtual devices could not be created");
	free(r);
	char *a = ksd_active(k);
	ITEST_ASSERT_STR_EQ(a, "guest");
	free(a);
	ITEST_ASSERT_SYSCALL(chmod("/dev/uinput", 0666));
}
