/* kvmswitch: subcommands like git's. main only wires. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "conffile.h"
#include "core/json.h"
#include "core/proto.h"
#include "daemon.h"
#include "discover.h"
#include "keynames.h"
#include "doctor.h"
#include "libvirt_xml_cmd.h"
#include "log.h"
#include "parseonly.h"
#include "preflight.h"
#include "remote.h"

static const char usage_text[] =
	"usage: kvmswitch [--version] [--help] COMMAND [ARGS]\n"
	"\n"
	"Switch keyboards and mice between the host and virtual machines.\n"
	"\n"
	"Commands:\n"
	"  run [-c FILE] [-v]    run the daemon in the foreground\n"
	"  check [-c] [FILE]     validate the configuration, and what run needs of it\n"
	"  config [-c] [FILE]    print the configuration in force, defaults filled in\n"
	"  targets [-c FILE]     the target names (the daemon's, else the config's)\n"
	"  doctor [-c FILE] [--json]\n"
	"                        check the machine's set-up; say what to do\n"
	"  list [-c FILE] [--json]\n"
	"                        input devices, whether each is taken and why\n"
	"  list --daemon [--json]\n"
	"                        the running daemon's virtual devices and inputs\n"
	"  status [--json]       the running daemon's state\n"
	"  stats [--watch]       the time each forwarded frame took, the event loop's priority\n"
	"  switch TARGET         make TARGET active\n"
	"  toggle                host <-> the last VM target\n"
	"  next | prev           the next/previous target in config order\n"
	"  release               emergency: ungrab everything, host active\n"
	"  reload                re-read the configuration (kept if invalid)\n"
	"  subscribe             print a line on every switch\n"
	"  lock | unlock         the hotkeys stop (start) switching; commands still do\n"
	"  monitor [--json]      each key typed, its name and where it went (live)\n"
	"  keys [-c FILE]        the key names a chord, host-keys and shared-keys take\n"
	"  remote [--secret-file FILE] ADDRESS COMMAND\n"
	"                        switch through a [listener] (e.g. from a guest)\n"
	"  libvirt-xml [-c FILE] [--passthrough] TARGET\n"
	"                        libvirt <input> elements for TARGET's domain\n"
	"\n"
	"The control socket is $KVMSWITCH_SOCKET, else $XDG_RUNTIME_DIR/kvmswitch.sock\n"
	"(root without XDG_RUNTIME_DIR: /run/kvmswitch/kvmswitch.sock).\n"
	"Exit status: 0 ok, 1 refused or invalid, 2 usage, 3 no daemon.\n"
	"See kvmswitch(1) and kvmswitch.conf(5).\n";

struct cmd_help {
	const char *name;
	const char *text;
};

static const struct cmd_help helps[] = {
	{ "run", "usage: kvmswitch run [-c FILE] [-v]\n"
		 "Grab the input devices and forward them to the active target until\n"
		 "SIGTERM or SIGINT. SIGHUP reloads the configuration.\n"
		 "  -c FILE   configuration file (default: $XDG_CONFIG_HOME/kvmswitch/kvmswitch.conf,\n"
		 "            then /etc/kvmswitch/kvmswitch.conf, then built-in defaults)\n"
		 "  -v        verbose (debug) log; never logs typed keys\n" },
	{ "check", "usage: kvmswitch check [-c FILE | FILE]\n"
		   "Validate the configuration and what `kvmswitch run` needs of it (the listener's\n"
		   "secret file and address, the programs the hooks start, the XKB layout): print\n"
		   "FILE: ok, or one FILE:LINE: message per problem and exit 1.\n" },
	{ "config", "usage: kvmswitch config [-c FILE | FILE]\n"
		    "Print the configuration in force in kvmswitch.conf's syntax, every setting with\n"
		    "its value (defaults filled in; settings without a value as comments).\n" },
	{ "targets", "usage: kvmswitch targets [-c FILE]\n"
		     "Print the target names, one a line, in configuration order: the running\n"
		     "daemon's, or the configuration file's when no daemon answers (or with -c).\n"
		     "For scripts and shell completion.\n" },
	{ "doctor", doctor_help },
	{ "list", "usage: kvmswitch list [-c FILE] [--json]\n"
		  "       kvmswitch list --daemon [--json]\n"
		  "List the input devices and whether the configuration takes each, and why.\n"
		  "With --daemon: the running daemon's virtual devices (target, kind, node)\n"
		  "and the inputs it holds.\n" },
	{ "status", "usage: kvmswitch status [--json]\nShow the running daemon's state.\n" },
	{ "stats", "usage: kvmswitch stats [--watch]\n"
		   "Per target and device kind, the frames forwarded and the 50th, 99th and 99.9th\n"
		   "percentile and maximum of their hop (the source frame's kernel timestamp to the\n"
		   "return of the write() that forwarded it), since start and over the last minute;\n"
		   "then how the event loop is scheduled.\n"
		   "  --watch   show them again every second\n" },
	{ "switch", "usage: kvmswitch switch TARGET\nMake TARGET active. Prints the active target.\n" },
	{ "toggle", "usage: kvmswitch toggle\nFrom the host to the last VM target, from a VM target to the host.\n" },
	{ "next", "usage: kvmswitch next\nThe next target in config order.\n" },
	{ "prev", "usage: kvmswitch prev\nThe previous target in config order.\n" },
	{ "release", "usage: kvmswitch release\nEmergency: release every key, ungrab every device, host active.\n" },
	{ "reload", "usage: kvmswitch reload\nRe-read the configuration; an invalid one is refused and the old kept.\n" },
	{ "subscribe", "usage: kvmswitch subscribe\nPrint 'active NAME', then 'switch FROM TO REASON' on every switch.\n" },
	{ "lock", "usage: kvmswitch lock\nThe cycling and target hotkeys stop switching (the emergency chord and\n"
		  "commands still work) until `kvmswitch unlock` or the lock chord.\n" },
	{ "unlock", "usage: kvmswitch unlock\nThe hotkeys switch again.\n" },
	{ "monitor", "usage: kvmswitch monitor [--json]\nShow, live, each key and button pressed and released on the devices\n"
		     "kvmswitch takes (and their motion, once a second), by the name kvmswitch.conf\n"
		     "takes, and where it went. Only for the daemon's own user. --json: one JSON\n"
		     "object per event.\n" },
	{ "keys", "usage: kvmswitch keys [-c FILE]\nList the key names a chord, host-keys and shared-keys take, with\n"
		  "QEMU's name and the XKB keysyms of the configured layout.\n" },
	{ "remote", remote_help },
	{ "libvirt-xml", virt_xml_help },
};

static int help_for(const char *cmd, FILE *out)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		if (strcmp(helps[i].name, cmd) == 0) {
			fputs(helps[i].text, out);
			return 0;
		}
	}
	fputs(usage_text, out);
	return 0;
}

struct args {
	const char *config;
	bool json;
	bool verbose;
	bool daemon; /* list --daemon */
	bool watch;  /* stats --watch */
	int first; /* index of the first positional argument */
};

static int parse_args(const char *cmd, int argc, char **argv, struct args *a, bool allow_config)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "watch", no_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	memset(a, 0, sizeof(*a));
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!allow_config)
				goto bad;
			a->config = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'd':
			if (strcmp(cmd, "list") != 0)
				goto bad;
			a->daemon = true;
			break;
		case 'w':
			if (strcmp(cmd, "stats") != 0)
				goto bad;
			a->watch = true;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			help_for(cmd, stdout);
			exit(EXIT_OK);
		default:
			goto bad;
		}
	}
	a->first = optind;
	return 0;
bad:
	help_for(cmd, stderr);
	return -1;
}

/* The configuration a command reads (-c, else the usual search), or NULL
 * after saying why. */
static struct config *load_config(const struct args *a, char *path, size_t len)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = conffile_read(a->config, path, len, err, sizeof(err));
	if (!cfg)
		fprintf(stderr, "%s\n", err);
	return cfg;
}

/* Runs a command with the configuration, found and loaded as `kvmswitch
 * run` would, then frees it; EXIT_REFUSED (said on stderr) if there is
 * none to load. */
static int with_config(const struct args *a,
		       int (*cmd)(const struct args *a, const struct config *cfg, const char *path))
{
	char path[4096];
	struct config *cfg = load_config(a, path, sizeof(path));
	if (!cfg)
		return EXIT_REFUSED;
	int rc = cmd(a, cfg, path);
	config_destroy(cfg);
	return rc;
}

static int cmd_keys(const struct args *a, const struct config *cfg, const char *path)
{
	struct keynames *kn = keynames_create(cfg->xkb_layout, cfg->xkb_variant, cfg->xkb_model, cfg->xkb_options);
	if (kn)
		keynames_list(kn, stdout);
	keynames_destroy(kn);
	return kn ? EXIT_OK : EXIT_REFUSED;
}

static int cmd_check(const struct args *a, const struct config *cfg, const char *path)
{
	struct buf problems;
	buf_init(&problems);
	size_t n = preflight_check(cfg, &problems);
	if (n)
		fputs(problems.data, stderr);
	else
		printf("%s: ok (%zu targets)\n", path[0] ? path : "built-in defaults", cfg->n_target);
	buf_finish(&problems);
	return n ? EXIT_REFUSED : EXIT_OK;
}

static int cmd_config(const struct args *a, const struct config *cfg, const char *path)
{
	struct buf out;
	buf_init(&out);
	int rc = config_print(cfg, &out);
	if (rc == 0)
		printf("# kvmswitch %s: the configuration in force, from %s\n\n%s", KVMSWITCH_VERSION,
		       path[0] ? path : "the built-in defaults", out.data);
	else
		fprintf(stderr, "kvmswitch: out of memory\n");
	buf_finish(&out);
	return rc == 0 ? EXIT_OK : EXIT_REFUSED;
}

/* Cheap and quiet, for shell completion: the daemon's names if it answers,
 * else the file's. */
static int cmd_targets(const struct args *a)
{
	struct buf names;
	buf_init(&names);
	int rc = a->config ? EXIT_NO_DAEMON : client_targets(NULL, &names);
	if (rc != EXIT_OK) {
		char path[4096];
		struct config *cfg = load_config(a, path, sizeof(path));
		if (!cfg) {
			buf_finish(&names);
			return EXIT_REFUSED;
		}
		names.len = 0;
		for (size_t i = 0; i < cfg->n_target; i++)
			buf_printf(&names, "%s\n", cfg->target[i].name);
		config_destroy(cfg);
	}
	if (names.len)
		fputs(names.data, stdout);
	buf_finish(&names);
	return EXIT_OK;
}

struct list_ctx {
	const struct config *cfg;
	bool json;
	struct json j;
	unsigned n;
};

static void list_one(void *data, const struct discovered *dev)
{
	struct list_ctx *l = data;
	struct match_verdict v;
	char kinds[128];
	match_decide(l->cfg->match, l->cfg->n_match, l->cfg->exclude, l->cfg->n_exclude, &dev->desc, &v);
	match_host_only(l->cfg->host_only, l->cfg->n_host_only, &dev->desc, &v);
	match_kinds_text(dev->desc.kinds, kinds, sizeof(kinds));
	l->n++;
	if (!l->json) {
		printf("%-20s %04x:%04x %-5s %-18s %s\n    %s\n", dev->node, dev->desc.vendor, dev->desc.product,
		       v.take ? "take" : "skip", kinds, dev->name, v.reason);
		return;
	}
	struct json *j = &l->j;
	json_object_begin(j);
	json_key(j, "node");
	json_string(j, dev->node);
	json_key(j, "name");
	json_string(j, dev->name);
	char id[16];
	snprintf(id, sizeof(id), "%04x:%04x", dev->desc.vendor, dev->desc.product);
	json_key(j, "id");
	json_string(j, id);
	json_key(j, "kinds");
	json_string(j, kinds);
	json_key(j, "take");
	json_bool(j, v.take);
	json_key(j, "reason");
	json_string(j, v.reason);
	json_key(j, "host_only");
	json_bool(j, v.host_only);
	json_key(j, "links");
	json_array_begin(j);
	for (size_t i = 0; i < dev->desc.n_links; i++)
		json_string(j, dev->desc.links[i]);
	json_array_end(j);
	json_object_end(j);
}

static int cmd_list(const struct args *a, const struct config *cfg, const char *path)
{
	struct discover *ds = discover_create();
	if (!ds) {
		fprintf(stderr, "kvmswitch: cannot connect to udev\n");
		return EXIT_REFUSED;
	}
	struct list_ctx l = { .cfg = cfg, .json = a->json };
	json_init(&l.j);
	if (a->json)
		json_array_begin(&l.j);
	discover_enumerate(ds, list_one, &l);
	if (a->json) {
		json_array_end(&l.j);
		printf("%s\n", json_text(&l.j) ? json_text(&l.j) : "[]");
	} else if (l.n == 0) {
		printf("no input devices (is udev running?)\n");
	}
	json_finish(&l.j);
	discover_destroy(ds);
	return EXIT_OK;
}

/* Before a command that takes no operand: a usage error if `bad` (an
 * operand, or an option it does not take), EXIT_OK under
 * KVMSWITCH_PARSE_ONLY (tests/docs-check), else -1: go on. */
static int no_operand(const char *cmd, bool bad)
{
	if (bad) {
		help_for(cmd, stderr);
		return EXIT_USAGE;
	}
	return parse_only() ? EXIT_OK : -1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		if (argc > 2)
			return help_for(argv[2], stdout);
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("kvmswitch %s\n", KVMSWITCH_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "remote"))
		return remote_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "libvirt-xml")) {
		log_init(LOG_WARN);
		return virt_xml_main(argc - 1, argv + 1);
	}
	struct args a;
	bool local = !strcmp(cmd, "run") || !strcmp(cmd, "check") || !strcmp(cmd, "list") || !strcmp(cmd, "config") ||
		     !strcmp(cmd, "targets") || !strcmp(cmd, "doctor") || !strcmp(cmd, "keys");
	if (parse_args(cmd, argc - 1, argv + 1, &a, local) < 0)
		return EXIT_USAGE;
	int npos = argc - 1 - a.first;
	char **pos = argv + 1 + a.first;

	int rc;
	if (!strcmp(cmd, "run")) {
		if ((rc = no_operand(cmd, npos)) >= 0)
			return rc;
		log_init(a.verbose ? LOG_DEBUG : LOG_INFO);
		struct daemon_options opt = { .config_path = a.config };
		return daemon_run(&opt);
	}
	if (!strcmp(cmd, "list") && a.daemon) {
		if ((rc = no_operand(cmd, npos || a.config)) >= 0)
			return rc;
		struct proto_request lreq = { .cmd = PROTO_LIST };
		return client_request(NULL, &lreq, a.json);
	}
	if (!strcmp(cmd, "stats")) {
		if ((rc = no_operand(cmd, npos || a.json)) >= 0)
			return rc;
		return client_stats(NULL, a.watch);
	}
	if (!strcmp(cmd, "keys")) {
		if ((rc = no_operand(cmd, npos)) >= 0)
			return rc;
		log_init(LOG_WARN);
		return with_config(&a, cmd_keys);
	}
	/* check and config take the file with or without -c. */
	if ((!strcmp(cmd, "check") || !strcmp(cmd, "config")) && npos == 1 && !a.config) {
		a.config = pos[0];
		npos = 0;
	}
	if (!strcmp(cmd, "check") || !strcmp(cmd, "list") || !strcmp(cmd, "config") || !strcmp(cmd, "targets")) {
		if ((rc = no_operand(cmd, npos)) >= 0)
			return rc;
		log_init(LOG_WARN);
		return !strcmp(cmd, "check")	? with_config(&a, cmd_check)
		       : !strcmp(cmd, "list")	? with_config(&a, cmd_list)
		       : !strcmp(cmd, "config") ? with_config(&a, cmd_config)
						: cmd_targets(&a);
	}
	if (!strcmp(cmd, "doctor")) {
		if ((rc = no_operand(cmd, npos)) >= 0)
			return rc;
		log_init(LOG_ERROR);
		return doctor_run(a.config, a.json);
	}
	struct proto_request req = { 0 };
	if (proto_cmd_from_name(cmd, &req.cmd) < 0 || req.cmd == PROTO_PING || req.cmd == PROTO_VERSION) {
		fprintf(stderr, "kvmswitch: unknown command '%s'\n\n%s", cmd, usage_text);
		return EXIT_USAGE;
	}
	if (npos != (proto_cmd_takes_arg(req.cmd) ? 1 : 0)) {
		help_for(cmd, stderr);
		return EXIT_USAGE;
	}
	if (npos) {
		if (strlen(pos[0]) >= sizeof(req.arg)) {
			fprintf(stderr, "kvmswitch: target name too long\n");
			return EXIT_USAGE;
		}
		snprintf(req.arg, sizeof(req.arg), "%s", pos[0]);
	}
	return client_request(NULL, &req, a.json);
}
