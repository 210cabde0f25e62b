/* kvmswitch config: config_print() writes the configuration in force in the
 * file's own syntax, and parsing what it wrote gives the same configuration
 * (config_eq.c compares every field), for the defaults, for a file that
 * sets every key (quoting included), and for lines at the length limit. */
#include <stdlib.h>

#include "config_eq.h"
#include "core/config.h"
#include "test.h"

static struct config *load(const char *text, size_t len, const char *path, char *err, size_t errlen)
{
	struct config *cfg = config_parse(text, len, path, err, errlen);
	if (cfg && config_resolve_keys(cfg, &test_resolver, err, errlen) < 0) {
		config_destroy(cfg);
		return NULL;
	}
	return cfg;
}

/* Prints cfg, parses the text, and fails unless the two are equal; the
 * printed text in *text (malloc'd) for the caller to look at. */
static bool round_trip(const struct config *cfg, char **text)
{
	struct buf out;
	buf_init(&out);
	if (config_print(cfg, &out) < 0) {
		test_fail(__FILE__, __LINE__, "config_print failed");
		buf_finish(&out);
		return false;
	}
	char err[CONFIG_ERR_MAX], why[256];
	struct config *again = load(out.data, out.len, "printed", err, sizeof(err));
	if (!again) {
		test_fail(__FILE__, __LINE__, "the printed configuration does not parse: %s\n%s", err, out.data);
		buf_finish(&out);
		return false;
	}
	bool same = config_equal(cfg, again, why, sizeof(why));
	if (!same)
		test_fail(__FILE__, __LINE__, "parse(print(cfg)) != cfg: %s", why);
	config_destroy(again);
	*text = out.data;
	return same;
}

TEST(config_print_defaults)
{
	char err[CONFIG_ERR_MAX], *text;
	struct config *cfg = load("", 0, "k.conf", err, sizeof(err));
	CHECK(cfg);
	bool ok = round_trip(cfg, &text);
	config_destroy(cfg);
	if (!ok)
		return;
	CHECK_STR(text, "[general]\n"
			"hotkey = leftctrl+rightctrl\n"
			"emergency = backspace+esc+enter\n"
			"start = host\n"
			"realtime = auto\n"
			"# xkb-layout: not set\n"
			"# xkb-variant: not set\n"
			"# xkb-model: not set\n"
			"# xkb-options: not set\n"
			"# host-keys: not set\n"
			"# shared-keys: not set\n"
			"# lock: not set\n"
			"start-locked = no\n"
			"hotkey-action = cycle\n"
			"\n"
			"[input]\n"
			"# match: none (the built-in choice: auto)\n"
			"# exclude: none\n"
			"# host-only: none\n"
			"\n"
			"[target host]\n"
			"type = host\n"
			"mode = native\n"
			"# hotkey: not set\n"
			"# on-enter: not set\n"
			"# on-leave: not set\n"
			"\n"
			"[target guest]\n"
			"type = evdev\n"
			"# hotkey: not set\n"
			"# on-enter: not set\n"
			"# on-leave: not set\n"
			"# domain: not set\n"
			"# uri: not set\n"
			"libvirt-input = evdev\n"
			"# usb: none\n"
			"# pci: none\n"
			"return-after = 0\n"
			"# follow: stop (it needs 'domain = NAME')\n"
			"# qmp: not set\n"
			"libvirt-hotplug = no\n"
			"\n"
			"[listener]\n"
			"enable = no\n"
			"# address: not set\n"
			"# secret-file: not set\n"
			"rate-limit = 10\n");
	free(text);
}

/* Every key set, with the values a printer could get wrong: strings that
 * need their quotes back, match values with blanks, quotes and
 * backslashes, links written either way, ids with and without a product,
 * fractional durations, a serial number. */
static const char full[] =
	"[general]\n"
	"hotkey = Control_L + Control_R\n"
	"emergency = KEY_PAUSE+scrolllock\n"
	"start = win\n"
	"realtime = no\n"
	"xkb-layout = \"de\"\n"
	"xkb-variant = \" nodeadkeys\"\n"
	"xkb-model = \"\"pc105\"\"\n"
	"xkb-options = \"\"\n"
	"host-keys = volumeup mute\n"
	"shared-keys = v BTN_SIDE\n"
	"lock = f12\n"
	"start-locked = yes\n"
	"hotkey-action = toggle\n"
	"[input]\n"
	"host-only = name:\"Macro Pad*\" id:0b0e:*\n"
	"match = auto\n"
	"match = name:\"Logitech USB Receiver*\" id:46D:c52b\n"
	"match = kind:tablet id:0627:*\n"
	"match = name:\"say \\\"hi\\\" \\\\ a\\b\\\\\" node:/dev/input/event*\n"
	"exclude = by-id:usb-Yubico* path:\"/dev/input/by-path/x y\"\n"
	"exclude = path:/dev/input/by-id/usb-Foo-event-kbd name:\"\\\"q\"\n"
	"[target host]\n"
	"mode = virtual\n"
	"hotkey = rightctrl+f1\n"
	"on-enter = ddcutil setvcp 60 0x0f\n"
	"on-leave = echo \"left\" >> /tmp/log\n"
	"[target win]\n"
	"type = evdev\n"
	"hotkey = Control_R+F2\n"
	"domain = \"win 11\"\n"
	"uri = qemu:///session\n"
	"libvirt-input = passthrough\n"
	"return-after = 1.5\n"
	"usb = 045e:028e\n"
	"follow = both\n"
	"libvirt-hotplug = yes\n"
	"[target games]\n"
	"type = usb\n"
	"domain = games\n"
	"usb = 046d:c08b 1532:0084:ABC:123\n"
	"pci = 0000:11:00.3 0a:1f.7\n"
	"return-after = 2m\n"
	"[target linux]\n"
	"return-after = 90s\n"
	"qmp = \"/run/qemu/linux.qmp\"\n"
	"[listener]\n"
	"enable = yes\n"
	"address = tcp:192.168.122.1:7301\n"
	"secret-file = /etc/kvmswitch/secret\n"
	"rate-limit = 3\n";

TEST(config_print_every_key)
{
	char err[CONFIG_ERR_MAX], *text;
	struct config *cfg = load(full, sizeof(full) - 1, "k.conf", err, sizeof(err));
	if (!cfg)
		test_fail(__FILE__, __LINE__, "%s", err);
	CHECK(cfg);
	CHECK_STR(cfg->xkb_variant, " nodeadkeys");
	CHECK_STR(cfg->xkb_model, "\"pc105\"");
	CHECK_STR(cfg->xkb_options, "");
	bool ok = round_trip(cfg, &text);
	config_destroy(cfg);
	if (!ok)
		return;
	CHECK_STR(text, "[general]\n"
			"hotkey = Control_L + Control_R\n"
			"emergency = KEY_PAUSE+scrolllock\n"
			"start = win\n"
			"realtime = no\n"
			"xkb-layout = de\n"
			"xkb-variant = \" nodeadkeys\"\n"
			"xkb-model = \"\"pc105\"\"\n"
			"xkb-options = \"\"\n"
			"host-keys = volumeup mute\n"
			"shared-keys = v BTN_SIDE\n"
			"lock = f12\n"
			"start-locked = yes\n"
			"hotkey-action = toggle\n"
			"\n"
			"[input]\n"
			"match = auto\n"
			"match = name:\"Logitech USB Receiver*\" id:046d:c52b\n"
			"match = kind:tablet id:0627:*\n"
			"match = name:\"say \\\"hi\\\" \\ a\\b\\\\\" node:/dev/input/event*\n"
			"exclude = by-id:usb-Yubico* by-path:\"x y\"\n"
			"exclude = by-id:usb-Foo-event-kbd name:\"\\\"q\"\n"
			"host-only = name:\"Macro Pad*\" id:0b0e:*\n"
			"\n"
			"[target host]\n"
			"type = host\n"
			"mode = virtual\n"
			"hotkey = rightctrl+f1\n"
			"on-enter = ddcutil setvcp 60 0x0f\n"
			"on-leave = echo \"left\" >> /tmp/log\n"
			"\n"
			"[target win]\n"
			"type = evdev\n"
			"hotkey = Control_R+F2\n"
			"# on-enter: not set\n"
			"# on-leave: not set\n"
			"domain = win 11\n"
			"uri = qemu:///session\n"
			"libvirt-input = passthrough\n"
			"usb = 045e:028e\n"
			"# pci: none\n"
			"return-after = 1.5\n"
			"follow = both\n"
			"# qmp: not set\n"
			"libvirt-hotplug = yes\n"
			"\n"
			"[target games]\n"
			"type = usb\n"
			"# hotkey: not set\n"
			"# on-enter: not set\n"
			"# on-leave: not set\n"
			"domain = games\n"
			"uri = qemu:///system\n"
			"usb = 046d:c08b\n"
			"usb = 1532:0084:ABC:123\n"
			"pci = 0000:11:00.3\n"
			"pci = 0000:0a:1f.7\n"
			"return-after = 2m\n"
			"follow = stop\n"
			"\n"
			"[target linux]\n"
			"type = evdev\n"
			"# hotkey: not set\n"
			"# on-enter: not set\n"
			"# on-leave: not set\n"
			"# domain: not set\n"
			"# uri: not set\n"
			"libvirt-input = evdev\n"
			"# usb: none\n"
			"# pci: none\n"
			"return-after = 90\n"
			"# follow: stop (it needs 'domain = NAME')\n"
			"qmp = /run/qemu/linux.qmp\n"
			"libvirt-hotplug = no\n"
			"\n"
			"[listener]\n"
			"enable = yes\n"
			"address = tcp:192.168.122.1:7301\n"
			"secret-file = /etc/kvmswitch/secret\n"
			"rate-limit = 3\n");
	free(text);
}

/* A value that filled its line (4096 bytes, written without blanks around
 * '=') comes back in as few bytes: the printer drops the blanks, and writes
 * a match rule's ids without leading zeros. */
TEST(config_print_full_lines)
{
	char text[3 * 4200], err[CONFIG_ERR_MAX], *printed;
	size_t off = (size_t)snprintf(text, sizeof(text), "[target host]\non-enter=");
	size_t line_start = strlen("[target host]\n");
	while (off - line_start < 4096)
		text[off++] = 'x';
	off += (size_t)snprintf(text + off, sizeof(text) - off, "\n[input]\nmatch=");
	line_start = off - strlen("match=");
	while (off - line_start + 7 <= 4096)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s", off - line_start > 6 ? " id:0:0" : "id:0:0");
	text[off++] = '\n';
	struct config *cfg = load(text, off, "k.conf", err, sizeof(err));
	if (!cfg)
		test_fail(__FILE__, __LINE__, "%s", err);
	CHECK(cfg);
	CHECK_INT(strlen(cfg->target[0].on_enter), 4096 - strlen("on-enter="));
	bool ok = round_trip(cfg, &printed);
	config_destroy(cfg);
	if (!ok)
		return;
	CHECK(strstr(printed, "\non-enter=xxx"));
	CHECK(strstr(printed, "\nmatch = id:0:0 id:0:0 "));
	free(printed);
}
