/* `kvmswitch libvirt-xml`: prints the libvirt <input> elements that give an
 * evdev target's domain kvmswitch's virtual devices (libvirt_xml_cmd.h). */
#include "libvirt_xml_cmd.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conffile.h"
#include "core/config.h"
#include "core/virtxml.h"

const char virt_xml_help[] =
	"usage: kvmswitch libvirt-xml [-c FILE] [--passthrough | --evdev] TARGET\n"
	"Print the libvirt <input> elements that give evdev target TARGET's domain\n"
	"kvmswitch's keyboard and pointer, for `virsh edit DOMAIN` (inside <devices>).\n"
	"They name the stable links /dev/input/by-id/kvmswitch-TARGET-keyboard and\n"
	"-pointer (kvmswitch's udev rules), never /dev/input/eventN.\n"
	"  --evdev        <input type='evdev'>: QEMU input-linux (the default, or the\n"
	"                 target's libvirt-input)\n"
	"  --passthrough  <input type='passthrough' bus='virtio'>: virtio-input-host\n"
	"  -c FILE        configuration file\n"
	"See docs/libvirt.md.\n";

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
	char path[PATH_MAX], err[CONFIG_ERR_MAX];
	struct config *cfg = conffile_read(config, path, sizeof(path), err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
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
	char buf[8192];
	if (virtxml_inputs(buf, sizeof(buf), cfg, t, type >= 0 ? (enum libvirt_input)type : tc->libvirt_input) < 0) {
		fprintf(stderr, "kvmswitch: the XML does not fit\n");
		goto out;
	}
	fputs(buf, stdout);
	char link[PATH_MAX];
	virtxml_link_path(tc->name, VK_KEYBOARD, link, sizeof(link));
	if (access(link, F_OK) < 0)
		fprintf(stderr,
			"kvmswitch: note: %s does not exist now; it appears while kvmswitch runs, with its udev "
			"rules installed (make install). Start kvmswitch before the domain.\n",
			link);
	rc = 0;
out:
	config_destroy(cfg);
	return rc;
}
