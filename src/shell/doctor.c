/* kvmswitch doctor: the findings and how they are printed, and the checks
 * of the machine itself (configuration, daemon, uinput, udev and its
 * rules). The devices are doctor_devices.c's, libvirt doctor_libvirt.c's. */
#include "doctor.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "conffile.h"
#include "ctl.h"
#include "doctor_internal.h"
#include "preflight.h"

const char doctor_help[] =
	"usage: kvmswitch doctor [-c FILE] [--json]\n"
	"Check what kvmswitch needs of this machine and say what to do: the configuration,\n"
	"the daemon's socket, /dev/uinput, udev and kvmswitch's rules, who can read the\n"
	"guest devices and which process (QEMU) and libvirt domain holds them, and for each\n"
	"physical device what a guest loses on QEMU's input-linux path. One line per finding:\n"
	"ok, warn or fail, and what to do. Run it as root to see every process.\n"
	"  -c FILE   configuration file (default: as kvmswitch run)\n"
	"  --json    the findings as JSON, for scripts\n"
	"Exit status: 0 when nothing failed, 1 otherwise.\n";

#define RULES_NAME "71-kvmswitch.rules"
#define UDEV_FIX "sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=input"

static char *vformat(const char *fmt, va_list ap)
{
	char *s;
	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

void doctor_add(struct doctor *d, enum doctor_status st, const char *check, const char *fix, const char *fmt, ...)
{
	if (d->n_f == d->cap_f) {
		size_t cap = d->cap_f ? d->cap_f * 2 : 32;
		struct finding *f = realloc(d->f, cap * sizeof(*f));
		if (!f)
			return;
		d->f = f;
		d->cap_f = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	struct finding *f = &d->f[d->n_f];
	*f = (struct finding){ .status = st, .check = strdup(check), .message = vformat(fmt, ap),
			       .fix = fix ? strdup(fix) : NULL };
	va_end(ap);
	if (f->check && f->message)
		d->n_f++;
}

void doctor_detail(struct doctor *d, const char *fmt, ...)
{
	if (!d->n_f)
		return;
	struct finding *f = &d->f[d->n_f - 1];
	char **more = realloc(f->detail, (f->n_detail + 1) * sizeof(*more));
	if (!more)
		return;
	f->detail = more;
	va_list ap;
	va_start(ap, fmt);
	char *line = vformat(fmt, ap);
	va_end(ap);
	if (line)
		f->detail[f->n_detail++] = line;
}

static const char *status_word(enum doctor_status st)
{
	return st == DOCTOR_OK ? "ok" : st == DOCTOR_WARN ? "warn" : "fail";
}

/* ---- the machine ---- */

static void check_config(struct doctor *d, const char *config_path, struct config **cfg)
{
	char path[4096], err[CONFIG_ERR_MAX];
	*cfg = conffile_read(config_path, path, sizeof(path), err, sizeof(err));
	if (!*cfg) {
		doctor_add(d, DOCTOR_FAIL, "config", "correct it (kvmswitch.conf(5)); kvmswitch check says the same",
			   "%s; the checks below use the built-in defaults", err);
		*cfg = config_default();
		return;
	}
	struct buf problems;
	buf_init(&problems);
	if (preflight_check(*cfg, &problems)) {
		for (char *line = problems.data, *nl; line && *line; line = nl + 1) {
			nl = strchr(line, '\n');
			*nl = '\0';
			doctor_add(d, DOCTOR_FAIL, "config", "kvmswitch run refuses to start with it: correct it", "%s", line);
		}
	} else {
		char names[512] = "";
		size_t off = 0;
		for (size_t t = 0; t < (*cfg)->n_target && off < sizeof(names); t++)
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s (%s)", t ? ", " : "",
						(*cfg)->target[t].name, target_type_name((*cfg)->target[t].type));
		doctor_add(d, DOCTOR_OK, "config", NULL, "%s: %zu targets: %s", path[0] ? path : "built-in defaults",
			   (*cfg)->n_target, names);
	}
	buf_finish(&problems);
}

/* A daemon at `path`: 1 if it answers (a finding added), 0 if nothing is
 * there, -1 if only its owner may reach it (errno EACCES). */
static int probe_daemon(struct doctor *d, const char *path, const char *cli_path)
{
	char err[4400], *text;
	struct proto_request req = { .cmd = PROTO_STATUS };
	int rc = client_fetch(path, &req, &text, err, sizeof(err));
	int e = errno;
	if (rc == EXIT_NO_DAEMON) {
		free(text);
		return e == EACCES ? -1 : 0;
	}
	d->daemon_answers = true;
	if (rc != EXIT_OK) {
		doctor_add(d, DOCTOR_WARN, "daemon", "use the daemon's user: sudo kvmswitch status",
			   "a daemon answers at %s but refuses this user: %s", path, text ? text : err);
		free(text);
		return 1;
	}
	struct json_object *st = json_tokener_parse(text);
	struct json_object *v, *pid, *conf;
	const char *version = st && json_object_object_get_ex(st, "version", &v) ? json_object_get_string(v) : "?";
	long long p = st && json_object_object_get_ex(st, "pid", &pid) ? (long long)json_object_get_int64(pid) : 0;
	const char *config = st && json_object_object_get_ex(st, "config", &conf) ? json_object_get_string(conf) : "";
	if (!strcmp(path, cli_path)) {
		doctor_add(d, DOCTOR_OK, "daemon", NULL, "kvmswitch %s (pid %lld) answers at %s; its configuration: %s",
			   version, p, path, *config ? config : "the built-in defaults");
	} else {
		char fix[4400];
		snprintf(fix, sizeof(fix), "export KVMSWITCH_SOCKET=%s%s", path,
			 !strcmp(path, CTL_ROOT_PATH) ? ", or run the commands with sudo (root without XDG_RUNTIME_DIR "
							"uses " CTL_ROOT_PATH ")" : "");
		doctor_add(d, DOCTOR_WARN, "daemon", fix,
			   "no daemon at %s, where the commands look, but kvmswitch %s (pid %lld) answers at %s", cli_path,
			   version, p, path);
	}
	json_object_put(st);
	free(text);
	return 1;
}

/* Where the commands look for the daemon, and where else it may be: a
 * desktop user whose daemon is the system unit's, root with a session. */
static void check_daemon(struct doctor *d)
{
	char path[4096], err[512];
	if (ctl_default_path(path, sizeof(path), err, sizeof(err)) < 0) {
		doctor_add(d, DOCTOR_FAIL, "daemon", "export KVMSWITCH_SOCKET=PATH (the daemon logs its path at start)", "%s",
			   err);
		return;
	}
	int here = probe_daemon(d, path, path);
	if (here > 0)
		return;
	if (here < 0) {
		doctor_add(d, DOCTOR_WARN, "daemon", "run the commands as the daemon's user (sudo kvmswitch status)",
			   "this user may not use %s (permission denied): it is another user's", path);
		d->daemon_answers = true;
		return;
	}
	/* The user unit's socket, when KVMSWITCH_SOCKET points elsewhere. */
	const char *env = getenv("KVMSWITCH_SOCKET"), *rt = getenv("XDG_RUNTIME_DIR");
	char user[4096];
	if (env && *env && rt && *rt) {
		snprintf(user, sizeof(user), "%s/kvmswitch.sock", rt);
		if (strcmp(user, path) != 0 && probe_daemon(d, user, path) > 0)
			return;
	}
	/* The system unit's socket, in a directory only root may enter. */
	if (strcmp(path, CTL_ROOT_PATH) != 0) {
		int there = probe_daemon(d, CTL_ROOT_PATH, path);
		if (there > 0)
			return;
		if (there < 0) {
			doctor_add(d, DOCTOR_WARN, "daemon",
				   "use sudo for the commands (sudo kvmswitch status: root without XDG_RUNTIME_DIR uses "
				   CTL_ROOT_PATH "), or run the daemon as your user (docs/permissions.md)",
				   "no daemon at %s, where the commands look; only root may look into /run/kvmswitch, "
				   "where a daemon run as root (the system unit) has its socket",
				   path);
			d->daemon_answers = true;
			return;
		}
	}
	doctor_add(d, DOCTOR_FAIL, "daemon",
		   "start it: sudo systemctl enable --now kvmswitch (as root), or systemctl --user enable --now "
		   "kvmswitch, or kvmswitch run in a terminal",
		   "no daemon answers at %s", path);
}

static void check_uinput(struct doctor *d)
{
	struct stat st;
	if (stat("/dev/uinput", &st) < 0) {
		bool loaded = access("/sys/module/uinput", F_OK) == 0;
		doctor_add(d, DOCTOR_FAIL, "uinput",
			   loaded ? "is devtmpfs mounted on /dev? (findmnt /dev)"
				  : "sudo modprobe uinput; to load it at every boot: echo uinput | sudo tee "
				    "/etc/modules-load.d/uinput.conf",
			   "no /dev/uinput (%s): kvmswitch cannot create its devices",
			   loaded ? "the uinput module is loaded" : "the uinput module is not loaded");
	} else if (!S_ISCHR(st.st_mode)) {
		doctor_add(d, DOCTOR_FAIL, "uinput", "sudo rm /dev/uinput && sudo modprobe -r uinput && sudo modprobe uinput",
			   "/dev/uinput is not a character device");
	} else if (access("/dev/uinput", W_OK) == 0) {
		doctor_add(d, DOCTOR_OK, "uinput", NULL, "/dev/uinput is there and writable");
	} else if (d->daemon_answers) {
		doctor_add(d, DOCTOR_OK, "uinput", NULL,
			   "/dev/uinput is there (not writable by you, uid %u: the daemon's user needs it)",
			   (unsigned)geteuid());
	} else {
		doctor_add(d, DOCTOR_WARN, "uinput",
			   "run the daemon as root (sudo systemctl enable --now kvmswitch), or as your user with the "
			   "uaccess rule (docs/permissions.md)",
			   "/dev/uinput is not writable by you (uid %u): kvmswitch run as you cannot create its devices",
			   (unsigned)geteuid());
	}
}

static void check_udev(struct doctor *d)
{
	if (access("/run/udev/control", F_OK) == 0)
		doctor_add(d, DOCTOR_OK, "udev", NULL, "systemd-udevd is running");
	else
		doctor_add(d, DOCTOR_FAIL, "udev", "sudo systemctl start systemd-udevd",
			   "udev is not running (no /run/udev/control): kvmswitch finds its devices through it");
}

/* Where udev reads rules from (udev(7)). */
static const char *const rules_dirs[] = { "/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d",
					  "/lib/udev/rules.d" };

static bool find_rules(const char *name, char *path, size_t len)
{
	for (size_t i = 0; i < sizeof(rules_dirs) / sizeof(rules_dirs[0]); i++) {
		snprintf(path, len, "%s/%s", rules_dirs[i], name);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

static void check_rules(struct doctor *d)
{
	char path[256], optin[256];
	if (!find_rules(RULES_NAME, path, sizeof(path))) {
		doctor_add(d, d->n_guest ? DOCTOR_FAIL : DOCTOR_WARN, "udev-rules",
			   "sudo make install PREFIX=/usr (or sudo install -m644 udev/" RULES_NAME
			   " /etc/udev/rules.d/), then " UDEV_FIX,
			   RULES_NAME " is not installed: the host's desktop also reads the VM targets' devices (what "
				      "you type for a VM reaches the host), group input may read them, and there are no "
				      "/dev/input/by-id/kvmswitch-* links");
		return;
	}
	size_t stale = 0;
	for (size_t i = 0; i < d->n_guest; i++)
		stale += !d->guest[i].rules_applied;
	if (stale) {
		doctor_add(d, DOCTOR_FAIL, "udev-rules", UDEV_FIX, "%s is installed but not applied to %zu of kvmswitch's "
			   "VM devices (udev read it after they appeared)", path, stale);
		for (size_t i = 0; i < d->n_guest; i++)
			if (!d->guest[i].rules_applied)
				doctor_detail(d, "%s: kvmswitch %s %s", d->guest[i].node, d->guest[i].target, d->guest[i].kind);
		return;
	}
	bool uaccess = find_rules("70-kvmswitch-uaccess.rules", optin, sizeof(optin));
	bool group = !uaccess && find_rules("72-kvmswitch-group.rules", optin, sizeof(optin));
	doctor_add(d, DOCTOR_OK, "udev-rules", NULL, "%s is installed%s%s%s", path,
		   uaccess || group ? " (and the opt-in " : "", uaccess || group ? optin : "", uaccess || group ? ")" : "");
}

/* ---- output ---- */

static void print_text(const struct doctor *d)
{
	size_t count[3] = { 0 };
	for (size_t i = 0; i < d->n_f; i++) {
		const struct finding *f = &d->f[i];
		count[f->status]++;
		printf("%-4s  %s: %s%s%s\n", status_word(f->status), f->check, f->message, f->fix ? "; fix: " : "",
		       f->fix ? f->fix : "");
		for (size_t l = 0; l < f->n_detail; l++)
			printf("        %s\n", f->detail[l]);
	}
	printf("%zu ok, %zu warn, %zu fail\n", count[DOCTOR_OK], count[DOCTOR_WARN], count[DOCTOR_FAIL]);
}

static void print_json(const struct doctor *d)
{
	size_t count[3] = { 0 };
	struct json_object *top = json_object_new_object(), *all = json_object_new_array();
	for (size_t i = 0; i < d->n_f; i++) {
		const struct finding *f = &d->f[i];
		struct json_object *o = json_object_new_object(), *details = json_object_new_array();
		count[f->status]++;
		json_object_object_add(o, "status", json_object_new_string(status_word(f->status)));
		json_object_object_add(o, "check", json_object_new_string(f->check));
		json_object_object_add(o, "message", json_object_new_string(f->message));
		json_object_object_add(o, "fix", f->fix ? json_object_new_string(f->fix) : NULL);
		for (size_t l = 0; l < f->n_detail; l++)
			json_object_array_add(details, json_object_new_string(f->detail[l]));
		json_object_object_add(o, "details", details);
		json_object_array_add(all, o);
	}
	json_object_object_add(top, "findings", all);
	for (int st = DOCTOR_OK; st <= DOCTOR_FAIL; st++)
		json_object_object_add(top, status_word((enum doctor_status)st), json_object_new_int64((int64_t)count[st]));
	printf("%s\n", json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(top);
}

int doctor_run(const char *config_path, bool json)
{
	struct doctor *d = calloc(1, sizeof(*d));
	if (!d) {
		fprintf(stderr, "kvmswitch: out of memory\n");
		return 1;
	}
	struct config *cfg;
	check_config(d, config_path, &cfg);
	d->cfg = cfg;
	check_daemon(d);
	check_uinput(d);
	check_udev(d);
	doctor_find_guests(d);
	check_rules(d);
	doctor_check_libvirt(d);
	doctor_check_guests(d);
	doctor_check_inputs(d);
	if (json)
		print_json(d);
	else
		print_text(d);
	bool failed = false;
	for (size_t i = 0; i < d->n_f; i++) {
		failed |= d->f[i].status == DOCTOR_FAIL;
		free(d->f[i].check);
		free(d->f[i].message);
		free(d->f[i].fix);
		for (size_t l = 0; l < d->f[i].n_detail; l++)
			free(d->f[i].detail[l]);
		free(d->f[i].detail);
	}
	free(d->f);
	free(d);
	config_destroy(cfg);
	return failed ? 1 : 0;
}
