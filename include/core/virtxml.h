/* libvirt device XML: generates what kvmswitch hot-attaches to a domain
 * (<hostdev> for a USB device or a PCI USB controller) and what
 * `kvmswitch libvirt-xml` prints (<input> elements for a target's virtual
 * devices). Pure. Reading a domain's XML back is the shell's (domxml.h). */
#ifndef KVMSWITCH_CORE_VIRTXML_H
#define KVMSWITCH_CORE_VIRTXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

/* Where kvmswitch's udev rules link a target's virtual devices. */
#define VIRTXML_LINK_DIR "/dev/input/by-id"
#define VIRTXML_LINK_PREFIX "kvmswitch-"

/* One USB device as found on the host (sysfs): ids and its address now. */
struct usb_dev {
	uint16_t vendor, product;
	unsigned bus, device; /* busnum, devnum */
};

/* <hostdev mode='subsystem' type='usb'> with vendor, product and the
 * bus/device address (libvirt refuses vendor:product alone when two devices
 * share it). Returns the length, or -1 if buf is too small. */
int virtxml_usb_hostdev(char *buf, size_t len, const struct usb_dev *dev);

/* <hostdev mode='subsystem' type='pci' managed='yes'> for a PCI function
 * (a USB controller): libvirt binds it to vfio-pci and back. Returns the
 * length, or -1 if buf is too small. */
int virtxml_pci_hostdev(char *buf, size_t len, const struct pci_addr *a);

/* "0000:11:00.3" */
void virtxml_pci_format(const struct pci_addr *a, char *buf, size_t len);

/* The stable path of a target's virtual device:
 * /dev/input/by-id/kvmswitch-TARGET-KIND. */
void virtxml_link_path(const char *target, enum vkind kind, char *buf, size_t len);

/* QEMU's input-linux grab toggle (libvirt grabToggle) for `target`: the one
 * that is exactly one of kvmswitch's own chords (the global hotkey first,
 * then the target's hotkey), so that pressing it switches with kvmswitch and
 * its completing key never reaches QEMU. NULL if no chord is one of QEMU's
 * toggles. */
const char *virtxml_grab_toggle(const struct config *cfg, int target);
/* The toggle used when virtxml_grab_toggle finds none: one hardly ever
 * pressed (both Meta keys; most keyboards have no right Meta). */
#define VIRTXML_FALLBACK_TOGGLE "meta-meta"

/* The <input> elements for a target's keyboard and pointer (and, commented
 * out, its tablet), with the guest-side devices they need as comments.
 * type: LIBVIRT_INPUT_EVDEV prints <input type='evdev'> (QEMU input-linux:
 * grab='all' repeat='on' grabToggle=...) on the keyboard; PASSTHROUGH
 * prints <input type='passthrough' bus='virtio'> (virtio-input-host).
 * nodes[kind] names the device to use (an event node), or NULL (or nodes
 * NULL) for its stable link (virtxml_link_path). Returns the length, or -1
 * if buf is too small. */
int virtxml_inputs(char *buf, size_t len, const struct config *cfg, int target,
		   enum libvirt_input type, const char *const nodes[VK_COUNT]);

#endif
