#include "conffile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keynames.h"

#define CONFFILE_MAX (1024 * 1024)

/* The file to read, or "" when none exists. */
static void find(const char *explicit_path, char *out, size_t len)
{
	if (explicit_path) {
		snprintf(out, len, "%s", explicit_path);
		return;
	}
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char user[4096] = "";
	if (xdg && *xdg)
		snprintf(user, sizeof(user), "%s/kvmswitch/kvmswitch.conf", xdg);
	else if (home && *home)
		snprintf(user, sizeof(user), "%s/.config/kvmswitch/kvmswitch.conf", home);
	if (*user && access(user, F_OK) == 0)
		snprintf(out, len, "%s", user);
	else if (access(CONFFILE_SYSTEM, F_OK) == 0)
		snprintf(out, len, "%s", CONFFILE_SYSTEM);
	else
		out[0] = '\0';
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		fclose(f);
		return NULL;
	}
	/* Its hooks run as this user and its [listener] opens a port: a file
	 * that someone else may change is refused (docs/SECURITY.md). */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_uid != getuid() && st.st_uid != 0)) {
		snprintf(err, errlen,
			 "%s: %s (owner uid %u, mode %04o); its hooks would run as this user: make it owned by "
			 "you or root and writable by the owner only (chmod go-w)",
			 path, st.st_mode & (S_IWGRP | S_IWOTH) ? "others may write to it" : "another user owns it",
			 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		fclose(f);
		return NULL;
	}
	char *buf = malloc(CONFFILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, CONFFILE_MAX + 1, f) : 0;
	int failed = ferror(f);
	fclose(f);
	if (!buf || failed) {
		snprintf(err, errlen, "%s: cannot read it", path);
		free(buf);
		return NULL;
	}
	if (n > CONFFILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, CONFFILE_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The xkb-* settings, if any, name a keymap libxkbcommon can compile. */
static int xkb_check(const struct config *cfg, struct keynames *kn, char *err, size_t errlen)
{
	const struct {
		const char *key, *value;
	} set[] = { { "xkb-layout", cfg->xkb_layout },
		    { "xkb-variant", cfg->xkb_variant },
		    { "xkb-model", cfg->xkb_model },
		    { "xkb-options", cfg->xkb_options } };
	char names[512] = "", why[256];
	size_t off = 0;
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		if (set[i].value && off < sizeof(names))
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s = %s", off ? ", " : "", set[i].key,
						set[i].value);
	if (!off || keynames_compile(kn, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s:%d: no such XKB keymap: %s (libxkbcommon: %s); the names are listed in "
		 "/usr/share/X11/xkb/rules/evdev.lst", cfg->path, cfg->xkb_line, names, why);
	return -1;
}

/* Reads and parses `path` ("" for the built-in defaults) and resolves its
 * hotkeys. */
static struct config *load(const char *path, char *err, size_t errlen)
{
	struct config *cfg;
	if (!path || !*path) {
		cfg = config_default();
		if (!cfg) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
	} else {
		size_t len;
		char *text = read_file(path, &len, err, errlen);
		if (!text)
			return NULL;
		cfg = config_parse(text, len, path, err, errlen);
		free(text);
		if (!cfg)
			return NULL;
	}
	struct keynames *kn = keynames_create(cfg->xkb_layout, cfg->xkb_variant, cfg->xkb_model, cfg->xkb_options);
	if (!kn) {
		snprintf(err, errlen, "out of memory");
		config_destroy(cfg);
		return NULL;
	}
	/* A layout that does not exist is the setting's fault, not that of the
	 * first hotkey that needs it: say so in one line. */
	if (xkb_check(cfg, kn, err, errlen) < 0) {
		keynames_destroy(kn);
		config_destroy(cfg);
		return NULL;
	}
	struct keyname_resolver res = keynames_resolver(kn);
	int rc = config_resolve_keys(cfg, &res, err, errlen);
	keynames_destroy(kn);
	if (rc < 0) {
		config_destroy(cfg);
		return NULL;
	}
	return cfg;
}

struct config *conffile_read(const char *explicit_path, char *path, size_t pathlen, char *err, size_t errlen)
{
	find(explicit_path, path, pathlen);
	return load(path, err, errlen);
}
