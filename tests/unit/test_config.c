#include <stdlib.h>

#include "core/config.h"
#include "test.h"

static struct config *parse(const char *text, char *err, size_t errlen)
{
	struct config *cfg = config_parse(text, strlen(text), "k.conf", err, errlen);
	if (cfg && config_resolve_keys(cfg, &test_resolver, err, errlen) < 0) {
		config_destroy(cfg);
		return NULL;
	}
	return cfg;
}

TEST(config_defaults)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = parse("", err, sizeof(err));
	CHECK(cfg);
	CHECK_INT(cfg->n_target, 2);
	CHECK_STR(cfg->target[0].name, "host");
	CHECK_INT(cfg->target[0].type, TARGET_HOST);
	CHECK_INT(cfg->target[0].mode, HOST_NATIVE);
	CHECK_STR(cfg->target[1].name, "guest");
	CHECK_INT(cfg->target[1].type, TARGET_EVDEV);
	CHECK_STR(cfg->start, "host");
	CHECK_INT(cfg->hotkey.n, 2);
	CHECK_INT(cfg->hotkey.key[0].alt[0], KEY_LEFTCTRL);
	CHECK_INT(cfg->hotkey.key[1].alt[0], KEY_RIGHTCTRL);
	CHECK_INT(cfg->emergency.n, 3);
	config_destroy(cfg);
}

TEST(config_issue_example)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = parse("[general]\n"
				   "hotkey = leftctrl+rightctrl\n"
				   "start = host\n"
				   "[input]\n"
				   "match = name:\"Logitech G502*\" id:046d:c08b\n"
				   "exclude = name:\"*Consumer Control\"\n"
				   "[target host]\n"
				   "type = host\n"
				   "mode = native\n"
				   "[target win]\n"
				   "type = evdev\n"
				   "hotkey = scrolllock\n",
				   err, sizeof(err));
	if (!cfg)
		test_fail(__FILE__, __LINE__, "%s", err);
	CHECK(cfg);
	CHECK_INT(cfg->n_match, 1);
	CHECK_INT(cfg->match[0].n_terms, 2);
	CHECK_INT(cfg->match[0].line, 5);
	CHECK_STR(cfg->match[0].terms[0].glob, "Logitech G502*");
	CHECK_INT(cfg->match[0].terms[1].vendor, 0x046d);
	CHECK_INT(cfg->match[0].terms[1].product, 0xc08b);
	CHECK_INT(cfg->n_exclude, 1);
	CHECK_INT(cfg->n_target, 2);
	CHECK_INT(cfg->target[1].hotkey.n, 1);
	CHECK_INT(cfg->target[1].hotkey.key[0].alt[0], KEY_SCROLLLOCK);
	config_destroy(cfg);
}

TEST(config_implicit_host_first)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = parse("[target win]\n[target linux]\nreturn-after = 2m\n", err, sizeof(err));
	CHECK(cfg);
	CHECK_INT(cfg->n_target, 3);
	CHECK_STR(cfg->target[0].name, "host");
	CHECK_STR(cfg->target[1].name, "win");
	CHECK_INT(cfg->target[2].return_after_ms, 120000);
	config_destroy(cfg);
}

TEST(config_usb_target)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = parse("[target games]\ntype = usb\ndomain = win11\n"
				   "usb = 046d:c08b 1532:0084:ABC123\nusb = 0627:0001\n"
				   "pci = 0000:11:00.3 0a:00.0\nreturn-after = 30\n",
				   err, sizeof(err));
	if (!cfg)
		test_fail(__FILE__, __LINE__, "%s", err);
	CHECK(cfg);
	const struct target_conf *t = &cfg->target[1];
	CHECK_INT(t->type, TARGET_USB);
	CHECK_STR(t->domain, "win11");
	CHECK_STR(t->uri, "qemu:///system");
	CHECK_INT(t->n_usb, 3);
	CHECK_INT(t->usb[1].vendor, 0x1532);
	CHECK_STR(t->usb[1].serial, "ABC123");
	CHECK_INT(t->usb[2].product, 0x0001);
	CHECK_INT(t->n_pci, 2);
	CHECK_INT(t->pci[0].bus, 0x11);
	CHECK_INT(t->pci[0].func, 3);
	CHECK_INT(t->pci[1].bus, 0x0a);
	CHECK_INT(t->return_after_ms, 30000);
	config_destroy(cfg);
}

TEST(config_listener)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = parse("[listener]\nenable = yes\naddress = tcp:192.168.122.1:7321\n"
				   "secret-file = /etc/kvmswitch/secret\nrate-limit = 5\n",
				   err, sizeof(err));
	CHECK(cfg);
	CHECK(cfg->listener.enabled);
	CHECK_STR(cfg->listener.address, "tcp:192.168.122.1:7321");
	CHECK_INT(cfg->listener.rate_per_minute, 5);
	config_destroy(cfg);
}

TEST(config_realtime)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = parse("", err, sizeof(err));
	CHECK(cfg);
	CHECK_INT(cfg->realtime, REALTIME_AUTO);
	config_destroy(cfg);
	static const struct {
		const char *value;
		enum realtime_mode mode;
	} cases[] = { { "auto", REALTIME_AUTO }, { "yes", REALTIME_YES }, { "no", REALTIME_NO } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "[general]\nrealtime = %s\n", cases[i].value);
		cfg = parse(text, err, sizeof(err));
		CHECK(cfg);
		CHECK_INT(cfg->realtime, cases[i].mode);
		CHECK_STR(realtime_mode_name(cfg->realtime), cases[i].value);
		config_destroy(cfg);
	}
}

TEST(config_hotkey_styles)
{
	static const struct {
		const char *text;
		int n;
		unsigned first, second;
	} cases[] = {
		{ "KEY_LEFTCTRL+KEY_RIGHTCTRL", 2, KEY_LEFTCTRL, KEY_RIGHTCTRL },
		{ "ctrl-ctrl", 2, KEY_LEFTCTRL, KEY_RIGHTCTRL },
		{ "alt-alt", 2, KEY_LEFTALT, KEY_RIGHTALT },
		{ "scrolllock", 1, KEY_SCROLLLOCK, 0 },
		{ "Scroll_Lock", 1, KEY_SCROLLLOCK, 0 },
		{ "Pause", 1, KEY_PAUSE, 0 },
		{ "BTN_SIDE + leftshift", 2, BTN_SIDE, KEY_LEFTSHIFT },
		{ "side+extra", 2, BTN_SIDE, BTN_EXTRA },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct chord c;
		char err[256];
		if (hotkey_parse(&c, cases[i].text, &test_resolver, err, sizeof(err)) < 0) {
			test_fail(__FILE__, __LINE__, "'%s': %s", cases[i].text, err);
			return;
		}
		CHECK_INT(c.n, cases[i].n);
		CHECK_INT(c.key[0].alt[0], cases[i].first);
		if (cases[i].n > 1)
			CHECK_INT(c.key[1].alt[0], cases[i].second);
	}
	struct chord c;
	char err[256];
	CHECK_INT(hotkey_parse(&c, "none", &test_resolver, err, sizeof(err)), 0);
	CHECK_INT(c.n, 0);
}

/* Case i of a table: text is refused with an error that starts with expect
 * (copied to err if given). False, with the test failed, if not. */
static bool refused_with(const char *text, const char *expect, size_t i, char *err, size_t errlen)
{
	char buf[CONFIG_ERR_MAX] = "";
	struct config *cfg = parse(text, buf, sizeof(buf));
	if (cfg) {
		config_destroy(cfg);
		test_fail(__FILE__, __LINE__, "case %zu accepted, expected '%s'", i, expect);
		return false;
	}
	if (strncmp(buf, expect, strlen(expect)) != 0) {
		test_fail(__FILE__, __LINE__, "case %zu: got '%s', expected '%s...'", i, buf, expect);
		return false;
	}
	if (err)
		snprintf(err, errlen, "%s", buf);
	return true;
}

struct error_case {
	const char *text;
	const char *expect; /* the message starts so */
};

/* Each case is refused with its message; false (the test failed) if not. */
static bool expect_errors(const struct error_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!refused_with(cases[i].text, cases[i].expect, i, NULL, 0))
			return false;
	return true;
}

/* Every error names the file and line, and says what is wrong. */
TEST(config_errors)
{
	static const struct error_case cases[] = {
		{ "[general]\nfrobnicate = 1\n", "k.conf:2: unknown key 'frobnicate' in [general]" },
		{ "[target win]\nfrobnicate = 1\n", "k.conf:2: unknown key 'frobnicate' in [target win]" },
		{ "[general]\nmatch = auto\n", "k.conf:2: unknown key 'match' in [general] (it belongs to another section)" },
		{ "[bogus]\n", "k.conf:1: unknown section [bogus]" },
		{ "hotkey = a\n", "k.conf:1: 'hotkey' outside of any section" },
		{ "[general]\n\n# c\nhotkey = leftctrl+frob\n", "k.conf:4: unknown key 'frob' in hotkey" },
		{ "[general]\nhotkey = a\nhotkey = b\n", "k.conf:3: 'hotkey' is set twice in [general] (first at line 2)" },
		{ "[target a]\n[target a]\n", "k.conf:2: target 'a' is defined twice (first at line 1)" },
		{ "[target a b]\n", "k.conf:1: bad target name 'a b'" },
		{ "[target x]\ntype = vm\n", "k.conf:2: unknown target type 'vm'" },
		{ "[target x]\nmode = virtual\n", "k.conf:2: 'mode' does not apply to target 'x' of type evdev" },
		{ "[target x]\ntype = usb\nusb = 1:2\n", "k.conf:1: usb target 'x' needs 'domain = NAME'" },
		{ "[target x]\ntype = usb\ndomain = d\n", "k.conf:1: usb target 'x' needs 'usb = VID:PID ...'" },
		{ "[target x]\ntype = usb\ndomain = d\nusb = zz:1\n", "k.conf:4: bad USB device 'zz:1'" },
		{ "[target x]\ntype = usb\ndomain = d\npci = 11:00\n", "k.conf:4: bad PCI address '11:00'" },
		{ "[target x]\nreturn-after = soon\n", "k.conf:2: 'return-after' must be seconds" },
		{ "[general]\nstart = nowhere\n", "k.conf:2: start target 'nowhere' is not defined" },
		{ "[general]\n\nrealtime = always\n", "k.conf:3: 'realtime' must be auto, yes or no, not 'always'" },
		{ "[target x]\nrealtime = yes\n", "k.conf:2: unknown key 'realtime' in [target x] (it belongs to another section)" },
		{ "[target h1]\ntype = host\n[target h2]\ntype = host\n", "k.conf:3: a second host target 'h2'" },
		{ "[target host]\ntype = evdev\n", "k.conf:1: target 'host' is not of type host" },
		{ "[input]\nmatch = name:\"unterminated\n", "k.conf:2: unterminated quote in match term 'name:'" },
		{ "[input]\nmatch = id:xyz\n", "k.conf:2: bad id 'xyz'" },
		{ "[input]\nmatch = kind:printer\n", "k.conf:2: unknown kind 'printer'" },
		{ "[input]\nmatch = vendor:1\n", "k.conf:2: unknown match term 'vendor:'" },
		{ "[general]\nno equals sign\n", "k.conf:2: expected 'key = value' or '[section]'" },
		{ "[general\n", "k.conf:1: section header without closing ']'" },
		{ "[listener]\nenable = yes\n", "k.conf:1: [listener] is enabled but has no 'address'" },
		{ "[listener]\naddress = udp:1:2\n", "k.conf:2: bad listener address 'udp:1:2'" },
		{ "[target win]\nhotkey = leftctrl+rightctrl\n",
		  "k.conf:2: the hotkey of target win uses the same keys as the hotkey" },
		{ "[general]\nhotkey = a+a\n", "k.conf:2: key 'a' appears twice in hotkey" },
		{ "[general]\nhotkey = \n", "k.conf:2: 'hotkey' needs a value" },
	};
	expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Durations: seconds, minutes or hours, at most a day (docs/libvirt.md
 * documents return-after = 1h). */
TEST(config_durations)
{
	static const struct {
		const char *value;
		long long ms; /* -1: refused */
	} cases[] = {
		{ "30", 30000 },  { "1.5", 1500 },	  { "30s", 30000 },	{ "2m", 120000 },
		{ "1h", 3600000 }, { "1.5h", 5400000 }, { "24h", 86400000 }, { "0", 0 },
		{ "25h", -1 },	   { "1d", -1 },	  { "h", -1 },		{ "nan", -1 },
		{ "inf", -1 },	   { "0x10", -1 },	  { "-1", -1 },		{ "1 h", -1 },
		{ "2mh", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128], err[CONFIG_ERR_MAX] = "";
		snprintf(text, sizeof(text), "[target win]\nreturn-after = %s\n", cases[i].value);
		struct config *cfg = parse(text, err, sizeof(err));
		if (cases[i].ms < 0) {
			if (cfg)
				test_fail(__FILE__, __LINE__, "return-after = %s accepted (%u ms)", cases[i].value,
					  cfg->target[1].return_after_ms);
			else if (!strstr(err, "k.conf:2: 'return-after' must be seconds, minutes or hours"))
				test_fail(__FILE__, __LINE__, "return-after = %s: %s", cases[i].value, err);
		} else if (!cfg) {
			test_fail(__FILE__, __LINE__, "return-after = %s refused: %s", cases[i].value, err);
		} else if (cfg->target[1].return_after_ms != cases[i].ms) {
			test_fail(__FILE__, __LINE__, "return-after = %s: %u ms, expected %lld", cases[i].value,
				  cfg->target[1].return_after_ms, cases[i].ms);
		}
		config_destroy(cfg);
		if (test_failed)
			return;
	}
}

/* There are no end-of-line comments: a value that fails to parse and looks
 * like it has one says so; a hook keeps its '#' (the shell's comment). */
TEST(config_end_of_line_comments)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{ "[target g]\ntype = usb\ndomain = g\nusb = 046d:c52b          # a receiver\n",
		  "k.conf:4: bad USB device '#' (expected VID:PID or VID:PID:SERIAL, in hex) (comments go on a line of "
		  "their own: a '#' after a value is part of it)" },
		{ "[target g]\nreturn-after = 30m       ; safety net\n",
		  "k.conf:2: 'return-after' must be seconds, minutes or hours (e.g. 30, 1.5, 2m or 1h, at most a day), "
		  "not '30m       ; safety net' (comments go on a line of their own: a '#' after a value is part of it)" },
		{ "[target g] # the guest\n", "k.conf:1: section header without closing ']' (comments go on a line" },
		{ "[general]\nhotkey = scrolllock # the key\n", "k.conf:2: unknown key 'scrolllock # the key' in hotkey" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[CONFIG_ERR_MAX] = "";
		if (!refused_with(cases[i].text, cases[i].expect, i, err, sizeof(err)))
			return;
		if (!strstr(err, "(comments go on a line of their own")) {
			test_fail(__FILE__, __LINE__, "case %zu: no hint in '%s'", i, err);
			return;
		}
	}
	char err[CONFIG_ERR_MAX] = "";
	struct config *cfg = parse("[target win]\non-enter = ddcutil setvcp 60 0x0f # DisplayPort 1\n", err, sizeof(err));
	if (!cfg)
		test_fail(__FILE__, __LINE__, "%s", err);
	CHECK(cfg);
	CHECK_STR(cfg->target[1].on_enter, "ddcutil setvcp 60 0x0f # DisplayPort 1");
	config_destroy(cfg);
	/* An error on a line without anything comment-like gets no hint. */
	CHECK(!parse("[target win]\nreturn-after = soon\n", err, sizeof(err)));
	CHECK(!strstr(err, "comments"));
}

TEST(config_nul_and_long_lines)
{
	char err[CONFIG_ERR_MAX];
	const char text[] = "[general]\nstart = h\0ost\n";
	CHECK(!config_parse(text, sizeof(text) - 1, "k.conf", err, sizeof(err)));
	CHECK_STR(err, "k.conf:2: line contains a NUL byte");
	size_t n = 10000;
	char *big = malloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	CHECK(!config_parse(big, n, "k.conf", err, sizeof(err)));
	free(big);
	CHECK_STR(err, "k.conf:1: line longer than 4096 bytes");
}

TEST(config_map_targets)
{
	char err[CONFIG_ERR_MAX];
	struct config *a = parse("[target host]\n[target win]\n[target old]\n[target lin]\n", err, sizeof(err));
	struct config *b = parse("[target host]\n[target lin]\n[target win]\ntype = usb\ndomain = d\nusb = 1:2\n",
				 err, sizeof(err));
	CHECK(a && b);
	int map[CONFIG_MAX_TARGETS];
	config_map_targets(a, b, map);
	CHECK_INT(map[0], 0);
	CHECK_INT(map[1], -1); /* same name, other type: a new target */
	CHECK_INT(map[2], -1);
	CHECK_INT(map[3], 1);
	config_destroy(a);
	config_destroy(b);
}

/* Found by fuzz_router: a chord whose keys all sit in another one is no
 * conflict when the other has more (here: BTN_SIDE). */
TEST(config_chord_conflict_both_ways)
{
	char err[CONFIG_ERR_MAX];
	struct config *c = parse("[target g]\nhotkey = Either_Ctrl+BTN_SIDE\n", err, sizeof(err));
	CHECK(c != NULL);
	config_destroy(c);
	c = parse("[target g]\nhotkey = Either_Ctrl+rightctrl\n", err, sizeof(err));
	CHECK(c == NULL); /* "key appears twice" */
	c = parse("[general]\nhotkey = Either_Ctrl+f12\n[target g]\nhotkey = f12+Either_Ctrl\n", err, sizeof(err));
	CHECK(c == NULL);
	CHECK_STR(err, "k.conf:4: the hotkey of target g uses the same keys as the hotkey");
}

/* A host that changes mode gains or loses its virtual devices: unmapped, so
 * the keys held on them are released first (golden/reload-host-mode). */
TEST(config_map_targets_host_mode)
{
	char err[CONFIG_ERR_MAX];
	struct config *a = parse("[target host]\nmode = virtual\n[target win]\n", err, sizeof(err));
	struct config *b = parse("[target host]\n[target win]\n", err, sizeof(err));
	CHECK(a && b);
	int map[CONFIG_MAX_TARGETS];
	config_map_targets(a, b, map);
	CHECK_INT(map[0], -1);
	CHECK_INT(map[1], 1);
	config_map_targets(a, a, map);
	CHECK_INT(map[0], 0);
	config_destroy(a);
	config_destroy(b);
}

static struct device_desc desc(const char *name, unsigned kinds, bool typing)
{
	return (struct device_desc){ .node = "/dev/input/event3", .name = name, .kinds = kinds,
				     .typing_keys = typing, .vendor = 0x046d, .product = 0xc08b };
}

TEST(match_auto_choice)
{
	struct device_desc kbd = desc("Some Keyboard", DEVKIND_KEYBOARD | DEVKIND_KEY, true);
	struct device_desc mouse = desc("Some Mouse", DEVKIND_MOUSE, false);
	struct device_desc macro = desc("G502 Keyboard", DEVKIND_KEY, true);
	struct device_desc power = desc("Power Button", DEVKIND_KEY, false);
	struct device_desc pad = desc("Touchpad", DEVKIND_TOUCHPAD, false);
	struct device_desc ours = desc("kvmswitch win keyboard", DEVKIND_KEYBOARD, true);
	ours.virtual_dev = true;
	struct match_verdict v;
	match_decide(NULL, 0, NULL, 0, &kbd, &v);
	CHECK(v.take);
	match_decide(NULL, 0, NULL, 0, &mouse, &v);
	CHECK(v.take);
	match_decide(NULL, 0, NULL, 0, &macro, &v);
	CHECK(v.take);
	CHECK_STR(v.reason, "built-in choice: keys-only device with typing keys");
	match_decide(NULL, 0, NULL, 0, &power, &v);
	CHECK(!v.take);
	match_decide(NULL, 0, NULL, 0, &pad, &v);
	CHECK(!v.take);
	match_decide(NULL, 0, NULL, 0, &ours, &v);
	CHECK(!v.take);
	CHECK_STR(v.reason, "kvmswitch's own virtual device");
}

TEST(match_rules)
{
	struct match_rule m[2], x[1];
	char err[256];
	CHECK_INT(match_rule_parse(&m[0], "name:\"Logitech G502*\" id:046d:c08b", err, sizeof(err)), 0);
	CHECK_INT(match_rule_parse(&m[1], "by-id:usb-Razer*-event-kbd", err, sizeof(err)), 0);
	CHECK_INT(match_rule_parse(&x[0], "name:\"*Consumer Control\"", err, sizeof(err)), 0);
	m[0].line = 3;
	m[1].line = 4;
	x[0].line = 5;
	struct device_desc g = desc("Logitech G502 HERO", DEVKIND_MOUSE, false);
	struct device_desc gc = desc("Logitech G502 HERO Consumer Control", DEVKIND_KEY, false);
	struct device_desc other = desc("Logitech G502 HERO", DEVKIND_MOUSE, false);
	other.product = 0x1234;
	struct device_desc razer = desc("Razer", DEVKIND_KEYBOARD, true);
	razer.links[razer.n_links++] = "/dev/input/by-id/usb-Razer_Huntsman-event-kbd";
	struct match_verdict v;
	match_decide(m, 2, x, 1, &g, &v);
	CHECK(v.take);
	CHECK_STR(v.reason, "matched by the rule at line 3");
	match_decide(m, 2, x, 1, &gc, &v);
	CHECK(!v.take);
	CHECK_STR(v.reason, "excluded by the rule at line 5");
	match_decide(m, 2, x, 1, &other, &v);
	CHECK(!v.take);
	match_decide(m, 2, x, 1, &razer, &v);
	CHECK(v.take);
	CHECK_STR(v.reason, "matched by the rule at line 4");
	/* A mouse that is not named: narrowed away. */
	struct device_desc plain = desc("Generic Mouse", DEVKIND_MOUSE, false);
	match_decide(m, 2, x, 1, &plain, &v);
	CHECK(!v.take);
	/* "auto" keeps the built-in choice next to extra rules. */
	struct match_rule a;
	CHECK_INT(match_rule_parse(&a, "auto", err, sizeof(err)), 0);
	match_decide(&a, 1, NULL, 0, &plain, &v);
	CHECK(v.take);
	match_rule_finish(&a);
	for (int i = 0; i < 2; i++)
		match_rule_finish(&m[i]);
	match_rule_finish(&x[0]);
}

/* Game time (issue 15): host-keys, shared-keys, host-only, the lock, the
 * hotkey's action. */
TEST(config_gametime)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = parse("[general]\n"
				   "host-keys = volumeup, volumedown mute micmute\n"
				   "shared-keys = v BTN_SIDE Either_Ctrl\n"
				   "hotkey = scrolllock\n"
				   "lock = Pause\n"
				   "start-locked = yes\n"
				   "hotkey-action = toggle\n"
				   "[input]\n"
				   "host-only = name:\"Macro Pad*\"\n"
				   "host-only = id:0b0e:*\n",
				   err, sizeof(err));
	if (!cfg)
		test_fail(__FILE__, __LINE__, "%s", err);
	CHECK(cfg);
	CHECK(keyset_has(&cfg->host_keys.keys, KEY_VOLUMEUP));
	CHECK(keyset_has(&cfg->host_keys.keys, KEY_VOLUMEDOWN));
	CHECK(keyset_has(&cfg->host_keys.keys, KEY_MUTE));
	CHECK(keyset_has(&cfg->host_keys.keys, KEY_MICMUTE));
	CHECK_INT(keyset_count(&cfg->host_keys.keys), 4);
	CHECK(keyset_has(&cfg->shared_keys.keys, KEY_V));
	CHECK(keyset_has(&cfg->shared_keys.keys, BTN_SIDE));
	CHECK(keyset_has(&cfg->shared_keys.keys, KEY_LEFTCTRL)); /* a keysym on two keys: both */
	CHECK(keyset_has(&cfg->shared_keys.keys, KEY_RIGHTCTRL));
	CHECK_INT(keyset_count(&cfg->shared_keys.keys), 4);
	CHECK_INT(cfg->lock.n, 1);
	CHECK_INT(cfg->lock.key[0].alt[0], KEY_PAUSE);
	CHECK(cfg->start_locked);
	CHECK_INT(cfg->hotkey_action, HOTKEY_TOGGLE);
	CHECK_STR(hotkey_action_name(cfg->hotkey_action), "toggle");
	CHECK_INT(cfg->n_host_only, 2);
	CHECK_INT(cfg->host_only[1].line, 10);
	config_destroy(cfg);
	/* The defaults: none of it, and the hotkey cycles. */
	cfg = parse("", err, sizeof(err));
	CHECK(cfg);
	CHECK(keyset_empty(&cfg->host_keys.keys));
	CHECK(keyset_empty(&cfg->shared_keys.keys));
	CHECK_INT(cfg->lock.n, 0);
	CHECK(!cfg->start_locked);
	CHECK_INT(cfg->hotkey_action, HOTKEY_CYCLE);
	CHECK_INT(cfg->n_host_only, 0);
	config_destroy(cfg);
}

TEST(config_gametime_errors)
{
	static const struct error_case cases[] = {
		{ "[general]\nhost-keys = volumeup frob\n", "k.conf:2: unknown key 'frob' in host-keys" },
		{ "[general]\nshared-keys = \n", "k.conf:2: 'shared-keys' needs a value" },
		{ "[general]\nhost-keys = mute\nhost-keys = v\n", "k.conf:3: 'host-keys' is set twice in [general]" },
		{ "[general]\nhost-keys = leftctrl+v\n",
		  "k.conf:2: 'host-keys' is a list of key names separated by blanks, not a chord ('+')" },
		{ "[general]\nhost-keys = btn_trigger\n", "k.conf:2: 'btn_trigger' in host-keys is no keyboard key or mouse button" },
		{ "[general]\nhost-keys = mute v\n\nshared-keys = f13 v\n",
		  "k.conf:4: 'v' is in shared-keys and in host-keys (line 2): it can be in one only" },
		{ "[general]\nhost-keys = rightctrl\n",
		  "k.conf:2: 'rightctrl' in host-keys is also a key of the hotkey (its default): a key either switches or "
		  "stays with the host, not both" },
		{ "[general]\nshared-keys = esc\n", "k.conf:2: 'esc' in shared-keys is also a key of the emergency chord" },
		{ "[general]\nlock = f12\nshared-keys = f12\n", "k.conf:3: 'f12' in shared-keys is also a key of the lock chord" },
		{ "[general]\nhost-keys = Pause\n[target win]\nhotkey = Pause\n",
		  "k.conf:2: 'Pause' in host-keys is also a key of the hotkey of target win" },
		{ "[general]\nlock = leftctrl+rightctrl\n", "k.conf:2: the lock chord uses the same keys as the hotkey" },
		{ "[general]\nlock = nokey\n", "k.conf:2: unknown key 'nokey' in hotkey" },
		{ "[general]\nstart-locked = maybe\n", "k.conf:2: 'start-locked' must be yes or no, not 'maybe'" },
		{ "[general]\nhotkey-action = next\n", "k.conf:2: unknown hotkey-action 'next' (cycle or toggle)" },
		{ "[input]\nhost-only = kind:printer\n", "k.conf:2: unknown kind 'printer'" },
		{ "[target win]\nhost-only = auto\n", "k.conf:2: unknown key 'host-only' in [target win] (it belongs to another section)" },
		{ "[input]\nhost-keys = mute\n", "k.conf:2: unknown key 'host-keys' in [input] (it belongs to another section)" },
	};
	expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

/* [input] host-only: takes what it selects (but ours or excluded), as the
 * host's alone, and says so. */
TEST(match_host_only)
{
	struct match_rule h, x;
	char err[256];
	CHECK_INT(match_rule_parse(&h, "name:\"Macro*\"", err, sizeof(err)), 0);
	CHECK_INT(match_rule_parse(&x, "name:\"*Consumer Control\"", err, sizeof(err)), 0);
	h.line = 7;
	x.line = 8;
	struct device_desc pad = desc("Macro Pad", DEVKIND_KEY, false); /* auto would not take it */
	struct device_desc cc = desc("Macro Pad Consumer Control", DEVKIND_KEY, false);
	struct device_desc kbd = desc("Some Keyboard", DEVKIND_KEYBOARD, true);
	struct device_desc ours = desc("Macro kvmswitch", DEVKIND_KEYBOARD, true);
	ours.name = "kvmswitch Macro keyboard";
	ours.virtual_dev = true;
	struct match_verdict v;
	match_decide(NULL, 0, &x, 1, &pad, &v);
	CHECK(!v.take);
	match_host_only(&h, 1, &pad, &v);
	CHECK(v.take && v.host_only);
	CHECK_STR(v.reason, "host-only by the rule at line 7");
	match_decide(NULL, 0, &x, 1, &cc, &v);
	match_host_only(&h, 1, &cc, &v);
	CHECK(!v.take && !v.host_only);
	CHECK_STR(v.reason, "excluded by the rule at line 8");
	match_decide(NULL, 0, &x, 1, &kbd, &v);
	match_host_only(&h, 1, &kbd, &v);
	CHECK(v.take && !v.host_only);
	match_decide(NULL, 0, NULL, 0, &ours, &v);
	match_host_only(&h, 1, &ours, &v);
	CHECK(!v.take && !v.host_only);
	match_rule_finish(&h);
	match_rule_finish(&x);
}

/* Issue 15: devices that follow the focus, following the domain, and
 * guests that pick up kvmswitch's devices at run time. */
TEST(config_game_time)
{
	char err[CONFIG_ERR_MAX];
	struct config *cfg = parse("[target win]\ndomain = win11\nusb = 045e:028e\npci = 0000:0b:00.0\n"
				   "follow = both\nlibvirt-hotplug = yes\n"
				   "[target lin]\nqmp = \"/run/qemu/lin.qmp\"\n"
				   "[target games]\ntype = usb\ndomain = g\nusb = 1:2\n",
				   err, sizeof(err));
	if (!cfg)
		test_fail(__FILE__, __LINE__, "%s", err);
	CHECK(cfg);
	const struct target_conf *w = &cfg->target[1], *l = &cfg->target[2], *g = &cfg->target[3];
	CHECK_INT(w->type, TARGET_EVDEV);
	CHECK_INT(w->n_usb, 1);
	CHECK_INT(w->usb[0].vendor, 0x045e);
	CHECK_INT(w->n_pci, 1);
	CHECK_INT(w->follow, FOLLOW_BOTH);
	CHECK(w->libvirt_hotplug);
	CHECK(!w->qmp);
	CHECK_STR(l->qmp, "/run/qemu/lin.qmp");
	CHECK(!l->libvirt_hotplug);
	/* today's behaviour: back to the host when the domain stops */
	CHECK_INT(l->follow, FOLLOW_STOP);
	CHECK_INT(g->follow, FOLLOW_STOP);
	config_destroy(cfg);

	static const struct error_case bad[] = {
		{ "[target x]\nusb = 1:2\n", "k.conf:1: target 'x' lists usb/pci devices but has no 'domain = NAME'" },
		{ "[target host]\npci = 0:1.0\n", "k.conf:1: the host target 'host' cannot list usb/pci devices" },
		{ "[target x]\ndomain = d\nfollow = always\n", "k.conf:3: unknown follow 'always' (start, stop, both or no)" },
		{ "[target x]\nfollow = start\n", "k.conf:2: 'follow' needs 'domain = NAME' in target 'x'" },
		{ "[target x]\ntype = usb\ndomain = d\nusb = 1:2\nfollow = start\n",
		  "k.conf:5: usb target 'x' always comes back to the host when its domain stops" },
		{ "[target host]\nfollow = no\n", "k.conf:2: 'follow' does not apply to target 'host' of type host" },
		{ "[target x]\nqmp = qmp.sock\n", "k.conf:2: 'qmp' must be the absolute path of QEMU's QMP socket" },
		{ "[target x]\nqmp = /run/a\nqmp = /run/b\n", "k.conf:3: 'qmp' is set twice in [target x]" },
		{ "[target x]\ntype = usb\ndomain = d\nusb = 1:2\nqmp = /q\n",
		  "k.conf:5: 'qmp' does not apply to target 'x' of type usb" },
		{ "[target x]\nlibvirt-hotplug = yes\n", "k.conf:2: 'libvirt-hotplug' needs 'domain = NAME' in target 'x'" },
		{ "[target x]\ndomain = d\nlibvirt-hotplug = maybe\n", "k.conf:3: 'libvirt-hotplug' must be yes or no" },
		{ "[target x]\ndomain = d\nlibvirt-hotplug = yes\nqmp = /q\n",
		  "k.conf:4: target 'x' has both 'qmp' and 'libvirt-hotplug'" },
	};
	expect_errors(bad, sizeof(bad) / sizeof(bad[0]));
}
