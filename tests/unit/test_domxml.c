/* Reading a domain's XML back (src/shell/domxml.c, libxml2): the hostdevs
 * attached to it. The unit-test binary links domxml.o and libxml2 for these
 * (Makefile); domxml.h itself names no libxml2 type. */
#include "core/virtxml.h"
#include "domxml.h"
#include "test.h"

/* What libvirt 9 returns for a running q35 domain with two USB devices
 * attached live and a PCI controller: guest-side <address> elements outside
 * <source> must not be taken for the host address. */
static const char domain_xml[] =
	"<domain type='qemu' id='1'>\n"
	"  <name>kvmtest</name>\n"
	"  <!-- a comment with <hostdev mode='subsystem' type='usb'> inside -->\n"
	"  <devices>\n"
	"    <controller type='usb' index='0' model='qemu-xhci'>\n"
	"      <alias name='usb'/>\n"
	"      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
	"    </controller>\n"
	"    <input type='evdev'>\n"
	"      <source dev='/dev/input/by-id/kvmswitch-win-keyboard' grab='all' repeat='on'/>\n"
	"    </input>\n"
	"    <hostdev mode='subsystem' type='usb' managed='no'>\n"
	"      <source>\n"
	"        <vendor id='0x0627'/>\n"
	"        <product id='0x0001'/>\n"
	"        <address bus='1' device='2'/>\n"
	"      </source>\n"
	"      <alias name='hostdev0'/>\n"
	"      <address type='usb' bus='0' port='1'/>\n"
	"    </hostdev>\n"
	"    <hostdev mode=\"subsystem\" type=\"usb\">\n"
	"      <source startupPolicy=\"optional\">\n"
	"        <vendor id=\"0x0627\"/><product id=\"0x0001\"/>\n"
	"        <address bus=\"1\" device=\"3\"/>\n"
	"      </source>\n"
	"      <address type='usb' bus='0' port='2'/>\n"
	"    </hostdev>\n"
	"    <hostdev mode='capabilities' type='storage'>\n"
	"      <source><block>/dev/sdf1</block></source>\n"
	"    </hostdev>\n"
	"    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
	"      <driver name='vfio'/>\n"
	"      <source>\n"
	"        <address domain='0x0000' bus='0x11' slot='0x00' function='0x3'/>\n"
	"      </source>\n"
	"      <alias name='hostdev2'/>\n"
	"      <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>\n"
	"    </hostdev>\n"
	"  </devices>\n"
	"</domain>\n";

TEST(domxml_parses_hostdevs_of_a_domain)
{
	struct domxml_hostdev h[8];
	int n = domxml_parse_hostdevs(domain_xml, h, 8);
	CHECK_INT(n, 3);
	CHECK(!h[0].pci);
	CHECK(h[0].has_ids && h[0].has_address);
	CHECK_INT(h[0].vendor, 0x0627);
	CHECK_INT(h[0].product, 0x0001);
	CHECK_INT(h[0].bus, 1);
	CHECK_INT(h[0].device, 2);
	CHECK(!h[0].managed);
	CHECK_INT(h[1].device, 3);
	CHECK(h[2].pci && h[2].managed);
	CHECK_INT(h[2].addr.bus, 0x11);
	CHECK_INT(h[2].addr.func, 3);
	struct usb_dev kbd = { 0x0627, 0x0001, 1, 2 }, other = { 0x0627, 0x0001, 1, 4 };
	CHECK(domxml_hostdev_is_usb(&h[0], &kbd));
	CHECK(!domxml_hostdev_is_usb(&h[1], &kbd));
	CHECK(!domxml_hostdev_is_usb(&h[0], &other));
	CHECK(!domxml_hostdev_is_usb(&h[2], &kbd));
	struct pci_addr a = { 0, 0x11, 0, 3 }, b = { 0, 0x11, 0, 2 };
	CHECK(domxml_hostdev_is_pci(&h[2], &a));
	CHECK(!domxml_hostdev_is_pci(&h[2], &b));
	CHECK(!domxml_hostdev_is_pci(&h[0], &a));
	/* More than fit: the count, and only max written. */
	CHECK_INT(domxml_parse_hostdevs(domain_xml, h, 1), 3);
}

/* What kvmswitch generates (the core), it reads back as the same device. */
TEST(domxml_round_trip)
{
	char xml[1024];
	struct usb_dev d = { 0x046d, 0xc52b, 3, 17 };
	struct pci_addr a = { 0x0001, 0x0a, 0x1f, 7 };
	int n = snprintf(xml, sizeof(xml), "<domain><devices>");
	int u = virtxml_usb_hostdev(xml + n, sizeof(xml) - (size_t)n, &d);
	CHECK(u > 0);
	n += u;
	int p = virtxml_pci_hostdev(xml + n, sizeof(xml) - (size_t)n, &a);
	CHECK(p > 0);
	n += p;
	snprintf(xml + n, sizeof(xml) - (size_t)n, "</devices></domain>");
	struct domxml_hostdev h[2];
	CHECK_INT(domxml_parse_hostdevs(xml, h, 2), 2);
	CHECK(domxml_hostdev_is_usb(&h[0], &d));
	CHECK(domxml_hostdev_is_pci(&h[1], &a));
	CHECK(h[1].managed);
}

TEST(domxml_rejects_malformed_hostdevs)
{
	struct domxml_hostdev h[2];
	CHECK_INT(domxml_parse_hostdevs("<domain><devices></devices></domain>", h, 2), 0);
	CHECK_INT(domxml_parse_hostdevs("", h, 2), 0);
	/* Unterminated hostdev, bad numbers, unquoted attributes, open comment. */
	CHECK_INT(domxml_parse_hostdevs("<hostdev mode='subsystem' type='usb'><source>", h, 2), -1);
	CHECK_INT(domxml_parse_hostdevs("<hostdev mode='subsystem' type='usb'><source><address bus='x' device='1'/>"
					 "</source></hostdev>", h, 2), -1);
	CHECK_INT(domxml_parse_hostdevs("<hostdev mode=subsystem type='usb'></hostdev>", h, 2), -1);
	CHECK_INT(domxml_parse_hostdevs("<domain><!-- <hostdev", h, 2), -1);
	CHECK_INT(domxml_parse_hostdevs("<hostdev mode='subsystem' type='pci'><source><address domain='0x0' "
					 "bus='0x100' slot='0' function='0'/></source></hostdev>", h, 2), -1);
}

/* A persistent definition may name a USB device by ids alone (libvirt finds
 * it at start) or by address alone; only an address says which device is
 * attached now. */
TEST(domxml_usb_with_and_without_address)
{
	static const char xml[] = "<domain><devices>"
				  "<hostdev mode='subsystem' type='usb'><source><vendor id='0x0627'/>"
				  "<product id='0x0001'/></source></hostdev>"
				  "<hostdev mode='subsystem' type='usb'><source><address bus='2' device='5'/>"
				  "</source></hostdev>"
				  "</devices></domain>";
	struct domxml_hostdev h[2];
	CHECK_INT(domxml_parse_hostdevs(xml, h, 2), 2);
	CHECK(h[0].has_ids && !h[0].has_address);
	CHECK_INT(h[0].vendor, 0x0627);
	CHECK_INT(h[0].product, 0x0001);
	CHECK(!h[1].has_ids && h[1].has_address);
	CHECK_INT(h[1].bus, 2);
	CHECK_INT(h[1].device, 5);
	struct usb_dev kbd = { 0x0627, 0x0001, 1, 2 }, any = { 0x046d, 0xc52b, 2, 5 };
	CHECK(!domxml_hostdev_is_usb(&h[0], &kbd)); /* no address: not this one, nor any */
	CHECK(domxml_hostdev_is_usb(&h[1], &any)); /* no ids: the address decides */
}

/* kvmswitch doctor: which evdev nodes a domain reads, and how. */
TEST(domxml_parses_evdev_inputs)
{
	static const char xml[] =
		"<domain type='kvm'><devices>\n"
		"  <input type='mouse' bus='ps2'/>\n"
		"  <input type='evdev'>\n"
		"    <source dev='/dev/input/by-id/kvmswitch-win-keyboard' grab='all' repeat='on'/>\n"
		"  </input>\n"
		"  <input type='passthrough' bus='virtio'>\n"
		"    <source evdev='/dev/input/by-id/kvmswitch-win-pointer'/>\n"
		"    <alias name='input3'/>\n"
		"  </input>\n"
		"  <input type='evdev'/>\n"
		"</devices></domain>\n";
	struct domxml_input in[4];
	CHECK_INT(domxml_parse_inputs(xml, in, 4), 3);
	CHECK(!in[0].passthrough);
	CHECK_STR(in[0].source, "/dev/input/by-id/kvmswitch-win-keyboard");
	CHECK(in[1].passthrough);
	CHECK_STR(in[1].source, "/dev/input/by-id/kvmswitch-win-pointer");
	CHECK_STR(in[2].source, "");
	CHECK_INT(domxml_parse_inputs(domain_xml, in, 4), 1);
	CHECK_INT(domxml_parse_inputs("<domain><devices>", in, 4), -1);
}
