/* libvirt device XML: what kvmswitch attaches and prints. (What it reads back
 * from a domain's XML: test_domxml.c.) */
#include <stdlib.h>

#include "core/router.h"
#include "core/virtxml.h"
#include "test.h"

static struct config *parse(const char *text)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = config_parse(text, strlen(text), "k.conf", err, sizeof(err));
	if (cfg && config_resolve_keys(cfg, &test_resolver, err, sizeof(err)) < 0) {
		config_destroy(cfg);
		cfg = NULL;
	}
	if (!cfg)
		fprintf(stderr, "# %s\n", err);
	return cfg;
}

TEST(virtxml_usb_hostdev_has_ids_and_address)
{
	char buf[512];
	struct usb_dev d = { 0x0627, 0x0001, 1, 3 };
	int n = virtxml_usb_hostdev(buf, sizeof(buf), &d);
	CHECK_STR(buf, "<hostdev mode='subsystem' type='usb'><source><vendor id='0x0627'/><product id='0x0001'/>"
		       "<address bus='1' device='3'/></source></hostdev>");
	CHECK_INT(n, strlen(buf));
	/* Too small: -1 and an empty string, never a truncated element. */
	CHECK_INT(virtxml_usb_hostdev(buf, 40, &d), -1);
	CHECK_STR(buf, "");
}

TEST(virtxml_pci_hostdev_is_managed)
{
	char buf[512];
	struct pci_addr a = { 0x0000, 0x11, 0x00, 3 };
	CHECK(virtxml_pci_hostdev(buf, sizeof(buf), &a) > 0);
	CHECK_STR(buf, "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
		       "<address domain='0x0000' bus='0x11' slot='0x00' function='0x3'/></source></hostdev>");
	struct pci_addr b = { 0x10000 - 1, 0xff, 0x1f, 7 };
	CHECK(virtxml_pci_hostdev(buf, sizeof(buf), &b) > 0);
	CHECK(strstr(buf, "domain='0xffff' bus='0xff' slot='0x1f' function='0x7'"));
	char s[32];
	virtxml_pci_format(&a, s, sizeof(s));
	CHECK_STR(s, "0000:11:00.3");
}

TEST(virtxml_grab_toggle_is_our_hotkey)
{
	struct config *cfg = parse("[target win]\n");
	CHECK(cfg);
	/* The default hotkey leftctrl+rightctrl is QEMU's default toggle. */
	CHECK_STR(virtxml_grab_toggle(cfg, 1), "ctrl-ctrl");
	config_destroy(cfg);

	cfg = parse("[general]\nhotkey = scrolllock\n[target win]\n");
	CHECK(cfg);
	CHECK_STR(virtxml_grab_toggle(cfg, 1), "scrolllock");
	config_destroy(cfg);

	cfg = parse("[general]\nhotkey = rightalt+leftalt\n[target win]\n");
	CHECK(cfg);
	CHECK_STR(virtxml_grab_toggle(cfg, 1), "alt-alt");
	config_destroy(cfg);

	/* Only one Ctrl with Scroll Lock: QEMU would also toggle on the other. */
	cfg = parse("[general]\nhotkey = leftctrl+scrolllock\n[target win]\n");
	CHECK(cfg);
	CHECK(virtxml_grab_toggle(cfg, 1) == NULL);
	config_destroy(cfg);

	/* No global match: the target's own hotkey. */
	cfg = parse("[general]\nhotkey = leftmeta+f12\n[target win]\nhotkey = leftshift+rightshift\n[target b]\n");
	CHECK(cfg);
	CHECK_STR(virtxml_grab_toggle(cfg, 1), "shift-shift");
	CHECK(virtxml_grab_toggle(cfg, 2) == NULL);
	config_destroy(cfg);
}

TEST(virtxml_inputs_evdev_and_passthrough)
{
	struct config *cfg = parse("[target win]\n");
	CHECK(cfg);
	char buf[4096];
	CHECK(virtxml_inputs(buf, sizeof(buf), cfg, 1, LIBVIRT_INPUT_EVDEV, NULL) > 0);
	CHECK(strstr(buf, "<input type='evdev'>\n  <source dev='/dev/input/by-id/kvmswitch-win-keyboard' grab='all' "
			  "repeat='on' grabToggle='ctrl-ctrl'/>\n</input>\n"));
	CHECK(strstr(buf, "<input type='evdev'>\n  <source dev='/dev/input/by-id/kvmswitch-win-pointer'/>\n</input>\n"));
	/* The tablet only inside a comment. */
	char *tab = strstr(buf, "kvmswitch-win-tablet");
	CHECK(tab);
	char *open = strstr(buf, "<!-- only once"), *close = open ? strstr(open, "-->") : NULL;
	CHECK(open && close && open < tab && tab < close);
	/* Every comment closes; no "--" inside one. */
	size_t opens = 0, closes = 0;
	for (char *p = buf; (p = strstr(p, "<!--")); p += 4)
		opens++;
	for (char *p = buf; (p = strstr(p, "-->")); p += 3)
		closes++;
	CHECK_INT(opens, closes);

	CHECK(virtxml_inputs(buf, sizeof(buf), cfg, 1, LIBVIRT_INPUT_PASSTHROUGH, NULL) > 0);
	CHECK(strstr(buf, "<input type='passthrough' bus='virtio'>\n  <source evdev='/dev/input/by-id/kvmswitch-win-"
			  "keyboard'/>\n</input>\n"));
	CHECK(strstr(buf, "<source evdev='/dev/input/by-id/kvmswitch-win-pointer'/>"));
	CHECK(!strstr(buf, "grabToggle"));
	CHECK_INT(virtxml_inputs(buf, 100, cfg, 1, LIBVIRT_INPUT_EVDEV, NULL), -1);
	config_destroy(cfg);

	cfg = parse("[general]\nhotkey = leftmeta+f12\n[target win]\n");
	CHECK(cfg);
	CHECK(virtxml_inputs(buf, sizeof(buf), cfg, 1, LIBVIRT_INPUT_EVDEV, NULL) > 0);
	CHECK(strstr(buf, "grabToggle='" VIRTXML_FALLBACK_TOGGLE "'"));

	/* The running daemon's nodes where no link exists (no udev rules). */
	const char *nodes[VK_COUNT] = { [VK_KEYBOARD] = "/dev/input/event7", [VK_POINTER] = "/dev/input/event8" };
	CHECK(virtxml_inputs(buf, sizeof(buf), cfg, 1, LIBVIRT_INPUT_EVDEV, nodes) > 0);
	CHECK(strstr(buf, "<source dev='/dev/input/event7' grab='all' repeat='on' grabToggle="));
	CHECK(strstr(buf, "<source dev='/dev/input/event8'/>"));
	CHECK(strstr(buf, "kvmswitch-win-tablet"));
	CHECK(!strstr(buf, "kvmswitch-win-keyboard"));
	CHECK(virtxml_inputs(buf, sizeof(buf), cfg, 1, LIBVIRT_INPUT_PASSTHROUGH, nodes) > 0);
	CHECK(strstr(buf, "<source evdev='/dev/input/event7'/>"));
	config_destroy(cfg);
}

/* The switch back after a failed attach has its own reason for subscribers. */
TEST(router_reason_attach_failed)
{
	CHECK_STR(switch_reason_name(SWITCH_ATTACH_FAILED), "attach-failed");
	CHECK_STR(switch_reason_name(SWITCH_DOMAIN_GONE), "domain-gone");
}
