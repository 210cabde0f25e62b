/* A test-only fault: LD_PRELOAD'ed into kvmswitch by test_faults, this
 * write() fails with EIO on the uinput devices (/dev/uinput fds) while the
 * file named by $KVMSWITCH_FAILWRITE exists. Built as
 * $(B)/preload/failwrite.so; never part of the program (docs/SECURITY.md). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t write(int fd, const void *buf, size_t n);

static int is_uinput(int fd)
{
	char link[64], target[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t l = readlink(link, target, sizeof(target) - 1);
	if (l < 0)
		return 0;
	target[l] = '\0';
	return strcmp(target, "/dev/uinput") == 0;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	const char *flag = getenv("KVMSWITCH_FAILWRITE");
	if (flag && access(flag, F_OK) == 0 && is_uinput(fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, n);
}
