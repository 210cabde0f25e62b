/* Does a domain's QEMU hold a node open (holders.h): /proc/PID/cmdline to
 * find the domain's QEMU, /proc/PID/fd of that process only. */
#include "holders.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Is this NUL-separated command line libvirt's QEMU of `domain`? libvirt
 * writes `-name guest=NAME,debug-threads=on` (a ',' in NAME doubled) and
 * `-uuid UUID`. */
static bool is_domain_qemu(const char *cmd, size_t len, const char *domain)
{
	size_t dlen = strlen(domain);
	for (size_t off = 0; off < len;) {
		const char *arg = cmd + off;
		size_t alen = strnlen(arg, len - off);
		size_t next = off + alen + 1;
		const char *val = next < len ? cmd + next : NULL;
		if (val && !strcmp(arg, "-uuid") && !strcasecmp(val, domain))
			return true;
		if (val && !strcmp(arg, "-name")) {
			if (!strncmp(val, "guest=", 6))
				val += 6;
			/* the name runs to the first single ',' */
			size_t i = 0, k = 0;
			while (val[i] && k < dlen) {
				if (val[i] == ',' && val[i + 1] != ',')
					break;
				if (val[i] != domain[k])
					break;
				i += val[i] == ',' ? 2 : 1;
				k++;
			}
			if (k == dlen && (!val[i] || (val[i] == ',' && val[i + 1] != ',')))
				return true;
		}
		off = next;
	}
	return false;
}

/* 1 if process pid has node open, 0 if not, -1 if its fds are unreadable. */
static int has_open(const char *pid, const char *node)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%.20s/fd", pid);
	DIR *d = opendir(dir);
	if (!d)
		return errno == EACCES || errno == EPERM ? -1 : 0;
	int found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		char path[PATH_MAX], target[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, node) == 0;
		}
	}
	closedir(d);
	return found;
}

enum holders_answer holders_domain_holds(const char *domain, const char *node)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return HOLDERS_NO;
	enum holders_answer ans = HOLDERS_NO;
	struct dirent *e;
	while (ans != HOLDERS_YES && (e = readdir(proc))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char path[64], cmd[8192];
		snprintf(path, sizeof(path), "/proc/%.20s/cmdline", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		if (!is_domain_qemu(cmd, (size_t)n, domain))
			continue;
		int r = has_open(e->d_name, node);
		if (r > 0)
			ans = HOLDERS_YES;
		else if (r < 0)
			ans = HOLDERS_UNKNOWN;
	}
	closedir(proc);
	return ans;
}
