/* The commands that read the configuration for the user (issue 14):
 * `kvmswitch check` reports what `run` would refuse, and `run` refuses the
 * same; an unusable XKB layout is one line; `check FILE` needs no -c;
 * `kvmswitch config` prints what parses back; `kvmswitch targets` asks the
 * daemon, else the configuration; the new commands have their --help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define KS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* An environment where no daemon answers and no user configuration is found
 * unless the case writes one. */
static const char *const *no_daemon_env(void)
{
	static char sock[4200], xdg[4200];
	snprintf(sock, sizeof(sock), "KVMSWITCH_SOCKET=%s/no-daemon.sock", itest_tmpdir());
	snprintf(xdg, sizeof(xdg), "XDG_CONFIG_HOME=%s/xdg", itest_tmpdir());
	static const char *env[3];
	env[0] = sock;
	env[1] = xdg;
	env[2] = NULL;
	return env;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

ITEST(check_takes_the_file_with_or_without_dash_c)
{
	char *conf = itest_tmpfile_with("k.conf", "[target win]\n", 0644), *out, *err, want[4200];
	snprintf(want, sizeof(want), "%s: ok (2 targets)\n", conf);
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), &out, NULL, KS("check", conf)), 0);
	ITEST_ASSERT_STR_EQ(out, want);
	free(out);
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), &out, NULL, KS("check", "-c", conf)), 0);
	ITEST_ASSERT_STR_EQ(out, want);
	free(out);
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), NULL, &err, KS("check", "/nonexistent/k.conf")), 1);
	ITEST_ASSERT_STR_EQ(err, "/nonexistent/k.conf: No such file or directory\n");
	free(err);
	/* Two files is a usage error that shows the usage. */
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), NULL, &err, KS("check", "-c", conf, conf)), 2);
	ITEST_ASSERT_STR_CONTAINS(err, "usage: kvmswitch check [-c FILE | FILE]");
	free(err);
	free(conf);
}

/* A loose secret file, a hook whose program is not installed and one whose
 * path does not exist: check names each with its line; run refuses to
 * start with the first, and says how many more check lists. What is fine
 * (builtins, shell syntax, programs in PATH) is not reported. */
ITEST(check_and_run_refuse_the_same_problems)
{
	char *secret = itest_tmpfile_with("secret", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n", 0644);
	char text[8192];
	snprintf(text, sizeof(text),
		 KSD_MATCH_TEST_DEVICES
		 "[target host]\n"
		 "on-enter = kvmswitch-no-such-program --input 0x0f\n"
		 "on-leave = echo left >> /tmp/log\n"
		 "[target win]\n"
		 "on-enter = LANG=C exec /nonexistent/bin/monitor 0x11\n"
		 "on-leave = sleep 1; \"$HOME/bin/x\"\n"
		 "[listener]\n"
		 "enable = yes\n"
		 "address = tcp:127.0.0.1:7301\n"
		 "secret-file = %s\n",
		 secret);
	char *conf = itest_tmpfile_with("k.conf", text, 0644), *out, *err, want[8192];
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), &out, &err, KS("check", conf)), 1);
	ITEST_ASSERT_STR_EQ(out, "");
	snprintf(want, sizeof(want),
		 "%s:12: [listener] secret-file: the secret file %s is accessible by group or others (mode 0644); "
		 "run: chmod 600 %s\n"
		 "%s:4: on-enter of target 'host': 'kvmswitch-no-such-program' is not in PATH (",
		 conf, secret, secret, conf);
	ITEST_ASSERT_MSG(strncmp(err, want, strlen(want)) == 0, "check said:\n%s\nwanted it to start with:\n%s", err, want);
	snprintf(want, sizeof(want), "): install it or write its full path\n%s:7: on-enter of target 'win': "
		 "/nonexistent/bin/monitor: No such file or directory\n", conf);
	ITEST_ASSERT_STR_CONTAINS(err, want);
	ITEST_ASSERT_EQ_INT(count_lines(err), 3);
	free(out);
	free(err);

	char sock[4200];
	snprintf(sock, sizeof(sock), "KVMSWITCH_SOCKET=%s/run.sock", itest_tmpdir());
	ITEST_ASSERT_EQ_INT(ksd_cli_env(KS(sock), NULL, &err, KS("run", "-c", conf)), 1);
	snprintf(want, sizeof(want), "%s:12: [listener] secret-file: the secret file %s is accessible by group or "
		 "others (mode 0644); run: chmod 600 %s (and 2 more: kvmswitch check -c %s)", conf, secret, secret, conf);
	ITEST_ASSERT_STR_CONTAINS(err, want);
	ITEST_ASSERT_MSG(access(sock + strlen("KVMSWITCH_SOCKET="), F_OK) < 0, "run made its socket before refusing");
	free(err);

	/* Put right, both agree it is fine. */
	ITEST_ASSERT_SYSCALL(chmod(secret, 0600));
	snprintf(text, sizeof(text),
		 KSD_MATCH_TEST_DEVICES "[target host]\non-enter = echo host\non-leave = sleep 1; \"$HOME/bin/x\"\n"
		 "[target win]\non-enter = LANG=C exec sh -c true\n"
		 "[listener]\nenable = yes\naddress = tcp:127.0.0.1:7301\nsecret-file = %s\n", secret);
	free(conf);
	conf = itest_tmpfile_with("k.conf", text, 0644);
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), &out, &err, KS("check", conf)), 0);
	ITEST_ASSERT_STR_CONTAINS(out, ": ok (2 targets)");
	ITEST_ASSERT_STR_EQ(err, "");
	free(out);
	free(err);
	free(conf);
	free(secret);
}

/* A layout libxkbcommon does not have: one line naming the setting and its
 * line, not libxkbcommon's dozen and a blame on the hotkey. */
ITEST(unusable_xkb_layout_is_one_line)
{
	char *conf = itest_tmpfile_with("k.conf", "[general]\nhotkey = Scroll_Lock\nxkb-layout = xx\n", 0644), *err,
	     want[4200];
	snprintf(want, sizeof(want), "%s:3: no such XKB keymap: xkb-layout = xx (libxkbcommon: Couldn't find file "
		 "\"symbols/xx\" in include paths); the names are listed in /usr/share/X11/xkb/rules/evdev.lst\n", conf);
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), NULL, &err, KS("check", conf)), 1);
	ITEST_ASSERT_STR_EQ(err, want);
	free(err);
	char sock[4200];
	snprintf(sock, sizeof(sock), "KVMSWITCH_SOCKET=%s/run.sock", itest_tmpdir());
	ITEST_ASSERT_EQ_INT(ksd_cli_env(KS(sock), NULL, &err, KS("run", "-c", conf)), 1);
	want[strlen(want) - 1] = '\0';
	ITEST_ASSERT_STR_CONTAINS(err, want);
	ITEST_ASSERT_MSG(!strstr(err, "xkbcommon: ERROR"), "libxkbcommon's own log came through:\n%s", err);
	free(err);
	/* A layout that exists is fine, and its keysyms resolve. */
	free(conf);
	conf = itest_tmpfile_with("k.conf", "[general]\nhotkey = Scroll_Lock\nxkb-layout = de\nxkb-variant = nodeadkeys\n",
				  0644);
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), NULL, &err, KS("check", conf)), 0);
	ITEST_ASSERT_STR_EQ(err, "");
	free(err);
	free(conf);
}

/* What `kvmswitch config` prints is a configuration file that checks, and
 * prints the same again: the round trip of the unit tests, through the
 * command. */
ITEST(config_prints_what_parses_back)
{
	char *conf = itest_tmpfile_with("k.conf",
					"[input]\nexclude = name:\"Yubico YubiKey*\"\n"
					"[target win]\nhotkey = rightctrl+f2\ndomain = win11\n"
					"[target games]\ntype = usb\ndomain = games\nusb = 046d:c52b\nreturn-after = 10m\n",
					0644);
	char *out, *err;
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), &out, &err, KS("config", conf)), 0);
	ITEST_ASSERT_STR_EQ(err, "");
	free(err);
	const char *want[] = { "\n[general]\nhotkey = leftctrl+rightctrl\nemergency = backspace+esc+enter\nstart = host\n",
			       "\n[input]\n# match: none (the built-in choice: auto)\nexclude = name:\"Yubico YubiKey*\"\n",
			       "\n[target host]\ntype = host\nmode = native\n",
			       "\n[target win]\ntype = evdev\nhotkey = rightctrl+f2\n",
			       "\ndomain = win11\nuri = qemu:///system\nlibvirt-input = evdev\n# usb: none\n# pci: none\n"
			       "return-after = 0\nfollow = stop\n",
			       "\nusb = 046d:c52b\n# pci: none\nreturn-after = 10m\nfollow = stop\n",
			       "\n[listener]\nenable = no\n" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ITEST_ASSERT_STR_CONTAINS(out, want[i]);
	char *printed = itest_tmpfile_with("printed.conf", out, 0600), *again;
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), &again, NULL, KS("check", printed)), 0);
	ITEST_ASSERT_STR_CONTAINS(again, ": ok (3 targets)");
	free(again);
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), &again, NULL, KS("config", "-c", printed)), 0);
	/* The same but for the header line, which names the file. */
	ITEST_ASSERT_STR_EQ(strchr(again, '\n'), strchr(out, '\n'));
	free(again);
	/* No file anywhere: the built-in defaults, said so. */
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), &again, NULL, KS("config")), 0);
	ITEST_ASSERT_STR_CONTAINS(again, "from the built-in defaults\n");
	ITEST_ASSERT_STR_CONTAINS(again, "\n[target guest]\ntype = evdev\n");
	free(again);
	free(printed);
	free(out);
	free(conf);
}

/* The names shell completion offers: the daemon's while one answers (it
 * may run another file than the user's), else the configuration's. */
ITEST_TIMEOUT(targets_from_the_daemon_else_the_config, 120)
{
	char xdg[4200], sock[4200], dir[4200], *out;
	snprintf(dir, sizeof(dir), "%s/xdg/kvmswitch", itest_tmpdir());
	snprintf(xdg, sizeof(xdg), "%s/xdg", itest_tmpdir());
	ITEST_ASSERT_SYSCALL(mkdir(xdg, 0700));
	ITEST_ASSERT_SYSCALL(mkdir(dir, 0700));
	strcat(dir, "/kvmswitch.conf");
	FILE *f = fopen(dir, "w");
	ITEST_ASSERT_NOT_NULL(f);
	fputs("[target win]\n[target linux]\n", f);
	fclose(f);
	ITEST_ASSERT_EQ_INT(ksd_cli_env(no_daemon_env(), &out, NULL, KS("targets")), 0);
	ITEST_ASSERT_STR_EQ(out, "host\nwin\nlinux\n");
	free(out);

	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[target desk]\ntype = host\n[target vm1]\n");
	snprintf(sock, sizeof(sock), "KVMSWITCH_SOCKET=%s", ksd_socket(k));
	snprintf(xdg, sizeof(xdg), "XDG_CONFIG_HOME=%s/xdg", itest_tmpdir());
	ITEST_ASSERT_EQ_INT(ksd_cli_env(KS(sock, xdg), &out, NULL, KS("targets")), 0);
	ITEST_ASSERT_STR_EQ(out, "desk\nvm1\n");
	free(out);
	/* -c: that file's, daemon or not. */
	ITEST_ASSERT_EQ_INT(ksd_cli_env(KS(sock, xdg), &out, NULL, KS("targets", "-c", dir)), 0);
	ITEST_ASSERT_STR_EQ(out, "host\nwin\nlinux\n");
	free(out);
}

/* Every new command has its --help and its line in kvmswitch --help. */
ITEST(new_commands_have_help)
{
	const char *const cmds[] = { "check", "config", "targets", "doctor" };
	char *top;
	ITEST_ASSERT_EQ_INT(ksd_cli_env(NULL, &top, NULL, KS("--help")), 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *out, want[64];
		ITEST_ASSERT_EQ_INT(ksd_cli_env(NULL, &out, NULL, KS(cmds[i], "--help")), 0);
		snprintf(want, sizeof(want), "usage: kvmswitch %s ", cmds[i]);
		ITEST_ASSERT_MSG(strncmp(out, want, strlen(want)) == 0, "kvmswitch %s --help: %s", cmds[i], out);
		free(out);
		ITEST_ASSERT_EQ_INT(ksd_cli_env(NULL, &out, NULL, KS("help", cmds[i])), 0);
		ITEST_ASSERT_MSG(strncmp(out, want, strlen(want)) == 0, "kvmswitch help %s: %s", cmds[i], out);
		free(out);
		snprintf(want, sizeof(want), "\n  %s ", cmds[i]);
		ITEST_ASSERT_STR_CONTAINS(top, want);
	}
	free(top);
}
