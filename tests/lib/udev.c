/* Waiting for udev and asking it about devices. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"
#include "itest.h"

static struct udev *udev_ctx;

struct udev *itest_udev_get(void)
{
	if (!udev_ctx) {
		udev_ctx = udev_new();
		if (!udev_ctx)
			ITEST_FAIL("udev_new failed: %s", strerror(errno));
	}
	return udev_ctx;
}

int itest_ms_left(int64_t deadline_ms)
{
	int64_t left = deadline_ms - itest_now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

struct udev_monitor *itest_udev_monitor_new(void)
{
	struct udev_monitor *mon = udev_monitor_new_from_netlink(itest_udev_get(), "udev");
	if (!mon)
		ITEST_FAIL("cannot create a udev monitor: %s (is systemd-udevd running?)",
			   strerror(errno));
	int rc = udev_monitor_filter_add_match_subsystem_devtype(mon, "input", NULL);
	if (rc >= 0)
		rc = udev_monitor_enable_receiving(mon);
	if (rc < 0)
		ITEST_FAIL("cannot start a udev monitor: %s", strerror(-rc));
	udev_monitor_set_receive_buffer_size(mon, 4 * 1024 * 1024);
	return mon;
}

struct udev_device *itest_udev_monitor_wait(struct udev_monitor *mon, const char *action,
					    const char *syspath, bool prefix, int64_t deadline_ms)
{
	size_t plen = strlen(syspath);
	for (;;) {
		struct pollfd pfd = {.fd = udev_monitor_get_fd(mon), .events = POLLIN};
		int r = poll(&pfd, 1, itest_ms_left(deadline_ms));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ITEST_FAIL("poll on the udev monitor: %s", strerror(errno));
		if (r == 0)
			return NULL;
		struct udev_device *dev = udev_monitor_receive_device(mon);
		if (!dev)
			continue;
		const char *a = udev_device_get_action(dev);
		const char *p = udev_device_get_syspath(dev);
		bool match = a && p && strcmp(a, action) == 0 &&
			     (prefix ? strncmp(p, syspath, plen) == 0 : strcmp(p, syspath) == 0);
		if (match)
			return dev;
		udev_device_unref(dev);
	}
}

static struct udev_device *device_from_node(const char *devnode)
{
	struct stat st;
	if (stat(devnode, &st) < 0)
		return NULL;
	if (!S_ISCHR(st.st_mode)) {
		errno = ENODEV;
		return NULL;
	}
	return udev_device_new_from_devnum(itest_udev_get(), 'c', st.st_rdev);
}

char *itest_udev_property(const char *devnode, const char *key)
{
	struct udev_device *dev = device_from_node(devnode);
	if (!dev)
		ITEST_FAIL("no udev device for %s: %s", devnode, strerror(errno));
	const char *v = udev_device_get_property_value(dev, key);
	char *r = v ? strdup(v) : NULL;
	udev_device_unref(dev);
	return r;
}

bool itest_udev_wait_removed(const char *devnode, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	struct udev_monitor *mon = itest_udev_monitor_new();
	struct udev_device *dev = device_from_node(devnode);
	bool gone = true;
	if (dev) {
		/* It existed after the monitor started: its removal is still to come. */
		char *syspath = strdup(udev_device_get_syspath(dev));
		udev_device_unref(dev);
		struct udev_device *ev = itest_udev_monitor_wait(mon, "remove", syspath, false, deadline);
		gone = ev != NULL;
		if (ev)
			udev_device_unref(ev);
		free(syspath);
	}
	udev_monitor_unref(mon);
	return gone;
}

#define RULES_DIR "/etc/udev/rules.d"

static void udevadm_ok(const char *const argv[])
{
	char *err = NULL;
	int st = tproc_run(argv, NULL, NULL, &err, 60000);
	ITEST_ASSERT_MSG(st == 0, "udevadm %s exited with %d: %.600s", argv[1], st, err);
	free(err);
}

static void rules_remove(void *data)
{
	char *path = data;
	unlink(path);
	tproc_run((const char *const[]){ "udevadm", "control", "--reload", NULL }, NULL, NULL, NULL, 60000);
	free(path);
}

void itest_udev_rules_install(const char *name)
{
	if (!itest_in_vm())
		itest_skip("installs udev rules into " RULES_DIR ": runs only in the test VM");
	char from[PATH_MAX + 64], *to;
	snprintf(from, sizeof(from), "%s/udev/%s", itest_src_dir(), name);
	if (asprintf(&to, RULES_DIR "/%s", name) < 0)
		ITEST_FAIL("out of memory");
	mkdir(RULES_DIR, 0755);
	size_t len;
	char *text = itest_read_file(from, &len);
	ITEST_ASSERT_MSG(text != NULL, "cannot read %s", from);
	FILE *f = fopen(to, "we");
	ITEST_ASSERT_MSG(f != NULL, "cannot write %s: %s", to, strerror(errno));
	ITEST_ASSERT(fwrite(text, 1, len, f) == len);
	ITEST_ASSERT(fclose(f) == 0);
	free(text);
	itest_defer(rules_remove, to);
	udevadm_ok((const char *const[]){ "udevadm", "control", "--reload", NULL });
}

void itest_udev_retrigger(void)
{
	udevadm_ok((const char *const[]){ "udevadm", "trigger", "--action=change", "--subsystem-match=input",
					  "--settle", NULL });
}
