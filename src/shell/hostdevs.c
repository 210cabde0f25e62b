/* The host's side of a usb target's devices (hostdevs.h), read from sysfs. */
#include "hostdevs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define USB_SYSFS "/sys/bus/usb/devices"
#define PCI_SYSFS "/sys/bus/pci/devices"

static int read_attr(const char *dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

size_t hostdevs_find_usb(const struct usb_match *m, struct hostdev_usb *out, size_t max)
{
	DIR *dir = opendir(USB_SYSFS);
	if (!dir)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) && n < max) {
		if (e->d_name[0] == '.' || strchr(e->d_name, ':') || strlen(e->d_name) >= sizeof(out->sysname))
			continue; /* interfaces are "1-1:1.0" */
		char dpath[PATH_MAX], buf[160];
		snprintf(dpath, sizeof(dpath), USB_SYSFS "/%s", e->d_name);
		unsigned long vid, pid, bus, devnum;
		if (read_attr(dpath, "idVendor", buf, sizeof(buf)) < 0 || (vid = strtoul(buf, NULL, 16)) != m->vendor)
			continue;
		if (read_attr(dpath, "idProduct", buf, sizeof(buf)) < 0 || (pid = strtoul(buf, NULL, 16)) != m->product)
			continue;
		if (read_attr(dpath, "busnum", buf, sizeof(buf)) < 0 || (bus = strtoul(buf, NULL, 10)) == 0)
			continue;
		if (read_attr(dpath, "devnum", buf, sizeof(buf)) < 0 || (devnum = strtoul(buf, NULL, 10)) == 0)
			continue;
		char serial[128] = "";
		if (read_attr(dpath, "serial", serial, sizeof(serial)) < 0)
			serial[0] = '\0';
		if (m->serial[0] && strcmp(m->serial, serial) != 0)
			continue;
		struct hostdev_usb *f = &out[n++];
		f->dev = (struct usb_dev){ (uint16_t)vid, (uint16_t)pid, (unsigned)bus, (unsigned)devnum };
		memcpy(f->sysname, e->d_name, strlen(e->d_name) + 1);
		snprintf(f->serial, sizeof(f->serial), "%s", serial);
	}
	closedir(dir);
	return n;
}

int hostdevs_usb_rebind(const char *sysname)
{
	char dpath[PATH_MAX];
	snprintf(dpath, sizeof(dpath), USB_SYSFS "/%s", sysname);
	DIR *dir = opendir(dpath);
	if (!dir)
		return 0; /* unplugged meanwhile */
	int n = 0;
	size_t len = strlen(sysname);
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (strncmp(e->d_name, sysname, len) != 0 || e->d_name[len] != ':')
			continue;
		char drv[300];
		snprintf(drv, sizeof(drv), "%.250s/driver", e->d_name);
		if (faccessat(dirfd(dir), drv, F_OK, 0) == 0)
			continue;
		int fd = open("/sys/bus/usb/drivers_probe", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, e->d_name, strlen(e->d_name)) < 0)
			log_warn("USB interface %s has no driver and cannot be probed: %s (as root: echo %s > "
				 "/sys/bus/usb/drivers_probe)",
				 e->d_name, strerror(errno), e->d_name);
		else
			n++;
		if (fd >= 0)
			close(fd);
	}
	closedir(dir);
	return n;
}

void hostdevs_iommu_hint(const struct pci_addr *a, char *out, size_t len)
{
	char addr[32], path[PATH_MAX], link[PATH_MAX];
	virtxml_pci_format(a, addr, sizeof(addr));
	out[0] = '\0';
	snprintf(path, sizeof(path), PCI_SYSFS "/%s/iommu_group", addr);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(out, len,
			 " PCI device %s is in no IOMMU group: the IOMMU is off. Enable VT-d (Intel) or AMD-Vi/IOMMU "
			 "(AMD) in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on iommu=pt; "
			 "see docs/libvirt.md.",
			 addr);
		return;
	}
	link[n] = '\0';
	const char *slash = strrchr(link, '/');
	char group[32];
	snprintf(group, sizeof(group), "%.20s", slash ? slash + 1 : link);
	snprintf(path, sizeof(path), PCI_SYSFS "/%s/iommu_group/devices", addr);
	DIR *dir = opendir(path);
	if (!dir)
		return;
	char others[300] = "";
	size_t off = 0, count = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, addr) == 0)
			continue;
		count++;
		if (off < sizeof(others) - 40)
			off += (size_t)snprintf(others + off, sizeof(others) - off, "%s%s", off ? ", " : "", e->d_name);
	}
	closedir(dir);
	if (count)
		snprintf(out, len,
			 " IOMMU group %s also holds %s: a device can only go to a guest with its whole group "
			 "(every one bound to vfio-pci). Pick a USB controller alone in its group (see "
			 "docs/libvirt.md), or move the card to another slot.",
			 group, others);
}

int hostdevs_find_pci(const struct pci_addr *a, char *cls, size_t len)
{
	char addr[32], dir[PATH_MAX];
	virtxml_pci_format(a, addr, sizeof(addr));
	snprintf(dir, sizeof(dir), PCI_SYSFS "/%s", addr);
	if (access(dir, F_OK) < 0)
		return -ENODEV;
	if (read_attr(dir, "class", cls, len) < 0)
		cls[0] = '\0';
	return 0;
}
