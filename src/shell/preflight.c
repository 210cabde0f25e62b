#include "preflight.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conffile.h"
#include "core/hookcmd.h"
#include "netauth.h"

/* sh's search path when PATH is unset. */
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static void problem(struct buf *out, size_t *n, const struct config *cfg, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void problem(struct buf *out, size_t *n, const struct config *cfg, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_printf(out, "%s:%d: %s\n", cfg->path, line, msg);
	(*n)++;
}

static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Finds prog in PATH as sh would: true if an executable file is there. */
static bool in_path(const char *prog, const char *path)
{
	char dir[PATH_MAX], file[PATH_MAX * 2];
	for (const char *p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		snprintf(dir, sizeof(dir), "%.*s", (int)n, n ? p : ".");
		snprintf(file, sizeof(file), "%s/%s", dir, prog);
		if (executable(file))
			return true;
		if (!end)
			return false;
		p = end;
	}
}

/* The program a hook starts exists and may be run (by this user). */
static void check_hook(struct buf *out, size_t *n, const struct config *cfg, const struct target_conf *t,
		       const char *which, const char *cmd, int line)
{
	char prog[PATH_MAX];
	if (!cmd || hookcmd_program(cmd, prog, sizeof(prog)) <= 0)
		return;
	if (strchr(prog, '/')) {
		struct stat st;
		if (stat(prog, &st) < 0)
			problem(out, n, cfg, line, "%s of target '%s': %s: %s", which, t->name, prog, strerror(errno));
		else if (!S_ISREG(st.st_mode) || access(prog, X_OK) < 0)
			problem(out, n, cfg, line, "%s of target '%s': %s is not an executable file (chmod +x %s)", which,
				t->name, prog, prog);
		return;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = DEFAULT_PATH;
	if (!in_path(prog, path))
		problem(out, n, cfg, line, "%s of target '%s': '%s' is not in PATH (%.300s): install it or write its full path",
			which, t->name, prog, path);
}

static void check_listener(struct buf *out, size_t *n, const struct config *cfg)
{
	const struct listener_conf *l = &cfg->listener;
	char why[CONFIG_ERR_MAX];
	if (!l->enabled)
		return;
	struct sockaddr_storage sa;
	socklen_t salen;
	if (netauth_parse_address(l->address, true, &sa, &salen, why, sizeof(why)) < 0)
		problem(out, n, cfg, l->address_line, "[listener] address: %s", why);
	unsigned char *secret;
	size_t len;
	if (netauth_read_secret(l->secret_file, &secret, &len, why, sizeof(why)) < 0) {
		/* Whoever runs the check may not be the daemon's user. */
		struct stat st;
		bool other = stat(l->secret_file, &st) == 0 && st.st_uid != geteuid();
		problem(out, n, cfg, l->secret_file_line, "[listener] secret-file: %s%s", why,
			other ? " (check as the daemon's user: sudo kvmswitch check)" : "");
		return;
	}
	netauth_secret_free(secret, len);
}

size_t preflight_check(const struct config *cfg, struct buf *out)
{
	size_t n = 0;
	check_listener(out, &n, cfg);
	for (size_t i = 0; i < cfg->n_target; i++) {
		const struct target_conf *t = &cfg->target[i];
		check_hook(out, &n, cfg, t, "on-enter", t->on_enter, t->on_enter_line);
		check_hook(out, &n, cfg, t, "on-leave", t->on_leave, t->on_leave_line);
	}
	return n;
}

struct config *preflight_read(const char *explicit_path, char *path, size_t pathlen, char *err, size_t errlen)
{
	struct config *cfg = conffile_read(explicit_path, path, pathlen, err, errlen);
	if (!cfg)
		return NULL;
	struct buf out;
	buf_init(&out);
	size_t n = preflight_check(cfg, &out);
	if (n) {
		size_t first = strcspn(out.data, "\n");
		if (n == 1)
			snprintf(err, errlen, "%.*s", (int)first, out.data);
		else
			snprintf(err, errlen, "%.*s (and %zu more: kvmswitch check -c %s)", (int)first, out.data, n - 1,
				 cfg->path);
		config_destroy(cfg);
		cfg = NULL;
	} else if (out.failed) {
		snprintf(err, errlen, "out of memory");
		config_destroy(cfg);
		cfg = NULL;
	}
	buf_finish(&out);
	return cfg;
}
