/* Tests of the test bed itself (not of kvmswitch): uinput devices, udev,
 * readers, LEDs, a QEMU input-linux consumer, and (in tests/vm/run --usb)
 * the VM's real USB keyboard and mouse driven over QMP. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "itest.h"

ITEST(keyboard_frame_reads_back)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "keyboard");
	ITEST_ASSERT_STR_EQ(tdev_name(kbd), ITEST_DEVICE_PREFIX "keyboard");
	struct treader *r = treader_open(tdev_devnode(kbd), false);

	TDEV_FRAME(kbd, {EV_KEY, KEY_A, 1});
	TDEV_FRAME(kbd, {EV_KEY, KEY_A, 0});
	TREADER_EXPECT(r, 5000,
		       {EV_KEY, KEY_A, 1}, {EV_SYN, SYN_REPORT, 0},
		       {EV_KEY, KEY_A, 0}, {EV_SYN, SYN_REPORT, 0});
	treader_expect_silence(r, 200);

	/* One frame with several events comes back as one frame. */
	TDEV_FRAME(kbd, {EV_KEY, KEY_LEFTSHIFT, 1}, {EV_KEY, KEY_B, 1});
	struct itest_ev frame[8];
	size_t n = treader_read_frame(r, frame, 8, 5000);
	ITEST_ASSERT_EQ_INT(n, 3);
	ITEST_ASSERT_EQ_INT(frame[0].code, KEY_LEFTSHIFT);
	ITEST_ASSERT_EQ_INT(frame[1].code, KEY_B);

	treader_close(r);
	tdev_destroy(kbd);
}

ITEST(grabbed_reader_gets_events_exclusively)
{
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse grab");
	struct treader *other = treader_open(tdev_devnode(mouse), false);
	struct treader *grabber = treader_open(tdev_devnode(mouse), true);
	TDEV_FRAME(mouse, {EV_REL, REL_X, 7}, {EV_REL, REL_Y, -2});
	TREADER_EXPECT(grabber, 5000, {EV_REL, REL_X, 7}, {EV_REL, REL_Y, -2}, {EV_SYN, SYN_REPORT, 0});
	treader_expect_silence(other, 200);
	treader_close(grabber);
	treader_close(other);
	tdev_destroy(mouse);
}

ITEST(udev_classifies_test_devices)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "udev keyboard");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "udev mouse");
	struct tdev *tablet = tdev_create(TDEV_TABLET, "udev tablet");

	char *v = itest_udev_property(tdev_devnode(kbd), "ID_INPUT_KEYBOARD");
	ITEST_ASSERT_STR_EQ(v, "1");
	free(v);
	v = itest_udev_property(tdev_devnode(kbd), "ID_INPUT_MOUSE");
	ITEST_ASSERT_NULL(v);
	v = itest_udev_property(tdev_devnode(mouse), "ID_INPUT_MOUSE");
	ITEST_ASSERT_STR_EQ(v, "1");
	free(v);
	v = itest_udev_property(tdev_devnode(mouse), "ID_INPUT_KEYBOARD");
	ITEST_ASSERT_NULL(v);
	v = itest_udev_property(tdev_devnode(tablet), "ID_INPUT_TABLET");
	ITEST_ASSERT_STR_EQ(v, "1");
	free(v);

	/* Finding a node by its device name agrees with what uinput created. */
	char *node = treader_find_node(tdev_name(mouse), 0);
	ITEST_ASSERT_STR_EQ(node, tdev_devnode(mouse));
	free(node);

	tdev_destroy(tablet);
	tdev_destroy(mouse);
	tdev_destroy(kbd);
}

ITEST(destroy_removes_the_node)
{
	struct tdev *d = tdev_create_spec("custom", "KEY_A KEY_B REL_X REL_Y BTN_LEFT ABS_X:0:100 "
						    "LED_CAPSL bus=0x3 vendor=0x1234 product=0x5678");
	char *name = strdup(tdev_name(d)), *node = strdup(tdev_devnode(d));
	struct treader *r = treader_open(node, false);
	struct input_id id;
	ITEST_ASSERT_SYSCALL(ioctl(treader_fd(r), EVIOCGID, &id));
	ITEST_ASSERT_EQ_INT(id.bustype, BUS_USB);
	ITEST_ASSERT_EQ_INT(id.vendor, 0x1234);
	ITEST_ASSERT_EQ_INT(id.product, 0x5678);

	tdev_destroy(d);
	ITEST_ASSERT(access(node, F_OK) != 0);
	/* A reader of a removed device reads nothing and says it is gone. */
	struct itest_ev ev;
	ITEST_ASSERT_EQ_INT(treader_read(r, &ev, 1000), 0);
	ITEST_ASSERT(treader_gone(r));
	treader_close(r);
	char *again = treader_find_node(name, 0);
	ITEST_ASSERT_NULL(again);
	free(name);
	free(node);
}

ITEST(led_written_to_node_reaches_uinput_fd)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "leds");
	struct treader *r = treader_open(tdev_devnode(kbd), false);

	treader_write_frame(r, (const struct itest_ev[]){{EV_LED, LED_CAPSL, 1}}, 1);
	ITEST_ASSERT_MSG(tdev_wait_event(kbd, EV_LED, LED_CAPSL, 1, 5000),
			 "LED_CAPSL 1 did not come back on the uinput fd");
	treader_write_frame(r, (const struct itest_ev[]){{EV_LED, LED_CAPSL, 0}}, 1);
	ITEST_ASSERT_MSG(tdev_wait_event(kbd, EV_LED, LED_CAPSL, 0, 5000),
			 "LED_CAPSL 0 did not come back on the uinput fd");

	treader_close(r);
	tdev_destroy(kbd);
}

ITEST_TIMEOUT(qemu_consumer_receives_key_and_motion, 240)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "qemu keyboard");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "qemu mouse");
	const char *nodes[] = {tdev_devnode(kbd), tdev_devnode(mouse)};
	struct qemu_consumer *c = qemu_consumer_start(nodes, 2, &(struct qemu_consumer_opts){.repeat = true});

	/* QEMU grabbed the keyboard: another reader sees nothing. */
	struct treader *other = treader_open(tdev_devnode(kbd), false);

	tdev_tap(kbd, KEY_A);
	QEMU_CONSUMER_EXPECT(c, 0, 60000, "key a 1", "key a 0");

	TDEV_FRAME(mouse, {EV_REL, REL_X, 5}, {EV_REL, REL_Y, -3});
	tdev_key(mouse, BTN_LEFT, 1);
	tdev_key(mouse, BTN_LEFT, 0);
	QEMU_CONSUMER_EXPECT(c, 2, 60000, "rel x 5", "rel y -3", "btn left 1", "btn left 0");

	treader_expect_silence(other, 100);
	treader_close(other);
	ITEST_ASSERT_EQ_INT(qemu_consumer_stop(c), 0);
	tdev_destroy(mouse);
	tdev_destroy(kbd);
}

/* The VM's real USB devices (tests/vm/run --usb): QEMU's usb-kbd/usb-mouse,
 * vendor:product 0627:0001, driven from outside over QMP. */
#define USB_KBD_NAME "QEMU QEMU USB Keyboard"
#define USB_MOUSE_NAME "QEMU QEMU USB Mouse"

/* No autorepeat while a key is down across slow QMP round trips. The EV_REP
 * events this causes wait in the input core for the next SYN_REPORT, so write
 * one before a reader opens the node. */
static void no_repeat(const char *node)
{
	unsigned int rep[2] = {60000, 1000};
	int fd = open(node, O_RDWR | O_CLOEXEC);
	ITEST_ASSERT_SYSCALL(fd);
	ITEST_ASSERT_SYSCALL(ioctl(fd, EVIOCSREP, rep));
	struct input_event syn = {.type = EV_SYN, .code = SYN_REPORT};
	ITEST_ASSERT_EQ_INT(write(fd, &syn, sizeof(syn)), sizeof(syn));
	close(fd);
}

static void type_a(struct qmp *q, struct treader *r)
{
	qmp_type_key(q, "a", true);
	TREADER_EXPECT(r, 20000, {EV_MSC, MSC_SCAN, 0x70004}, {EV_KEY, KEY_A, 1}, {EV_SYN, SYN_REPORT, 0});
	qmp_type_key(q, "a", false);
	TREADER_EXPECT(r, 20000, {EV_MSC, MSC_SCAN, 0x70004}, {EV_KEY, KEY_A, 0}, {EV_SYN, SYN_REPORT, 0});
}

ITEST_TIMEOUT(usb_keyboard_and_mouse_via_qmp, 240)
{
	const char *usb = getenv("KVMSWITCH_VM_USB");
	if (!usb || strcmp(usb, "1") != 0)
		itest_skip("needs the test VM's real USB devices and QMP port (tests/vm/run --usb)");

	char *node = treader_find_node(USB_KBD_NAME, 30000);
	ITEST_ASSERT_MSG(node != NULL, "no '%s' within 30 s", USB_KBD_NAME);
	char *v = itest_udev_property(node, "ID_INPUT_KEYBOARD");
	ITEST_ASSERT_STR_EQ(v, "1");
	free(v);
	v = itest_udev_property(node, "ID_VENDOR_ID");
	ITEST_ASSERT_STR_EQ(v, "0627");
	free(v);

	struct qmp *q = qmp_open(NULL);
	no_repeat(node);
	struct treader *r = treader_open(node, false);
	type_a(q, r);
	treader_close(r);

	struct treader *m = treader_open_name(USB_MOUSE_NAME, false, 30000);
	qmp_mouse_move(q, 10, -5);
	TREADER_EXPECT(m, 20000, {EV_REL, REL_X, 10}, {EV_REL, REL_Y, -5}, {EV_SYN, SYN_REPORT, 0});
	treader_close(m);

	/* Unplug: the node goes away; replug: a keyboard node comes back. */
	qmp_device_del(q, "ukbd");
	ITEST_ASSERT_MSG(itest_udev_wait_removed(node, 30000), "%s still there after device_del", node);
	char *none = treader_find_node(USB_KBD_NAME, 0);
	ITEST_ASSERT_NULL(none);
	qmp_device_add(q, "usb-kbd", "ukbd", "xhci.0");
	char *node2 = treader_find_node(USB_KBD_NAME, 30000);
	ITEST_ASSERT_MSG(node2 != NULL, "no '%s' within 30 s after device_add", USB_KBD_NAME);
	no_repeat(node2);
	r = treader_open(node2, false);
	type_a(q, r);
	treader_close(r);

	qmp_close(q);
	free(node2);
	free(node);
}
