/* The host's side of a usb target's devices (hostdevs.h), found through
 * libudev. Each call has its own udev context: this runs on the libvirt
 * worker's thread, and libudev objects are not shared between threads.
 * (libudev's unref functions take NULL.) */
#include "hostdevs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* A sysfs value without its trailing newlines and blanks ("" for NULL). */
static void copy_value(char *out, size_t len, const char *v)
{
	snprintf(out, len, "%s", v ? v : "");
	size_t n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
}

/* Fills f from USB device d if it has an address now and m's serial. */
static bool usb_found(struct udev_device *d, const struct usb_match *m, struct hostdev_usb *f)
{
	const char *name = udev_device_get_sysname(d);
	const char *bus = udev_device_get_sysattr_value(d, "busnum");
	const char *devnum = udev_device_get_sysattr_value(d, "devnum");
	if (!name || strlen(name) >= sizeof(f->sysname) || !bus || !devnum)
		return false;
	unsigned long b = strtoul(bus, NULL, 10), n = strtoul(devnum, NULL, 10);
	if (b == 0 || n == 0)
		return false;
	char serial[sizeof(f->serial)];
	copy_value(serial, sizeof(serial), udev_device_get_sysattr_value(d, "serial"));
	if (m->serial[0] && strcmp(m->serial, serial) != 0)
		return false;
	f->dev = (struct usb_dev){ m->vendor, m->product, (unsigned)b, (unsigned)n };
	snprintf(f->sysname, sizeof(f->sysname), "%s", name);
	snprintf(f->serial, sizeof(f->serial), "%s", serial);
	return true;
}

size_t hostdevs_find_usb(const struct usb_match *m, struct hostdev_usb *out, size_t max)
{
	struct udev *u = udev_new();
	struct udev_enumerate *e = u ? udev_enumerate_new(u) : NULL;
	size_t n = 0;
	/* sysfs writes the ids as four lower-case hex digits. The serial is
	 * compared here, not matched by udev: udev's match is a glob, and it
	 * keeps the trailing blanks some devices put in their serial. */
	char vid[8], pid[8];
	snprintf(vid, sizeof(vid), "%04x", m->vendor);
	snprintf(pid, sizeof(pid), "%04x", m->product);
	if (!e || udev_enumerate_add_match_subsystem(e, "usb") < 0 ||
	    udev_enumerate_add_match_property(e, "DEVTYPE", "usb_device") < 0 ||
	    udev_enumerate_add_match_sysattr(e, "idVendor", vid) < 0 ||
	    udev_enumerate_add_match_sysattr(e, "idProduct", pid) < 0 || udev_enumerate_scan_devices(e) < 0)
		goto out;
	struct udev_list_entry *le;
	udev_list_entry_foreach(le, udev_enumerate_get_list_entry(e))
	{
		if (n >= max)
			break;
		struct udev_device *d = udev_device_new_from_syspath(u, udev_list_entry_get_name(le));
		if (!d)
			continue; /* unplugged meanwhile */
		n += usb_found(d, m, &out[n]);
		udev_device_unref(d);
	}
out:
	udev_enumerate_unref(e);
	udev_unref(u);
	return n;
}

bool hostdevs_usb_serial_of(const char *syspath, char *serial, size_t len)
{
	struct udev *u = udev_new();
	struct udev_device *d = u ? udev_device_new_from_syspath(u, syspath) : NULL;
	/* The parent is owned by its child: no unref of its own. */
	struct udev_device *usb = d ? udev_device_get_parent_with_subsystem_devtype(d, "usb", "usb_device") : NULL;
	if (usb)
		copy_value(serial, len, udev_device_get_sysattr_value(usb, "serial"));
	udev_device_unref(d);
	udev_unref(u);
	return usb != NULL;
}

/* ---- plugged in, unplugged ---- */

struct hostdevs_monitor {
	struct udev *u;
	struct udev_monitor *mon;
};

struct hostdevs_monitor *hostdevs_monitor_create(void)
{
	struct hostdevs_monitor *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->u = udev_new();
	m->mon = m->u ? udev_monitor_new_from_netlink(m->u, "udev") : NULL;
	if (!m->mon || udev_monitor_filter_add_match_subsystem_devtype(m->mon, "usb", "usb_device") < 0 ||
	    udev_monitor_enable_receiving(m->mon) < 0) {
		hostdevs_monitor_destroy(m);
		errno = errno ? errno : ENOMEM;
		return NULL;
	}
	return m;
}

void hostdevs_monitor_destroy(struct hostdevs_monitor *m)
{
	if (!m)
		return;
	udev_monitor_unref(m->mon);
	udev_unref(m->u);
	free(m);
}

int hostdevs_monitor_fd(const struct hostdevs_monitor *m)
{
	return udev_monitor_get_fd(m->mon);
}

/* A number property of the event ("BUSNUM", "DEVNUM"), 0 if none. */
static unsigned prop_num(struct udev_device *d, const char *name, int base)
{
	const char *v = udev_device_get_property_value(d, name);
	return v ? (unsigned)strtoul(v, NULL, base) : 0;
}

int hostdevs_monitor_read(struct hostdevs_monitor *m, struct hostdev_event *ev)
{
	struct udev_device *d;
	while ((d = udev_monitor_receive_device(m->mon))) {
		const char *action = udev_device_get_action(d);
		const char *name = udev_device_get_sysname(d);
		/* PRODUCT is "vendor/product/bcdDevice" in hex, in add and remove
		 * events alike (the sysfs attributes are gone at remove). */
		const char *product = udev_device_get_property_value(d, "PRODUCT");
		unsigned long vid = 0, pid = 0;
		char *end = NULL;
		if (product) {
			vid = strtoul(product, &end, 16);
			pid = *end == '/' ? strtoul(end + 1, NULL, 16) : 0;
		}
		bool add = action && !strcmp(action, "add"), remove = action && !strcmp(action, "remove");
		if ((add || remove) && name && product && vid <= 0xffff && pid <= 0xffff) {
			memset(ev, 0, sizeof(*ev));
			ev->added = add;
			ev->dev.dev = (struct usb_dev){ (uint16_t)vid, (uint16_t)pid, prop_num(d, "BUSNUM", 10),
							prop_num(d, "DEVNUM", 10) };
			snprintf(ev->dev.sysname, sizeof(ev->dev.sysname), "%s", name);
			if (add)
				copy_value(ev->dev.serial, sizeof(ev->dev.serial), udev_device_get_sysattr_value(d, "serial"));
			udev_device_unref(d);
			return 1;
		}
		udev_device_unref(d);
	}
	return 0;
}

int hostdevs_find_pci(const struct pci_addr *a, char *cls, size_t len)
{
	char addr[32];
	virtxml_pci_format(a, addr, sizeof(addr));
	struct udev *u = udev_new();
	struct udev_device *d = u ? udev_device_new_from_subsystem_sysname(u, "pci", addr) : NULL;
	copy_value(cls, len, d ? udev_device_get_sysattr_value(d, "class") : NULL);
	int rc = d ? 0 : -ENODEV;
	udev_device_unref(d);
	udev_unref(u);
	return rc;
}

/* The PCI function's IOMMU group: its number in group and the other
 * members in others (", "-separated, as many as fit). Returns how many
 * others there are, or -1 if it is in no group. udev knows no IOMMU
 * groups: this follows the function's iommu_group link in sysfs. */
static int iommu_group(const char *addr, char *group, size_t glen, char *others, size_t olen)
{
	struct udev *u = udev_new();
	struct udev_device *d = u ? udev_device_new_from_subsystem_sysname(u, "pci", addr) : NULL;
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n = -1;
	if (d) {
		snprintf(path, sizeof(path), "%s/iommu_group", udev_device_get_syspath(d));
		n = readlink(path, link, sizeof(link) - 1);
		udev_device_unref(d);
	}
	udev_unref(u);
	if (n < 0)
		return -1;
	link[n] = '\0';
	const char *slash = strrchr(link, '/');
	snprintf(group, glen, "%.20s", slash ? slash + 1 : link);
	others[0] = '\0';
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/devices");
	DIR *dir = opendir(path);
	if (!dir)
		return 0;
	int count = 0;
	size_t off = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, addr) == 0)
			continue;
		count++;
		if (off < olen - 40)
			off += (size_t)snprintf(others + off, olen - off, "%s%s", off ? ", " : "", e->d_name);
	}
	closedir(dir);
	return count;
}

void hostdevs_iommu_hint(const struct pci_addr *a, char *out, size_t len)
{
	char addr[32], group[32], others[300];
	virtxml_pci_format(a, addr, sizeof(addr));
	out[0] = '\0';
	int n = iommu_group(addr, group, sizeof(group), others, sizeof(others));
	if (n < 0)
		snprintf(out, len,
			 " PCI device %s is in no IOMMU group: the IOMMU is off. Enable VT-d (Intel) or AMD-Vi/IOMMU "
			 "(AMD) in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on iommu=pt; "
			 "see docs/libvirt.md.",
			 addr);
	else if (n > 0)
		snprintf(out, len,
			 " IOMMU group %s also holds %s: a device can only go to a guest with its whole group "
			 "(every one bound to vfio-pci). Pick a USB controller alone in its group (see "
			 "docs/libvirt.md), or move the card to another slot.",
			 group, others);
}

int hostdevs_usb_rebind(const char *sysname)
{
	struct udev *u = udev_new();
	struct udev_device *dev = u ? udev_device_new_from_subsystem_sysname(u, "usb", sysname) : NULL;
	struct udev_enumerate *e = dev ? udev_enumerate_new(u) : NULL;
	int n = 0;
	if (!e || udev_enumerate_add_match_parent(e, dev) < 0 || udev_enumerate_scan_devices(e) < 0)
		goto out; /* no device: unplugged meanwhile */
	size_t len = strlen(sysname);
	struct udev_list_entry *le;
	udev_list_entry_foreach(le, udev_enumerate_get_list_entry(e))
	{
		struct udev_device *d = udev_device_new_from_syspath(u, udev_list_entry_get_name(le));
		const char *name = d ? udev_device_get_sysname(d) : NULL;
		/* Its own interfaces ("1-1:1.0"), not those of devices behind it
		 * (a hub's), and only those without a driver. */
		if (name && strncmp(name, sysname, len) == 0 && name[len] == ':' && !udev_device_get_driver(d)) {
			/* udev has no call for this: the kernel's bus probe is a sysfs
			 * write. */
			int fd = open("/sys/bus/usb/drivers_probe", O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, name, strlen(name)) < 0)
				log_warn("USB interface %s has no driver and cannot be probed: %s (as root: echo %s > "
					 "/sys/bus/usb/drivers_probe)",
					 name, strerror(errno), name);
			else
				n++;
			if (fd >= 0)
				close(fd);
		}
		udev_device_unref(d);
	}
out:
	udev_enumerate_unref(e);
	udev_device_unref(dev);
	udev_unref(u);
	return n;
}
