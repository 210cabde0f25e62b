/* The host's side of a usb target's devices: the USB devices plugged in
 * that match an id, the PCI functions (USB controllers) by address, why a
 * PCI function may not go to a guest (its IOMMU group), and giving a USB
 * device's interfaces back to the host's drivers. Used by the libvirt
 * worker (virt_attach.c). */
#ifndef KVMSWITCH_HOSTDEVS_H
#define KVMSWITCH_HOSTDEVS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/virtxml.h"

/* A USB device found on the host. */
struct hostdev_usb {
	struct usb_dev dev; /* ids, and its bus and device number now */
	char sysname[64];   /* its sysfs name ("1-1.2"), for hostdevs_usb_rebind */
	char serial[128];   /* "" if it has none */
};

/* The USB devices plugged in now that match m (ids, and m's serial if it has
 * one). Writes at most max of them; returns how many it wrote. */
size_t hostdevs_find_usb(const struct usb_match *m, struct hostdev_usb *out, size_t max);

/* 0 if PCI function a exists on this host, with its class ("0x0c0330")
 * in cls ("" if unknown); -ENODEV if not. */
int hostdevs_find_pci(const struct pci_addr *a, char *cls, size_t len);

/* What stands in the way of giving PCI function a to a guest (no IOMMU, or
 * an IOMMU group it shares), as a sentence that starts with a space; ""
 * if nothing stands out. */
void hostdevs_iommu_hint(const struct pci_addr *a, char *out, size_t len);

/* The serial of the USB device that sysfs device `syspath` (an input
 * node) belongs to, in serial: true, or false if it is on no USB device. */
bool hostdevs_usb_serial_of(const char *syspath, char *serial, size_t len);

/* USB devices plugged in and unplugged, from udev (its own monitor; one
 * thread uses it). */
struct hostdevs_monitor;
struct hostdev_event {
	bool added;            /* else removed */
	struct hostdev_usb dev; /* removed: ids, bus and device number (from the event) */
};
/* NULL with errno if udev cannot be reached. */
struct hostdevs_monitor *hostdevs_monitor_create(void);
void hostdevs_monitor_destroy(struct hostdevs_monitor *m);
/* Readable when events wait. */
int hostdevs_monitor_fd(const struct hostdevs_monitor *m);
/* The next USB device event: 1 and *ev, or 0 when none waits. */
int hostdevs_monitor_read(struct hostdevs_monitor *m, struct hostdev_event *ev);

/* Asks the kernel to bind a driver to every interface of USB device
 * `sysname` that has none (normally QEMU gives them back to usbhid itself).
 * Returns how many it asked for. */
int hostdevs_usb_rebind(const char *sysname);

#endif
