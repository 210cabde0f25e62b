/* The promises of docs/SECURITY.md that a test can check, against a real
 * kernel: what never reaches the log, what a guest's consumer can send back,
 * which config files the daemon refuses, and what the network listener
 * never reveals. (The control socket's, the listener's and the udev rules'
 * promises are checked in test_ctl.c and test_system.c; docs/SECURITY.md
 * lists them all.) */
#include <ctype.h>
#include <fcntl.h>
#include <libevdev/libevdev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 5000 /* ms to wait for an event that must come */

#define CFG_BOTH                                                                                             \
	KSD_MATCH_TEST_DEVICES "[target host]\nmode = virtual\n[target "                                     \
			       "guest]\n[general]\nstart = guest\n"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Runs `kvmswitch ARGS...` with env; returns its status, its stderr in *err. */
static int run_cli(const char *const args[], const char *const env[], char **err)
{
	const char *argv[16] = { ksd_binary() };
	size_t n = 1;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	struct tproc *p = tproc_spawn(argv, env);
	int status = tproc_wait(p, 30000);
	ITEST_ASSERT_MSG(status >= 0, "kvmswitch %s did not finish", args[0]);
	if (err) {
		*err = itest_read_file(tproc_stderr_path(p), NULL);
		ITEST_ASSERT_NOT_NULL(*err);
	}
	return status;
}

/* ---- the log ---- */

/* The message part of every line: after "HH:MM:SS.mmm kvmswitch LEVEL: ". */
static char *log_messages(const char *path)
{
	char *s = itest_read_file(path, NULL);
	ITEST_ASSERT_MSG(s != NULL, "cannot read the daemon's log %s", path);
	char *out = calloc(1, strlen(s) + 1), *o = out;
	for (char *line = s, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		const char *m = strstr(line, "kvmswitch ");
		m = m ? strchr(m, ':') : NULL;
		m = m ? m + 1 : line;
		o += sprintf(o, "%s\n", m);
	}
	free(s);
	return out;
}

static bool has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = text; (p = strcasestr(p, word)); p++) {
		bool before = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
		bool after = !(isalnum((unsigned char)p[n]) || p[n] == '_');
		if (before && after)
			return true;
	}
	return false;
}

/* Starts `kvmswitch run` (with -v when debug) and returns its process; the
 * socket answers when this returns. */
static struct tproc *spawn_daemon(const char *config, const char *sock, bool debug)
{
	char *cfg = itest_tmpfile(debug ? "debug.conf" : "default.conf");
	FILE *f = fopen(cfg, "w");
	ITEST_ASSERT_NOT_NULL(f);
	fputs(config, f);
	fclose(f);
	char env0[4200];
	snprintf(env0, sizeof(env0), "KVMSWITCH_SOCKET=%s", sock);
	const char *env[] = { env0, NULL };
	const char *argv[] = { ksd_binary(), "run", "-c", cfg, debug ? "-v" : NULL, NULL };
	struct tproc *p = tproc_spawn(argv, env);
	int64_t deadline = itest_now_ms() + 20000;
	for (;;) {
		const char *ping[] = { ksd_binary(), "status", NULL };
		struct tproc *c = tproc_spawn(ping, env);
		if (tproc_wait(c, 10000) == 0)
			break;
		ITEST_ASSERT_MSG(tproc_running(p), "kvmswitch exited during start-up");
		ITEST_ASSERT_MSG(itest_now_ms() < deadline, "kvmswitch did not answer on %s", sock);
		sleep_ms(100);
	}
	free(cfg);
	return p;
}

/* Typed keys never reach the log, at the default level or at debug: after
 * typing a known sequence (with scan codes), holding keys across switches,
 * hotkeys, an unplug with a key down and a resync, neither the names of the
 * typed keys nor their codes or scan codes appear in it. */
ITEST_TIMEOUT(typed_keys_never_logged, 240)
{
	/* Keys with codes that are no plausible node, pid or count numbers,
	 * and scan codes that appear nowhere else. */
	static const unsigned typed[] = { KEY_Q,   KEY_J,   KEY_Z,     KEY_KPASTERISK, KEY_F13,
					  KEY_F17, KEY_F21, KEY_FN_F1, KEY_BRL_DOT7,   KEY_NUMERIC_POUND };
	for (int debug = 0; debug < 2; debug++) {
		char sockname[32];
		snprintf(sockname, sizeof(sockname), "log%d.sock", debug);
		char *sock = itest_tmpfile(sockname);
		struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "log kbd");
		struct tdev *mouse = tdev_create(TDEV_MOUSE, "log mouse");
		struct tproc *p = spawn_daemon(CFG_BOTH, sock, debug);
		char *gk_node = treader_find_node("kvmswitch guest keyboard", 10000);
		ITEST_ASSERT_NOT_NULL(gk_node);
		struct treader *gk = treader_open(gk_node, false);
		treader_set_repeat(gk, 60000, 60000);
		for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
			TDEV_FRAME(kbd, { EV_MSC, MSC_SCAN, (int)(0x7a5a00 + i) },
				   { EV_KEY, (uint16_t)typed[i], 1 });
			ITEST_ASSERT_MSG(treader_wait_event(gk, EV_KEY, (uint16_t)typed[i], 1, 20000),
					 "typed key %zu did not reach the guest", i);
			TDEV_FRAME(kbd, { EV_MSC, MSC_SCAN, (int)(0x7a5a00 + i) },
				   { EV_KEY, (uint16_t)typed[i], 0 });
		}
		/* A key held across a hotkey switch and back, and over an unplug. */
		tdev_key(kbd, KEY_J, 1);
		tdev_key(kbd, KEY_LEFTCTRL, 1);
		tdev_key(kbd, KEY_J, 0);
		tdev_key(kbd, KEY_RIGHTCTRL, 1);
		tdev_key(kbd, KEY_RIGHTCTRL, 0);
		tdev_key(kbd, KEY_LEFTCTRL, 0);
		TDEV_FRAME(mouse, { EV_KEY, BTN_SIDE, 1 });
		TDEV_FRAME(mouse, { EV_KEY, BTN_SIDE, 0 });
		const char *sw[] = { ksd_binary(), "switch", "guest", NULL };
		char env0[4200];
		snprintf(env0, sizeof(env0), "KVMSWITCH_SOCKET=%s", sock);
		const char *env[] = { env0, NULL };
		ITEST_ASSERT_EQ_INT(tproc_wait(tproc_spawn(sw, env), 20000), 0);
		tdev_key(kbd, KEY_F13, 1);
		ITEST_ASSERT(treader_wait_event(gk, EV_KEY, KEY_F13, 1, 20000));
		tdev_destroy(kbd);
		ITEST_ASSERT(treader_wait_event(gk, EV_KEY, KEY_F13, 0, 20000));
		tproc_kill(p, SIGSTOP);
		for (int i = 0; i < 200; i++)
			TDEV_FRAME(mouse, { EV_KEY, BTN_EXTRA, 1 }, { EV_REL, REL_X, 1 });
		TDEV_FRAME(mouse, { EV_KEY, BTN_EXTRA, 0 });
		tproc_kill(p, SIGCONT);
		sleep_ms(500);
		ITEST_ASSERT_EQ_INT(tproc_stop(p, 20000), 0);
		treader_close(gk);
		tdev_destroy(mouse);

		char *log = log_messages(tproc_stderr_path(p));
		itest_log("%s log: %zu bytes", debug ? "debug" : "default", strlen(log));
		if (debug)
			ITEST_ASSERT_STR_CONTAINS(log, "grabbed"); /* it is the debug log */
		for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
			const char *name = libevdev_event_code_get_name(EV_KEY, typed[i]);
			char dec[16], hex[16], scan[16], scandec[16];
			snprintf(dec, sizeof(dec), "%u", typed[i]);
			snprintf(hex, sizeof(hex), "0x%x", typed[i]);
			snprintf(scan, sizeof(scan), "%x", 0x7a5a00 + (unsigned)i);
			snprintf(scandec, sizeof(scandec), "%u", 0x7a5a00 + (unsigned)i);
			ITEST_ASSERT_MSG(!strcasestr(log, name), "the %s log names typed key %s:\n%.2000s",
					 debug ? "debug" : "default", name, log);
			ITEST_ASSERT_MSG(!strcasestr(log, name + 4) || strlen(name + 4) < 3,
					 "the %s log names typed key %s:\n%.2000s",
					 debug ? "debug" : "default", name + 4, log);
			ITEST_ASSERT_MSG(typed[i] < 100 || !has_word(log, dec),
					 "the %s log has typed key code %s:\n%.2000s",
					 debug ? "debug" : "default", dec, log);
			ITEST_ASSERT_MSG(!has_word(log, hex), "the %s log has typed key code %s",
					 debug ? "debug" : "default", hex);
			ITEST_ASSERT_MSG(!strcasestr(log, scan) && !strstr(log, scandec),
					 "the %s log has scan code %s", debug ? "debug" : "default", scan);
		}
		ITEST_ASSERT_MSG(!strstr(log, "BTN_SIDE") && !strstr(log, "BTN_EXTRA"),
				 "the log names a typed button");
		free(log);
		free(gk_node);
		free(sock);
	}
}

/* A guest's QEMU (or anything that opens the guest's devices) can write
 * events to them. The only thing kvmswitch takes back is LED state, and only
 * from the active target's keyboard: keys written there reach neither the
 * host's devices nor the physical keyboard, and an inactive guest cannot
 * change the keyboard's LEDs. */
ITEST(guest_consumer_cannot_type_into_the_host)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_BOTH);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, 20000));
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	struct treader *hp = ksd_open_vdev(k, "host", "pointer");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	struct treader *gp = ksd_open_vdev(k, "guest", "pointer");

	/* Active guest: keys, buttons and motion written into its devices. */
	for (int i = 0; i < 20; i++) {
		treader_write_frame(
			gk, (const struct itest_ev[]){ { EV_KEY, KEY_LEFTMETA, 1 }, { EV_KEY, KEY_R, 1 } },
			2);
		treader_write_frame(
			gk, (const struct itest_ev[]){ { EV_KEY, KEY_R, 0 }, { EV_KEY, KEY_LEFTMETA, 0 } },
			2);
		treader_write_frame(
			gp, (const struct itest_ev[]){ { EV_REL, REL_X, 50 }, { EV_KEY, BTN_LEFT, 1 } }, 2);
		treader_write_frame(gp, (const struct itest_ev[]){ { EV_KEY, BTN_LEFT, 0 } }, 1);
	}
	/* An LED from the active guest is applied: proof that writes get read. */
	treader_write_frame(gk, (const struct itest_ev[]){ { EV_LED, LED_NUML, 1 } }, 1);
	ITEST_ASSERT_MSG(tdev_wait_event(kbd, EV_LED, LED_NUML, 1, T),
			 "the active guest's LED did not reach the keyboard");
	struct itest_ev ev;
	while (tdev_read(kbd, &ev, 300) == 1)
		ITEST_ASSERT_MSG(ev.type == EV_LED || ev.type == EV_SYN,
				 "the physical keyboard got event type %u code %u", ev.type, ev.code);
	treader_expect_silence(hk, 300);
	treader_expect_silence(hp, 100);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "host"), 0);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);

	/* Inactive guest: its LED writes change nothing. */
	ksd_switch(k, "host");
	ITEST_ASSERT(tdev_wait_event(kbd, EV_LED, LED_NUML, 0, T)); /* the host's state */
	while (tdev_read(kbd, &ev, 300) == 1)
		;
	treader_write_frame(
		gk, (const struct itest_ev[]){ { EV_LED, LED_CAPSL, 1 }, { EV_LED, LED_NUML, 1 } }, 2);
	treader_write_frame(gk, (const struct itest_ev[]){ { EV_KEY, KEY_ENTER, 1 } }, 1);
	while (tdev_read(kbd, &ev, 500) == 1)
		ITEST_ASSERT_MSG(ev.type != EV_LED || ev.value == 0,
				 "an inactive guest set LED %u on the physical keyboard", ev.code);
	treader_expect_silence(hk, 300);
	/* The host still types normally. */
	tdev_tap(kbd, KEY_H);
	TREADER_EXPECT(hk, T, { EV_KEY, KEY_H, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_H, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	char *s = ksd_request(k, "status");
	ITEST_ASSERT_STR_CONTAINS(s, "\"name\":\"guest\",\"type\":\"evdev\",\"active\":false,\"held\":0");
	free(s);
}

/* The config file carries commands (on-enter, on-leave) that the daemon runs
 * as its own user, and can open a network port: a file another user owns or
 * others may write is refused, by `run` and by `check`. */
ITEST(config_that_others_may_change_is_refused)
{
	char *sock = itest_tmpfile("kvmswitch.sock");
	char env0[4200];
	snprintf(env0, sizeof(env0), "KVMSWITCH_SOCKET=%s", sock);
	const char *env[] = { env0, NULL };
	static const struct {
		mode_t mode;
		uid_t uid;
		const char *why;
	} bad[] = {
		{ 0666, 0, "others may write to it" },
		{ 0620, 0, "others may write to it" },
		{ 0600, 65534, "another user owns it" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *cfg = itest_tmpfile_with("bad.conf",
					       KSD_MATCH_TEST_DEVICES "[target guest]\non-enter = touch /tmp/owned\n",
					       bad[i].mode);
		ITEST_ASSERT_SYSCALL(chown(cfg, bad[i].uid, 0));
		char *err = NULL;
		ITEST_ASSERT_EQ_INT(run_cli((const char *const[]){ "run", "-c", cfg, NULL }, env, &err), 1);
		ITEST_ASSERT_STR_CONTAINS(err, bad[i].why);
		ITEST_ASSERT_STR_CONTAINS(err, "chmod go-w");
		free(err);
		ITEST_ASSERT_EQ_INT(run_cli((const char *const[]){ "check", "-c", cfg, NULL }, env, &err), 1);
		ITEST_ASSERT_STR_CONTAINS(err, bad[i].why);
		free(err);
		ITEST_ASSERT_MSG(access(sock, F_OK) < 0, "the daemon started with %s", bad[i].why);
		unlink(cfg);
		free(cfg);
	}
	/* A running daemon refuses to reload it once others may write it. */
	char *live = itest_tmpfile_with("live.conf", CFG_BOTH, 0644);
	snprintf(env0, sizeof(env0), "KVMSWITCH_SOCKET=%s", sock);
	const char *argv[] = { ksd_binary(), "run", "-c", live, NULL };
	struct tproc *d = tproc_spawn(argv, env);
	int64_t deadline = itest_now_ms() + 20000;
	while (run_cli((const char *const[]){ "status", NULL }, env, NULL) != 0) {
		ITEST_ASSERT_MSG(tproc_running(d) && itest_now_ms() < deadline, "kvmswitch did not start");
		sleep_ms(100);
	}
	ITEST_ASSERT_SYSCALL(chmod(live, 0666));
	char *rerr = NULL;
	ITEST_ASSERT_EQ_INT(run_cli((const char *const[]){ "reload", NULL }, env, &rerr), 1);
	ITEST_ASSERT_STR_CONTAINS(rerr, "others may write to it");
	free(rerr);
	ITEST_ASSERT_EQ_INT(tproc_stop(d, 20000), 0);
	free(live);

	/* Root's or one's own, writable by the owner only: fine. */
	char *cfg = itest_tmpfile_with("good.conf", CFG_BOTH, 0644);
	char *err = NULL;
	ITEST_ASSERT_EQ_INT(run_cli((const char *const[]){ "check", "-c", cfg, NULL }, env, &err), 0);
	free(err);
	ITEST_ASSERT_SYSCALL(chown(cfg, 65534, 65534));
	ITEST_ASSERT_SYSCALL(chmod(itest_tmpdir(), 0755));
	const char *as_nobody[] = { "setpriv",
				    "--reuid=65534",
				    "--regid=65534",
				    "--clear-groups",
				    ksd_binary(),
				    "check",
				    "-c",
				    cfg,
				    NULL };
	struct tproc *p = tproc_spawn(as_nobody, env);
	ITEST_ASSERT_EQ_INT(tproc_wait(p, 30000), 0); /* its own file */
	free(cfg);
	free(sock);
}

/* The listener's secret never appears in the log, at debug level, whether a
 * client authenticates with it or with a wrong one. */
ITEST(listener_secret_never_logged)
{
	const char *secret = "Zq7-listener-secret-for-the-log-test-91";
	const char *wrong = "Wx4-a-wrong-secret-for-the-log-test-5566";
	char *sf = itest_tmpfile_with("secret", secret, 0600), *wf = itest_tmpfile_with("wrong", wrong, 0600);
	char addr[64], cfg[4096];
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", tsock_free_tcp_port());
	snprintf(cfg, sizeof(cfg), CFG_BOTH "[listener]\nenable = yes\naddress = %s\nsecret-file = %s\n",
		 addr, sf);
	struct ksd *k = ksd_start(cfg); /* -v: the debug log */
	char *err = NULL;
	int64_t deadline = itest_now_ms() + 20000;
	while (run_cli((const char *const[]){ "remote", "--secret-file", sf, addr, "switch", "host", NULL },
		       NULL, &err) != 0) {
		ITEST_ASSERT_MSG(itest_now_ms() < deadline,
				 "kvmswitch remote with the right secret failed: %s", err);
		free(err);
		sleep_ms(200);
	}
	free(err);
	ITEST_ASSERT_EQ_INT(
		run_cli((const char *const[]){ "remote", "--secret-file", wf, addr, "switch", "guest", NULL },
			NULL, &err),
		1);
	free(err);
	char *r = ksd_request(k, "reload"); /* reads the secret file again */
	ITEST_ASSERT_STR_EQ(r, "ok reloaded");
	free(r);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
	char *log = itest_read_file(tproc_stderr_path(ksd_proc(k)), NULL);
	ITEST_ASSERT_NOT_NULL(log);
	ITEST_ASSERT_STR_CONTAINS(log, "listener");
	ITEST_ASSERT_MSG(!strstr(log, secret) && !strstr(log, "listener-secret"),
			 "the log holds the secret:\n%.3000s", log);
	ITEST_ASSERT_MSG(!strstr(log, wrong) && !strstr(log, "wrong-secret"),
			 "the log holds the wrong secret:\n%.3000s", log);
	free(log);
	free(sf);
	free(wf);
}
