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
#include "log.h"
#include "virt.h"

static const char usage_text[] =
	"usage: kvmswitch [--version] [--help] COMMAND [ARGS]\n"
	"\n"
	"Switch keyboards and mice between the host and virtual machines.\n"
	"\n"
	"Commands:\n"
	"  run [-c FILE] [-v]    run the daemon in the foreground\n"
	"  check [-c FILE]       validate the configuration\n"
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
	{ "check", "usage: kvmswitch check [-c FILE]\n"
		   "Validate the configuration; print FILE:LINE: message and exit 1 if it is invalid.\n" },
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
	{ "remote", client_remote_help },
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

static int cmd_check(const struct args *a)
{
	char path[4096], err[CONFIG_ERR_MAX];
	conffile_find(a->config, path, sizeof(path));
	struct config *cfg = conffile_load(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return EXIT_REFUSED;
	}
	printf("%s: ok (%zu targets)\n", path[0] ? path : "built-in defaults", cfg->n_target);
	config_destroy(cfg);
	return EXIT_OK;
}

struct list_ctx {
	const struct config *cfg;
	bool json;
	struct json j;
	unsigned n;
};

static const char *kinds_text(unsigned k, char *buf, size_t len)
{
	static const char *const names[] = { "keyboard", "key", "mouse", "tablet", "touchpad", "touchscreen", "joystick", "switch" };
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < 8; i++)
		if (k & (1u << i))
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", names[i]);
	if (!off)
		snprintf(buf, len, "-");
	return buf;
}

static void list_one(void *data, const struct discovered *dev)
{
	struct list_ctx *l = data;
	struct match_verdict v;
	char kinds[128];
	match_decide(l->cfg->match, l->cfg->n_match, l->cfg->exclude, l->cfg->n_exclude, &dev->desc, &v);
	kinds_text(dev->desc.kinds, kinds, sizeof(kinds));
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
	json_key(j, "links");
	json_array_begin(j);
	for (size_t i = 0; i < dev->desc.n_links; i++)
		json_string(j, dev->desc.links[i]);
	json_array_end(j);
	json_object_end(j);
}

static int cmd_list(const struct args *a)
{
	char path[4096], err[CONFIG_ERR_MAX];
	conffile_find(a->config, path, sizeof(path));
	struct config *cfg = conffile_load(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return EXIT_REFUSED;
	}
	struct discover *ds = discover_create();
	if (!ds) {
		fprintf(stderr, "kvmswitch: cannot connect to udev\n");
		config_destroy(cfg);
		return EXIT_REFUSED;
	}
	struct list_ctx l = { .cfg = cfg, .json = a->json };
	json_init(&l.j);
	if (a->json)
		json_array_begin(&l.j);
	discover_enumerate(ds, list_one, &l);
	if (a->json) {
		json_array_end(&l.j);
		printf("%s\n", l.j.buf ? l.j.buf : "[]");
	} else if (l.n == 0) {
		printf("no input devices (is udev running?)\n");
	}
	json_finish(&l.j);
	discover_destroy(ds);
	config_destroy(cfg);
	return EXIT_OK;
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
		return client_remote(argc - 1, argv + 1);
	if (!strcmp(cmd, "libvirt-xml")) {
		log_init(LOG_WARN);
		return virt_xml_main(argc - 1, argv + 1);
	}
	struct args a;
	bool local = !strcmp(cmd, "run") || !strcmp(cmd, "check") || !strcmp(cmd, "list");
	if (parse_args(cmd, argc - 1, argv + 1, &a, local) < 0)
		return EXIT_USAGE;
	int npos = argc - 1 - a.first;
	char **pos = argv + 1 + a.first;

	if (!strcmp(cmd, "run")) {
		if (npos) {
			help_for(cmd, stderr);
			return EXIT_USAGE;
		}
		log_init(a.verbose ? LOG_DEBUG : LOG_INFO);
		struct daemon_options opt = { .config_path = a.config };
		return daemon_run(&opt);
	}
	if (!strcmp(cmd, "list") && a.daemon) {
		if (npos || a.config) {
			help_for(cmd, stderr);
			return EXIT_USAGE;
		}
		struct proto_request lreq = { .cmd = PROTO_LIST };
		return client_request(NULL, &lreq, a.json);
	}
	if (!strcmp(cmd, "stats")) {
		if (npos || a.json) {
			help_for(cmd, stderr);
			return EXIT_USAGE;
		}
		return client_stats(NULL, a.watch);
	}
	if (!strcmp(cmd, "check") || !strcmp(cmd, "list")) {
		if (npos) {
			help_for(cmd, stderr);
			return EXIT_USAGE;
		}
		log_init(LOG_WARN);
		return cmd[0] == 'c' ? cmd_check(&a) : cmd_list(&a);
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
