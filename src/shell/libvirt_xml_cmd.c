/* `kvmswitch libvirt-xml`: prints the libvirt <input> elements that give an
 * evdev target's domain kvmswitch's virtual devices (libvirt_xml_cmd.h).
 *
 * The paths must work for the way kvmswitch runs: the stable links
 * /dev/input/by-id/kvmswitch-TARGET-KIND exist only with kvmswitch's udev
 * rule. When a daemon answers, its configuration and its devices decide:
 * the link where it points at the daemon's device, else the daemon's event
 * node, with a note on stderr saying why and what to do. */
#include "libvirt_xml_cmd.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "conffile.h"
#include "core/config.h"
#include "core/virtxml.h"
#include "ctl.h"
#include "parseonly.h"

const char virt_xml_help[] =
	"usage: kvmswitch libvirt-xml [-c FILE] [--passthrough | --evdev] TARGET\n"
	"Print the libvirt <input> elements that give evdev target TARGET's domain\n"
	"kvmswitch's keyboard and pointer, for `virsh edit DOMAIN` (inside <devices>).\n"
	"They name the stable links /dev/input/by-id/kvmswitch-TARGET-keyboard and\n"
	"-pointer (kvmswitch's udev rules). When kvmswitch runs without those rules,\n"
	"they name its event nodes /dev/input/eventN and say so on stderr.\n"
	"With a running daemon, its configuration is used (unless -c is given).\n"
	"  --evdev        <input type='evdev'>: QEMU input-linux (the default, or the\n"
	"                 target's libvirt-input)\n"
	"  --passthrough  <input type='passthrough' bus='virtio'>: virtio-input-host\n"
	"  -c FILE        configuration file\n"
	"See docs/libvirt.md.\n";

/* Where kvmswitch's udev rule may be installed. */
static const char *const rule_paths[] = {
	"/etc/udev/rules.d/71-kvmswitch.rules",	    "/run/udev/rules.d/71-kvmswitch.rules",
	"/usr/lib/udev/rules.d/71-kvmswitch.rules", "/lib/udev/rules.d/71-kvmswitch.rules",
	"/usr/local/lib/udev/rules.d/71-kvmswitch.rules",
};

static bool rule_installed(void)
{
	for (size_t i = 0; i < sizeof(rule_paths) / sizeof(rule_paths[0]); i++)
		if (access(rule_paths[i], F_OK) == 0)
			return true;
	return false;
}

static const char *const rules_howto =
	"install kvmswitch's udev rules (sudo make install, or copy udev/71-kvmswitch.rules to /etc/udev/rules.d), "
	"then: sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=input";

/* The daemon's status, or NULL (why in `why`). */
static struct json_object *daemon_status(char *sock, size_t socklen, char *why, size_t whylen)
{
	struct proto_request req = { .cmd = PROTO_STATUS };
	char *text;
	text = NULL;
	if (ctl_default_path(sock, socklen, why, whylen) < 0)
		return NULL;
	int rc = client_fetch(sock, &req, &text, why, whylen);
	if (rc != EXIT_OK) {
		if (rc == EXIT_REFUSED && text)
			snprintf(why, whylen, "the daemon at %.300s answered: %.300s", sock, text);
		free(text);
		return NULL;
	}
	struct json_object *st = json_tokener_parse(text);
	free(text);
	if (!st || !json_object_is_type(st, json_type_object)) {
		snprintf(why, whylen, "the daemon at %.300s sent a status that is not a JSON object", sock);
		json_object_put(st);
		return NULL;
	}
	return st;
}

/* The daemon's node of target's device `kind`, or NULL. */
static const char *daemon_node(struct json_object *st, const char *target, const char *kind)
{
	struct json_object *ts, *t, *v, *devs, *node;
	if (!st || !json_object_object_get_ex(st, "targets", &ts) || !json_object_is_type(ts, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(ts); i++) {
		t = json_object_array_get_idx(ts, i);
		if (!json_object_object_get_ex(t, "name", &v) || strcmp(json_object_get_string(v), target) != 0)
			continue;
		if (json_object_object_get_ex(t, "devices", &devs) && json_object_object_get_ex(devs, kind, &node) &&
		    json_object_is_type(node, json_type_string))
			return json_object_get_string(node);
		return NULL;
	}
	return NULL;
}

int virt_xml_main(int argc, char **argv)
{
	const char *config = NULL, *target = NULL;
	int type = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--passthrough")) {
			type = LIBVIRT_INPUT_PASSTHROUGH;
		} else if (!strcmp(a, "--evdev")) {
			type = LIBVIRT_INPUT_EVDEV;
		} else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
			config = argv[++i];
		} else if (!strncmp(a, "--config=", 9)) {
			config = a + 9;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(virt_xml_help, stdout);
			return 0;
		} else if (a[0] == '-' || target) {
			fputs(virt_xml_help, stderr);
			return 2;
		} else {
			target = a;
		}
	}
	if (!target) {
		fputs(virt_xml_help, stderr);
		return 2;
	}
	if (parse_only())
		return 0;

	/* A running daemon: its configuration file and its devices. */
	char sock[PATH_MAX], why[1024];
	struct json_object *st = daemon_status(sock, sizeof(sock), why, sizeof(why));
	struct json_object *cv = NULL;
	if (st && !config) {
		/* "" is conffile_read's "the built-in defaults". */
		config = json_object_object_get_ex(st, "config", &cv) && json_object_is_type(cv, json_type_string)
				 ? json_object_get_string(cv)
				 : "";
	}
	char path[PATH_MAX], err[CONFIG_ERR_MAX];
	struct config *cfg = conffile_read(config, path, sizeof(path), err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s%s\n", err, st && cv ? " (the running daemon's configuration)" : "");
		json_object_put(st);
		return 1;
	}
	int rc = 1;
	int t = config_target_index(cfg, target);
	if (t < 0) {
		fprintf(stderr, "kvmswitch: no target named '%s' in %s\n", target, path[0] ? path : "the built-in defaults");
		goto out;
	}
	const struct target_conf *tc = &cfg->target[t];
	if (tc->type != TARGET_EVDEV) {
		fprintf(stderr, "kvmswitch: target '%s' is of type %s: only evdev targets give a domain kvmswitch's "
				"virtual devices%s\n",
			target, target_type_name(tc->type),
			tc->type == TARGET_USB ? " (a usb target's devices are attached by kvmswitch itself)" : "");
		goto out;
	}

	/* Per device: the link if it leads to the daemon's device (or, with no
	 * daemon, if the rule that makes it is installed), else the node. */
	const char *nodes[VK_COUNT] = { NULL };
	bool use_node = false, link_elsewhere = false;
	char link[VK_COUNT][PATH_MAX], real[PATH_MAX];
	for (int k = 0; k < VK_COUNT; k++) {
		virtxml_link_path(tc->name, (enum vkind)k, link[k], sizeof(link[k]));
		const char *node = daemon_node(st, tc->name, vkind_name((enum vkind)k));
		if (!node)
			continue;
		if (realpath(link[k], real) && !strcmp(real, node))
			continue;
		link_elsewhere |= access(link[k], F_OK) == 0;
		nodes[k] = node;
		use_node = true;
	}
	char buf[8192];
	if (virtxml_inputs(buf, sizeof(buf), cfg, t, type >= 0 ? (enum libvirt_input)type : tc->libvirt_input, nodes) <
	    0) {
		fprintf(stderr, "kvmswitch: the XML does not fit\n");
		goto out;
	}
	fputs(buf, stdout);
	if (use_node) {
		fprintf(stderr,
			"kvmswitch: note: %s %s, so these elements name the event nodes that the running kvmswitch "
			"(%s) has now, e.g. %s. They change when kvmswitch restarts (except a restart under systemd) "
			"or the machine reboots. For the stable links: %s; then run kvmswitch libvirt-xml again.\n",
			link[VK_KEYBOARD],
			link_elsewhere ? "leads to another device than the daemon's" :
					 "does not exist (kvmswitch's udev rule is not installed or not loaded)",
			sock, nodes[VK_KEYBOARD] ? nodes[VK_KEYBOARD] : nodes[VK_POINTER], rules_howto);
	} else if (!st && !rule_installed()) {
		fprintf(stderr,
			"kvmswitch: warning: these elements name %s and -pointer, which exist only with kvmswitch's "
			"udev rules, and they are not installed; a domain defined with them does not start "
			"(\"unable to stat\"). Either %s, or start kvmswitch and run kvmswitch libvirt-xml again as "
			"the same user to get its event nodes (%s).\n",
			link[VK_KEYBOARD], rules_howto, why);
	} else if (access(link[VK_KEYBOARD], F_OK) < 0) {
		fprintf(stderr,
			"kvmswitch: note: %s does not exist now; it appears while kvmswitch runs (%s). Start "
			"kvmswitch before the domain.\n",
			link[VK_KEYBOARD], st ? "it runs, but has no such device: reload it?" : why);
	}
	rc = 0;
out:
	config_destroy(cfg);
	json_object_put(st);
	return rc;
}
