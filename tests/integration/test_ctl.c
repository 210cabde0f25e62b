/* The control socket, the CLI, hooks, reload and the network listener,
 * against a real daemon: who may talk to the socket, what junk and crowds
 * do to it (nothing: keys keep flowing), what scripts get back (replies,
 * JSON, exit statuses, the subscribe stream), what hooks see, and the
 * listener's challenge-response checked against openssl's HMAC. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 5000 /* ms to wait for what must come */

#define CFG_GUEST KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\n"
#define CFG_HOST_ONLY KSD_MATCH_TEST_DEVICES "[target host]\n"

/* ---- helpers ---- */

static void wait_taken(struct ksd *k, struct tdev *d, bool grabbed)
{
	ITEST_ASSERT_MSG(ksd_wait_input(k, tdev_devnode(d), grabbed, 10000), "%s is not %s by kvmswitch",
			 tdev_name(d), grabbed ? "grabbed" : "taken ungrabbed");
}

/* A key tapped on `kbd` arrives on `r`, as exactly one press and release. */
static void expect_tap(struct tdev *kbd, struct treader *r, unsigned code)
{
	tdev_tap(kbd, code);
	TREADER_EXPECT(r, T, { EV_KEY, code, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, code, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
}

static void assert_active(struct ksd *k, const char *want)
{
	char *a = ksd_active(k);
	ITEST_ASSERT_STR_EQ(a, want);
	free(a);
}

struct cli_result {
	int status;
	char *out, *err;
};

static void cli_free(struct cli_result *r)
{
	free(r->out);
	free(r->err);
}

/* Runs `[wrapper...] kvmswitch args...` with KVMSWITCH_SOCKET set to
 * `socket` (if not NULL); collects exit status, stdout and stderr. */
static struct cli_result cli_run(const char *socket, const char *const wrapper[], const char *const args[])
{
	const char *argv[40];
	size_t n = 0;
	for (size_t i = 0; wrapper && wrapper[i]; i++)
		argv[n++] = wrapper[i];
	argv[n++] = ksd_binary();
	for (size_t i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char env0[4200];
	snprintf(env0, sizeof(env0), "KVMSWITCH_SOCKET=%s", socket ? socket : "/nonexistent/kvmswitch.sock");
	const char *env[] = { env0, NULL };
	struct tproc *p = tproc_spawn(argv, env);
	struct cli_result r;
	r.status = tproc_wait(p, 30000);
	ITEST_ASSERT_MSG(r.status >= 0, "kvmswitch %s did not finish", args[0]);
	r.out = itest_read_file(tproc_stdout_path(p), NULL);
	r.err = itest_read_file(tproc_stderr_path(p), NULL);
	ITEST_ASSERT(r.out && r.err);
	return r;
}

#define CLI(k_, ...) cli_run(ksd_socket(k_), NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define CLI_AS(k_, wrap_, ...) cli_run(ksd_socket(k_), (wrap_), (const char *const[]){ __VA_ARGS__, NULL })

/* Asserts a CLI run's exit status and that stdout/stderr contain texts. */
static void cli_expect(const char *socket, const char *const wrapper[], const char *const args[], int status,
		       const char *out, const char *err)
{
	struct cli_result r = cli_run(socket, wrapper, args);
	ITEST_ASSERT_MSG(r.status == status, "kvmswitch %s %s: exit status %d, expected %d; stderr: %s", args[0],
			 args[1] ? args[1] : "", r.status, status, r.err);
	if (out)
		ITEST_ASSERT_STR_CONTAINS(r.out, out);
	if (err)
		ITEST_ASSERT_STR_CONTAINS(r.err, err);
	cli_free(&r);
}

#define CLI_EXPECT(k_, status_, out_, err_, ...) \
	cli_expect(ksd_socket(k_), NULL, (const char *const[]){ __VA_ARGS__, NULL }, (status_), (out_), (err_))

static void expect_line(int fd, const char *want)
{
	char *l = tsock_recv_line(fd, T);
	ITEST_ASSERT_MSG(l != NULL, "no reply line (wanted '%s')", want);
	ITEST_ASSERT_STR_EQ(l, want);
	free(l);
}

static void expect_line_prefix(int fd, const char *prefix)
{
	char *l = tsock_recv_line(fd, T);
	ITEST_ASSERT_MSG(l != NULL, "no reply line (wanted '%s...')", prefix);
	ITEST_ASSERT_MSG(strncmp(l, prefix, strlen(prefix)) == 0, "reply '%.200s' does not start with '%s'", l,
			 prefix);
	free(l);
}

/* The daemon's log (stderr) contains `text` within timeout_ms. */
static bool log_has(struct ksd *k, const char *text, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	do {
		char *log = itest_read_file(tproc_stderr_path(ksd_proc(k)), NULL);
		bool found = log && strstr(log, text);
		free(log);
		if (found)
			return true;
		usleep(50000);
	} while (itest_now_ms() < deadline);
	return false;
}

#define ASSERT_LOG(k_, text_, ms_) ITEST_ASSERT_MSG(log_has((k_), (text_), (ms_)), "the log lacks: %s", (text_))

static void write_config(struct ksd *k, const char *text)
{
	FILE *f = fopen(ksd_config_path(k), "w");
	ITEST_ASSERT_NOT_NULL(f);
	fputs(text, f);
	fclose(f);
}

/* ======================================================================== */
/* The socket: who may talk to it                                          */

/* The daemon runs as nobody (no virtual devices needed with only a native
 * host): its socket is 0600 and nobody's; another uid cannot connect, and
 * is refused by SO_PEERCRED even once the file mode lets it connect; the
 * daemon's own uid and root are served. */
ITEST_TIMEOUT(socket_mode_and_peer_uid, 180)
{
	if (!getenv("KVMSWITCH_IN_VM"))
		itest_skip("runs processes as other uids: only in the test VM");
	ITEST_ASSERT_SYSCALL(chmod(itest_tmpdir(), 0777));
	const char *as_nobody[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", NULL };
	const char *as_other[] = { "setpriv", "--reuid=65533", "--regid=65533", "--clear-groups", NULL };
	struct ksd *k = ksd_start_as(CFG_HOST_ONLY, NULL, as_nobody);

	struct stat st;
	ITEST_ASSERT_SYSCALL(lstat(ksd_socket(k), &st));
	ITEST_ASSERT(S_ISSOCK(st.st_mode));
	ITEST_ASSERT_MSG((st.st_mode & 07777) == 0600, "socket mode %o", st.st_mode & 07777);
	ITEST_ASSERT_EQ_INT(st.st_uid, 65534);

	cli_expect(ksd_socket(k), as_nobody, (const char *const[]){ "status", "--json", NULL }, 0, "\"active\":\"host\"",
		   NULL);
	/* Root may (it could read the daemon's memory anyway). */
	CLI_EXPECT(k, 0, "\"active\":\"host\"", NULL, "status", "--json");
	/* Another user cannot even connect... */
	cli_expect(ksd_socket(k), as_other, (const char *const[]){ "switch", "host", NULL }, 3, NULL,
		   "Permission denied");
	/* ...and after a careless chmod, the daemon still refuses it. */
	ITEST_ASSERT_SYSCALL(chmod(ksd_socket(k), 0666));
	cli_expect(ksd_socket(k), as_other, (const char *const[]){ "switch", "host", NULL }, 1, NULL,
		   "permission denied: only the daemon's user may use this socket");
	cli_expect(ksd_socket(k), as_other, (const char *const[]){ "status", NULL }, 1, NULL, "permission denied");
	ASSERT_LOG(k, "control socket: refused a client of uid 65533", T);
	/* It was refused, not half-served: still the same state, still answering. */
	cli_expect(ksd_socket(k), as_nobody, (const char *const[]){ "status", NULL }, 0, "active: host", NULL);
}

/* A daemon killed with SIGKILL leaves its socket file; the next one
 * replaces it. A live one is not stolen: a second daemon says so and exits
 * 1, leaving the first one's socket working. Removed on exit. */
ITEST_TIMEOUT(stale_socket_replaced_live_one_kept, 180)
{
	struct ksd *a = ksd_start(CFG_HOST_ONLY);
	tproc_kill(ksd_proc(a), SIGKILL);
	ITEST_ASSERT_EQ_INT(tproc_wait(ksd_proc(a), 10000), 128 + SIGKILL);
	ITEST_ASSERT_MSG(access(ksd_socket(a), F_OK) == 0, "the killed daemon's socket is gone already");
	CLI_EXPECT(a, 3, NULL, "Connection refused", "status");

	struct ksd *b = ksd_start(CFG_HOST_ONLY); /* same socket path */
	ITEST_ASSERT_STR_EQ(ksd_socket(b), ksd_socket(a));
	CLI_EXPECT(b, 0, "active: host", NULL, "status");

	const char *argv[] = { ksd_binary(), "run", "-c", ksd_config_path(b), NULL };
	char env0[4200];
	snprintf(env0, sizeof(env0), "KVMSWITCH_SOCKET=%s", ksd_socket(b));
	const char *env[] = { env0, NULL };
	struct tproc *second = tproc_spawn(argv, env);
	ITEST_ASSERT_EQ_INT(tproc_wait(second, 20000), 1);
	char *err = itest_read_file(tproc_stderr_path(second), NULL);
	ITEST_ASSERT_STR_CONTAINS(err, "another kvmswitch is running (its control socket");
	free(err);
	CLI_EXPECT(b, 0, "\"active\":\"host\"", NULL, "status", "--json");

	ITEST_ASSERT_EQ_INT(ksd_stop(b), 0);
	ITEST_ASSERT_MSG(access(ksd_socket(b), F_OK) < 0, "the socket was left behind");
}

/* ======================================================================== */
/* The CLI                                                                  */

ITEST_TIMEOUT(status_and_list_json, 180)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	char *gnode = ksd_vdev_node(k, "guest", "keyboard");
	char *pnode = ksd_vdev_node(k, "guest", "pointer");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	expect_tap(kbd, gk, KEY_S);

	struct cli_result r = CLI(k, "status", "--json");
	ITEST_ASSERT_EQ_INT(r.status, 0);
	ITEST_ASSERT_MSG(r.out[0] == '{' && strstr(r.out, "}\n"), "not one JSON object: %.200s", r.out);
	ITEST_ASSERT_STR_CONTAINS(r.out, "\"active\":\"guest\"");
	char want[512];
	snprintf(want, sizeof(want),
		 "{\"name\":\"guest\",\"type\":\"evdev\",\"active\":true,\"held\":0,\"leds\":0,\"failed_writes\":0,"
		 "\"owed_keys\":0,\"devices\":{\"keyboard\":\"%s\",\"pointer\":\"%s\"}}",
		 gnode, pnode);
	ITEST_ASSERT_STR_CONTAINS(r.out, want);
	ITEST_ASSERT_STR_CONTAINS(r.out, "{\"name\":\"host\",\"type\":\"host\",\"mode\":\"native\",\"active\":false");
	snprintf(want, sizeof(want), "{\"node\":\"%s\",\"name\":\"kvmtest kbd\",\"grabbed\":true", tdev_devnode(kbd));
	ITEST_ASSERT_STR_CONTAINS(r.out, want);
	ITEST_ASSERT_STR_CONTAINS(r.out, "\"counters\":{\"frames_in\":");
	const char *fk = strstr(r.out, "\"frames_out_keyboard\":");
	ITEST_ASSERT_NOT_NULL(fk);
	ITEST_ASSERT_GE_INT(atoll(fk + 22), 2);
	cli_free(&r);

	/* For people: the same facts, no JSON. */
	r = CLI(k, "status");
	ITEST_ASSERT_EQ_INT(r.status, 0);
	ITEST_ASSERT_STR_CONTAINS(r.out, "active: guest\n");
	ITEST_ASSERT_STR_CONTAINS(r.out, "\n  * guest            evdev");
	ITEST_ASSERT_STR_CONTAINS(r.out, "\n    host             host (native)");
	snprintf(want, sizeof(want), "  keyboard %s  pointer %s\n%21sleds off\n", gnode, pnode, "");
	ITEST_ASSERT_STR_CONTAINS(r.out, want);
	snprintf(want, sizeof(want), "    %-20s grabbed   kvmtest kbd\n", tdev_devnode(kbd));
	ITEST_ASSERT_STR_CONTAINS(r.out, want);
	ITEST_ASSERT_MSG(!strchr(r.out, '{'), "JSON in the human output: %.300s", r.out);
	ITEST_ASSERT_MSG(!strstr(r.out, "failed_writes") && !strstr(r.out, "owed"), "zero counters shown: %.400s",
			 r.out);
	cli_free(&r);

	/* The LEDs the active target's consumer set, in words (docs/troubleshooting.md, LEDs). */
	struct itest_ev caps = { EV_LED, LED_CAPSL, 1 }, num = { EV_LED, LED_NUML, 1 };
	treader_write_frame(gk, (struct itest_ev[]){ caps, num }, 2);
	int64_t deadline = itest_now_ms() + T;
	for (;;) {
		r = CLI(k, "status");
		if (strstr(r.out, "leds num lock, caps lock\n") || itest_now_ms() > deadline)
			break;
		cli_free(&r);
		usleep(100000);
	}
	ITEST_ASSERT_STR_CONTAINS(r.out, "\n  * guest ");
	snprintf(want, sizeof(want), "pointer %s\n%21sleds num lock, caps lock\n", pnode, "");
	ITEST_ASSERT_STR_CONTAINS(r.out, want);
	cli_free(&r);

	/* list --daemon: which node is which target's device. */
	r = CLI(k, "list", "--daemon", "--json");
	ITEST_ASSERT_EQ_INT(r.status, 0);
	snprintf(want, sizeof(want),
		 "{\"target\":\"guest\",\"kind\":\"keyboard\",\"node\":\"%s\",\"name\":\"kvmswitch guest keyboard\",\"active\":true}",
		 gnode);
	ITEST_ASSERT_STR_CONTAINS(r.out, want);
	snprintf(want, sizeof(want), "\"inputs\":[{\"node\":\"%s\",\"name\":\"kvmtest kbd\",\"grabbed\":true,\"pending\":false}]",
		 tdev_devnode(kbd));
	ITEST_ASSERT_STR_CONTAINS(r.out, want);
	cli_free(&r);
	r = CLI(k, "list", "--daemon");
	ITEST_ASSERT_EQ_INT(r.status, 0);
	snprintf(want, sizeof(want), "guest            pointer   %-20s kvmswitch guest pointer\n", pnode);
	ITEST_ASSERT_STR_CONTAINS(r.out, want);
	cli_free(&r);
	free(gnode);
	free(pnode);
}

/* switch/toggle/next/prev print the active target and exit 0; a refusal
 * is 1, a bad command line 2, no daemon 3. Keys follow each switch. */
ITEST_TIMEOUT(switch_commands_and_exit_status, 300)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[target host]\nmode = virtual\n[target guest]\n[target other]\n");
	wait_taken(k, kbd, true);
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	struct treader *ok = ksd_open_vdev(k, "other", "keyboard");

	CLI_EXPECT(k, 0, "guest\n", NULL, "switch", "guest");
	expect_tap(kbd, gk, KEY_1);
	CLI_EXPECT(k, 0, "host\n", NULL, "toggle");
	expect_tap(kbd, hk, KEY_2);
	CLI_EXPECT(k, 0, "guest\n", NULL, "toggle"); /* the last VM target */
	CLI_EXPECT(k, 0, "other\n", NULL, "next");
	expect_tap(kbd, ok, KEY_3);
	CLI_EXPECT(k, 0, "host\n", NULL, "next"); /* wraps around */
	CLI_EXPECT(k, 0, "other\n", NULL, "prev");
	CLI_EXPECT(k, 0, "guest\n", NULL, "prev");
	CLI_EXPECT(k, 0, "guest\n", NULL, "switch", "guest"); /* already: still ok */
	expect_tap(kbd, gk, KEY_4);
	treader_expect_silence(hk, 100);
	treader_expect_silence(ok, 100);

	CLI_EXPECT(k, 1, NULL, "no target named 'nosuch'", "switch", "nosuch");
	CLI_EXPECT(k, 2, NULL, "usage: kvmswitch switch TARGET", "switch");
	CLI_EXPECT(k, 2, NULL, "usage:", "switch", "a", "b");
	CLI_EXPECT(k, 2, NULL, "unknown command 'frobnicate'", "frobnicate");
	CLI_EXPECT(k, 2, NULL, "usage: kvmswitch status", "status", "--bogus");
	CLI_EXPECT(k, 0, "released\n", NULL, "release");
	assert_active(k, "host");
	cli_expect(NULL, NULL, (const char *const[]){ "toggle", NULL }, 3, NULL, "cannot reach the daemon");
	cli_expect(NULL, NULL, (const char *const[]){ "status", "--json", NULL }, 3, NULL, "is `kvmswitch run` running?");
}

/* ======================================================================== */
/* Junk, floods and crowds never stop the keys                              */

ITEST_TIMEOUT(garbage_and_huge_lines_rejected_while_forwarding, 180)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	int fd = tsock_unix_connect(ksd_socket(k));

	/* Every request line gets exactly one reply, in order. */
	tsock_send_str(fd, "frobnicate\n\n\x01\x02\x03\nswitch g\xc3\xa4st\nstatus please\nswitch\nping\n");
	expect_line_prefix(fd, "error unknown command 'frobnicate'");
	expect_line(fd, "error empty request");
	expect_line(fd, "error control character in request");
	expect_line(fd, "error request is not plain ASCII");
	expect_line(fd, "error 'status' takes no argument");
	expect_line(fd, "error 'switch' needs an argument");
	expect_line(fd, "ok pong");
	tsock_send_all(fd, "sta\0tus\n", 8);
	expect_line(fd, "error control character in request");
	expect_tap(kbd, gk, KEY_G);

	/* A 1 MiB line, in pieces, keys typed in between: they keep arriving. */
	size_t chunk = 64 * 1024, total = 1024 * 1024;
	char *junk = malloc(chunk);
	memset(junk, 'x', chunk);
	for (size_t sent = 0, i = 0; sent < total; sent += chunk, i++) {
		tsock_send_all(fd, junk, chunk);
		if (i % 4 == 0)
			expect_tap(kbd, gk, KEY_A + (unsigned)(i / 4) % 8);
	}
	tsock_send_str(fd, "\n");
	free(junk);
	expect_line(fd, "error request longer than 1023 bytes");
	/* The connection is still usable after the discarded line. */
	tsock_send_str(fd, "ping\n");
	expect_line(fd, "ok pong");
	expect_tap(kbd, gk, KEY_Z);

	/* Raw binary noise on another connection. */
	int noise = tsock_unix_connect(ksd_socket(k));
	unsigned char bin[8192];
	ITEST_ASSERT(sodium_init() >= 0);
	randombytes_buf(bin, sizeof(bin));
	for (size_t i = 0; i < sizeof(bin); i++)
		if (bin[i] == '\n')
			bin[i] = 0;
	tsock_send_all(noise, bin, sizeof(bin));
	tsock_send_str(noise, "\n");
	expect_line(noise, "error request longer than 1023 bytes");
	close(noise);
	close(fd);
	expect_tap(kbd, gk, KEY_X);
	assert_active(k, "guest");
	ITEST_ASSERT(tproc_running(ksd_proc(k)));
}

ITEST_TIMEOUT(idle_connections_and_crowds_do_not_stall, 180)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");

	/* 100 connections that say nothing, 10 that stop mid-line. */
	int idle[110];
	for (int i = 0; i < 110; i++) {
		idle[i] = tsock_unix_connect(ksd_socket(k));
		if (i >= 100)
			tsock_send_str(idle[i], "stat");
	}
	int64_t t0 = itest_now_ms();
	char *s = ksd_request(k, "status");
	int64_t dt = itest_now_ms() - t0;
	ITEST_ASSERT_MSG(strncmp(s, "ok {", 4) == 0, "bad status reply: %.100s", s);
	const char *c = strstr(s, "\"clients\":");
	ITEST_ASSERT_NOT_NULL(c);
	ITEST_ASSERT_GE_INT(atoi(c + 10), 111); /* all held open, status answered */
	free(s);
	itest_log("status with 110 idle clients: %lld ms", (long long)dt);
	ITEST_ASSERT_LT_INT(dt, 2000);
	CLI_EXPECT(k, 0, "guest\n", NULL, "switch", "guest");
	expect_tap(kbd, gk, KEY_I);

	/* 50 clients at once, each with a request in flight. */
	int many[50];
	for (int i = 0; i < 50; i++) {
		many[i] = tsock_unix_connect(ksd_socket(k));
		tsock_send_str(many[i], i % 2 ? "status\n" : "ping\n");
	}
	for (int i = 0; i < 50; i++) {
		expect_line_prefix(many[i], i % 2 ? "ok {\"version\"" : "ok pong");
		close(many[i]);
	}

	/* A client that asks and never reads is dropped once its replies
	 * pile up; nobody else notices. */
	int hog = tsock_unix_connect(ksd_socket(k));
	int sndbuf = 4096;
	setsockopt(hog, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
	char reqs[7000];
	for (size_t i = 0; i + 7 <= sizeof(reqs); i += 7)
		memcpy(reqs + i, "status\n", 7);
	bool dropped = false;
	for (int round = 0; round < 400 && !dropped; round++) {
		ssize_t w = send(hog, reqs, sizeof(reqs) / 7 * 7, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN)
			dropped = true; /* EPIPE / ECONNRESET: the daemon let go */
		else
			usleep(10000);
	}
	ITEST_ASSERT_MSG(dropped, "a client that never reads was not dropped");
	close(hog);
	expect_tap(kbd, gk, KEY_J);
	for (int i = 0; i < 110; i++)
		close(idle[i]);
	CLI_EXPECT(k, 0, "active: guest", NULL, "status");
}

/* subscribe: "ok subscribed ACTIVE", then "event switch FROM TO REASON";
 * the CLI prints "active X" and "switch FROM TO REASON" lines, and exits 3
 * when the daemon goes away. */
ITEST_TIMEOUT(subscribe_stream, 120)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(NULL);
	wait_taken(k, kbd, false);
	int fd = tsock_unix_connect(ksd_socket(k));
	tsock_send_str(fd, "subscribe\n");
	expect_line(fd, "ok subscribed host");

	char env0[4200];
	snprintf(env0, sizeof(env0), "KVMSWITCH_SOCKET=%s", ksd_socket(k));
	const char *env[] = { env0, NULL };
	struct tproc *sub = tproc_spawn((const char *const[]){ ksd_binary(), "subscribe", NULL }, env);
	int64_t deadline = itest_now_ms() + 10000;
	char *out = NULL;
	while (itest_now_ms() < deadline) {
		free(out);
		out = itest_read_file(tproc_stdout_path(sub), NULL);
		if (out && strstr(out, "active host\n"))
			break;
		usleep(50000);
	}
	ITEST_ASSERT_STR_EQ(out, "active host\n");

	ksd_switch(k, "guest");
	expect_line(fd, "event switch host guest command");
	/* The hotkey: a different reason. */
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	expect_line(fd, "event switch guest host hotkey");
	CLI_EXPECT(k, 0, "released", NULL, "release");
	expect_line(fd, "event switch host host emergency");
	/* A subscriber may still send requests; replies come in order. */
	tsock_send_str(fd, "ping\n");
	expect_line(fd, "ok pong");

	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
	ITEST_ASSERT(tsock_wait_closed(fd, T));
	ITEST_ASSERT_EQ_INT(tproc_wait(sub, 10000), 3);
	free(out);
	out = itest_read_file(tproc_stdout_path(sub), NULL);
	ITEST_ASSERT_STR_EQ(out, "active host\nswitch host guest command\nswitch guest host hotkey\n"
				 "switch host host emergency\n");
	free(out);
	close(fd);
}

/* ======================================================================== */
/* Hooks                                                                    */

/* A hook line: "TARGET|PREVIOUS|REASON|HOOK|STDIN", appended to a file. */
#define HOOK_RECORD(file)                                                                                  \
	"printf '%%s|%%s|%%s|%%s|%%s\\n' \"$KVMSWITCH_TARGET\" \"$KVMSWITCH_PREVIOUS\" \"$KVMSWITCH_REASON\" "   \
	"\"$KVMSWITCH_HOOK\" \"$(readlink /proc/$$/fd/0)\" >> " file

static bool file_has_lines(const char *path, int lines, int timeout_ms, char **text)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		char *t = itest_read_file(path, NULL);
		int n = 0;
		for (const char *p = t; p && *p; p++)
			n += *p == '\n';
		if (n >= lines || itest_now_ms() >= deadline) {
			*text = t;
			return n >= lines;
		}
		free(t);
		usleep(50000);
	}
}

ITEST_TIMEOUT(hooks_run_with_the_switch_environment, 120)
{
	char *rec = itest_tmpfile("hooks.txt");
	char cfg[4096];
	snprintf(cfg, sizeof(cfg),
		 KSD_MATCH_TEST_DEVICES "[target host]\non-enter = " HOOK_RECORD("%s") "\non-leave = " HOOK_RECORD("%s")
					"\n[target guest]\non-enter = " HOOK_RECORD("%s") "\non-leave = " HOOK_RECORD("%s") "\n",
		 rec, rec, rec, rec);
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(cfg);
	wait_taken(k, kbd, false);
	char *text;
	ITEST_ASSERT_MSG(file_has_lines(rec, 1, 10000, &text), "the start hook did not run");
	ITEST_ASSERT_STR_EQ(text, "host||start|on-enter|/dev/null\n");
	free(text);

	ksd_switch(k, "guest");
	ITEST_ASSERT(file_has_lines(rec, 3, 10000, &text));
	free(text);
	/* The hotkey back. */
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	ITEST_ASSERT(file_has_lines(rec, 5, 10000, &text));
	/* In switch order: the old target's on-leave, then the new one's on-enter. */
	ITEST_ASSERT_STR_EQ(text, "host||start|on-enter|/dev/null\n"
				  "guest|host|command|on-leave|/dev/null\n"
				  "guest|host|command|on-enter|/dev/null\n"
				  "host|guest|hotkey|on-leave|/dev/null\n"
				  "host|guest|hotkey|on-enter|/dev/null\n");
	free(text);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "hooks_run"), 5);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "hooks_failed"), 0);
}

ITEST_TIMEOUT(failing_hooks_are_logged_and_switching_goes_on, 120)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	/* A program that is missing at start is refused (kvmswitch check and
	 * run, test_cli); one that only the shell can find (quoted) fails the
	 * way a program deleted after the start does. */
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[target host]\nmode = virtual\n"
				  "on-enter = \"/nonexistent/monitor-input\"\n"
				  "[target guest]\non-enter = echo to-stdout; echo to-stderr >&2; exit 7\n"
				  "on-leave = kill -9 $$\n");
	wait_taken(k, kbd, true);
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	ASSERT_LOG(k, "hook on-enter of target 'host' failed: exit status 127, command not found (command: \"/nonexistent/monitor-input\")", 10000);

	ksd_switch(k, "guest");
	expect_tap(kbd, gk, KEY_Q);
	ASSERT_LOG(k, "hook on-enter of 'guest': to-stdout", 10000);
	ASSERT_LOG(k, "hook on-enter of 'guest': to-stderr", 10000);
	ASSERT_LOG(k, "hook on-enter of target 'guest' failed: exit status 7 (command: echo to-stdout; echo to-stderr >&2; exit 7)", 10000);
	ksd_switch(k, "host");
	expect_tap(kbd, hk, KEY_W);
	ASSERT_LOG(k, "hook on-leave of target 'guest' failed: killed by signal 9 (Killed) (command: kill -9 $$)", 10000);
	int64_t deadline = itest_now_ms() + 10000;
	while (ksd_counter(k, "hooks_failed") < 4 && itest_now_ms() < deadline)
		usleep(50000);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "hooks_failed"), 4);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "hooks_run"), 4);
	ksd_switch(k, "guest");
	expect_tap(kbd, gk, KEY_E);
	ITEST_ASSERT(tproc_running(ksd_proc(k)));
}

/* A hook that hangs delays neither keys nor switches; it is stopped after
 * its timeout (KVMSWITCH_HOOK_TIMEOUT=3 here; 30 s by default), its whole
 * process group with it, and the hooks queued behind it run then. */
ITEST_TIMEOUT(slow_hook_does_not_delay_input_and_times_out, 120)
{
	char *rec = itest_tmpfile("after.txt");
	char cfg[2048];
	snprintf(cfg, sizeof(cfg),
		 KSD_MATCH_TEST_DEVICES "[target host]\nmode = virtual\non-enter = echo host >> %s\n"
					"[target guest]\non-enter = sleep 600 & sleep 500\n",
		 rec);
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	const char *env[] = { "KVMSWITCH_HOOK_TIMEOUT=3", NULL };
	struct ksd *k = ksd_start_env(cfg, env);
	wait_taken(k, kbd, true);
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	char *text;
	ITEST_ASSERT(file_has_lines(rec, 1, 10000, &text));
	free(text);

	int64_t t0 = itest_now_ms();
	ksd_switch(k, "guest");
	expect_tap(kbd, gk, KEY_S);
	ksd_switch(k, "host");
	expect_tap(kbd, hk, KEY_H);
	int64_t dt = itest_now_ms() - t0;
	ITEST_ASSERT_MSG(dt < 2500, "switching and typing took %lld ms with a hook hanging", (long long)dt);
	/* host's on-enter waits behind the hanging hook. */
	ITEST_ASSERT(file_has_lines(rec, 1, 0, &text));
	ITEST_ASSERT_STR_EQ(text, "host\n");
	free(text);

	ASSERT_LOG(k, "hook on-enter of target 'guest' still running after 3 s: stopping it (command: sleep 600 & sleep 500)", 20000);
	ASSERT_LOG(k, "hook on-enter of target 'guest' failed: killed by signal 15 (Terminated) after its timeout", 10000);
	ITEST_ASSERT(file_has_lines(rec, 2, 10000, &text));
	ITEST_ASSERT_STR_EQ(text, "host\nhost\n");
	free(text);
	/* The background sleep went with it: no sleep 600 left. */
	FILE *ps = popen("pgrep -f '^sleep 600$'", "r");
	ITEST_ASSERT_NOT_NULL(ps);
	char buf[64] = "";
	bool left = fgets(buf, sizeof(buf), ps) != NULL;
	pclose(ps);
	ITEST_ASSERT_MSG(!left, "the hook's background child survived (pid %s)", buf);
}

/* ======================================================================== */
/* Reload                                                                   */

ITEST_TIMEOUT(reload_broken_config_keeps_the_old_one, 180)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	char *gnode = ksd_vdev_node(k, "guest", "keyboard");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");

	write_config(k, CFG_GUEST "[target win]\ntype = evdev\nfrobnicate = yes\n");
	char want[4200];
	snprintf(want, sizeof(want), "%s:7: unknown key 'frobnicate'", ksd_config_path(k));
	CLI_EXPECT(k, 1, NULL, want, "reload");
	/* SIGHUP the same: logged, kept. */
	tproc_kill(ksd_proc(k), SIGHUP);
	ASSERT_LOG(k, "reload refused, keeping the running configuration: ", T);

	char *s = ksd_request(k, "status");
	ITEST_ASSERT_MSG(!strstr(s, "\"win\""), "the broken config's target appeared: %.300s", s);
	ITEST_ASSERT_STR_CONTAINS(s, "\"reloads\":0");
	free(s);
	CLI_EXPECT(k, 1, NULL, "no target named 'win'", "switch", "win");
	/* The same guest device, still fed. */
	char *again = ksd_vdev_node(k, "guest", "keyboard");
	ITEST_ASSERT_STR_EQ(again, gnode);
	expect_tap(kbd, gk, KEY_K);
	ITEST_ASSERT(!treader_gone(gk));
	free(again);
	free(gnode);
}

ITEST_TIMEOUT(reload_applies_a_good_config, 180)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start("[general]\nstart = guest\n[input]\nmatch = name:\"kvmtest kbd\"\n");
	wait_taken(k, kbd, true);
	char *s = ksd_request(k, "status");
	ITEST_ASSERT_MSG(!strstr(s, tdev_devnode(mouse)), "the mouse is taken before the reload");
	free(s);
	char *gnode = ksd_vdev_node(k, "guest", "keyboard");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");

	/* A new target and a match rule that now takes the mouse. */
	write_config(k, "[general]\nstart = guest\n[input]\nmatch = name:\"kvmtest kbd\"\nmatch = name:\"kvmtest mouse\"\n"
			"[target host]\n[target guest]\n[target win]\ntype = evdev\n");
	CLI_EXPECT(k, 0, "reloaded\n", NULL, "reload");
	wait_taken(k, mouse, true);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "reloads"), 1);
	assert_active(k, "guest");
	char *again = ksd_vdev_node(k, "guest", "keyboard");
	ITEST_ASSERT_STR_EQ(again, gnode);
	expect_tap(kbd, gk, KEY_R);
	struct treader *wk = ksd_open_vdev(k, "win", "keyboard");
	struct treader *wp = ksd_open_vdev(k, "win", "pointer");
	CLI_EXPECT(k, 0, "win\n", NULL, "switch", "win");
	expect_tap(kbd, wk, KEY_W);
	TDEV_FRAME(mouse, { EV_REL, REL_X, 7 });
	TREADER_EXPECT(wp, T, { EV_REL, REL_X, 7 }, { EV_SYN, SYN_REPORT, 0 });
	treader_expect_silence(gk, 100);

	/* And the match rule taken away again: the mouse is let go. */
	write_config(k, "[general]\nstart = guest\n[input]\nmatch = name:\"kvmtest kbd\"\n"
			"[target host]\n[target guest]\n[target win]\ntype = evdev\n");
	CLI_EXPECT(k, 0, "reloaded\n", NULL, "reload");
	ITEST_ASSERT(ksd_wait_input_gone(k, tdev_devnode(mouse), 10000));
	assert_active(k, "win");
	expect_tap(kbd, wk, KEY_V);
	free(again);
	free(gnode);
}

/* ======================================================================== */
/* The network listener                                                     */

#define LISTENER_TIMEOUT 5000 /* ms from accept to the response */
#define SECRET "c2VjcmV0LXRoYXQtaXMtbG9uZy1lbm91Z2gtZm9yLWhtYWMK"

struct lsn {
	struct ksd *k;
	int port;
	char address[64];
	char *secret_file, *wrong_file;
};

/* A daemon with [listener] on 127.0.0.1:PORT and the secret SECRET. */
static struct lsn lsn_start(const char *extra, int rate, const char *const env[])
{
	struct lsn l = { 0 };
	l.secret_file = itest_tmpfile_with("secret", SECRET "\n", 0600);
	l.wrong_file = itest_tmpfile_with("wrong", "d3Jvbmctc2VjcmV0LWJ1dC1sb25nLWVub3VnaAo=\n", 0600);
	l.port = tsock_free_tcp_port();
	snprintf(l.address, sizeof(l.address), "tcp:127.0.0.1:%d", l.port);
	char cfg[4096];
	snprintf(cfg, sizeof(cfg),
		 KSD_MATCH_TEST_DEVICES "%s[listener]\nenable = yes\naddress = %s\nsecret-file = %s\nrate-limit = %d\n",
		 extra ? extra : "", l.address, l.secret_file, rate);
	l.k = ksd_start_env(cfg, env);
	ASSERT_LOG(l.k, "listener on tcp:127.0.0.1:", T);
	return l;
}

/* One authenticated exchange over TCP; returns the reply line. */
static char *lsn_exchange(struct lsn *l, const char *secret, const char *cmd)
{
	int fd = tsock_tcp_connect(l->port);
	char *ch = tsock_auth_challenge(fd, T);
	char *resp = tsock_auth_response(ch, secret, cmd);
	tsock_send_str(fd, resp);
	char *reply = tsock_recv_line(fd, T);
	ITEST_ASSERT_MSG(reply != NULL, "no reply to '%s'", cmd);
	ITEST_ASSERT_MSG(tsock_wait_closed(fd, T), "the listener kept the connection after its reply");
	close(fd);
	free(ch);
	free(resp);
	return reply;
}

static void remote_expect(struct lsn *l, const char *secret_file, const char *cmd, const char *arg, int status,
			  const char *out, const char *err)
{
	cli_expect(NULL, NULL, (const char *const[]){ "remote", "--secret-file", secret_file, l->address, cmd, arg, NULL },
		   status, out, err);
}

ITEST_TIMEOUT(listener_refuses_wrong_secret_accepts_right_one, 240)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct lsn l = lsn_start(NULL, 10, NULL);
	wait_taken(l.k, kbd, false);
	struct treader *gk = ksd_open_vdev(l.k, "guest", "keyboard");

	remote_expect(&l, l.wrong_file, "switch", "guest", 1, NULL, "authentication failed");
	assert_active(l.k, "host");
	ASSERT_LOG(l.k, "listener: authentication failed from 127.0.0.1", T);
	remote_expect(&l, l.secret_file, "switch", "guest", 0, "guest\n", NULL);
	assert_active(l.k, "guest");
	wait_taken(l.k, kbd, true);
	expect_tap(kbd, gk, KEY_L);
	remote_expect(&l, l.secret_file, "toggle", NULL, 0, "host\n", NULL);
	remote_expect(&l, l.secret_file, "next", NULL, 0, "guest\n", NULL);
	remote_expect(&l, l.secret_file, "prev", NULL, 0, "host\n", NULL);
	ASSERT_LOG(l.k, "listener: 127.0.0.1: switch guest -> ok guest", T);
}

/* The wire protocol as docs/protocol.md describes it, spoken by a client
 * with its own HMAC (Python's hmac module, not libsodium). */
static const char py_client[] =
	"import hashlib, hmac, socket, sys\n"
	"secret = open(sys.argv[1], 'rb').read().rstrip(b' \\t\\r\\n')\n"
	"s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=20)\n"
	"f = s.makefile('rwb')\n"
	"challenge = f.readline().rstrip(b'\\n')\n"
	"cmd = sys.argv[4].encode()\n"
	"mac = hmac.new(secret, challenge + b' ' + cmd, hashlib.sha256).hexdigest().upper().encode()\n"
	"f.write(mac + b' ' + cmd + b'\\r\\n')\n"
	"f.flush()\n"
	"print(f.readline().decode().rstrip('\\n'))\n";

ITEST_TIMEOUT(listener_protocol_matches_an_independent_hmac, 120)
{
	const char *py = "/usr/bin/python3";
	if (access(py, X_OK) != 0)
		itest_skip("no %s for an independent client", py);
	struct lsn l = lsn_start(NULL, 10, NULL);
	char port[16];
	snprintf(port, sizeof(port), "%d", l.port);
	struct tproc *p = tproc_spawn((const char *const[]){ py, "-c", py_client, l.secret_file, "127.0.0.1", port,
							     "switch guest", NULL },
				      NULL);
	ITEST_ASSERT_EQ_INT(tproc_wait(p, 60000), 0);
	char *out = itest_read_file(tproc_stdout_path(p), NULL);
	ITEST_ASSERT_STR_EQ(out, "ok guest\n");
	free(out);
	assert_active(l.k, "guest");
	p = tproc_spawn((const char *const[]){ py, "-c", py_client, l.wrong_file, "127.0.0.1", port, "toggle", NULL },
			NULL);
	ITEST_ASSERT_EQ_INT(tproc_wait(p, 60000), 0);
	out = itest_read_file(tproc_stdout_path(p), NULL);
	ITEST_ASSERT_STR_EQ(out, "error authentication failed\n");
	free(out);
	assert_active(l.k, "guest");
}

ITEST_TIMEOUT(listener_refuses_replayed_responses, 120)
{
	struct lsn l = lsn_start(NULL, 10, NULL);
	int a = tsock_tcp_connect(l.port);
	char *ch1 = tsock_auth_challenge(a, T);
	char *resp1 = tsock_auth_response(ch1, SECRET, "switch guest");
	tsock_send_str(a, resp1);
	expect_line(a, "ok guest");
	/* One response per connection: a second line is never read. */
	tsock_send_str(a, resp1);
	ITEST_ASSERT(tsock_wait_closed(a, T));
	close(a);
	ksd_switch(l.k, "host");

	/* The same response on a new connection: a new nonce, so refused. */
	int b = tsock_tcp_connect(l.port);
	char *ch2 = tsock_auth_challenge(b, T);
	ITEST_ASSERT_STR_NE(ch2, ch1);
	tsock_send_str(b, resp1);
	expect_line(b, "error authentication failed");
	close(b);
	assert_active(l.k, "host");
	/* Nor does a MAC for one command carry another. */
	int c = tsock_tcp_connect(l.port);
	char *ch3 = tsock_auth_challenge(c, T);
	char *resp3 = tsock_auth_response(ch3, SECRET, "switch guest");
	memcpy(strchr(resp3, ' '), " toggle\n", 9);
	tsock_send_str(c, resp3);
	expect_line(c, "error authentication failed");
	close(c);
	assert_active(l.k, "host");
	free(ch1);
	free(ch2);
	free(ch3);
	free(resp1);
	free(resp3);
}

/* rate-limit = 3: three failures use up the source's bucket; then even the
 * right secret is refused until it refills (one token per 20 s). Good
 * attempts give their token back, so they never run out. */
ITEST_TIMEOUT(listener_rate_limit, 240)
{
	struct lsn l = lsn_start(NULL, 3, NULL);
	for (int i = 0; i < 5; i++) {
		char *r = lsn_exchange(&l, SECRET, i % 2 ? "switch host" : "switch guest");
		ITEST_ASSERT_STR_EQ(r, i % 2 ? "ok host" : "ok guest");
		free(r);
	}
	for (int i = 0; i < 3; i++) {
		char *r = lsn_exchange(&l, "not the secret at all, no", "switch guest");
		ITEST_ASSERT_STR_EQ(r, "error authentication failed");
		free(r);
	}
	int fd = tsock_tcp_connect(l.port);
	expect_line(fd, "error rate limited: too many attempts; try again later");
	ITEST_ASSERT(tsock_wait_closed(fd, T));
	close(fd);
	remote_expect(&l, l.secret_file, "switch", "host", 1, NULL, "rate limited");
	ASSERT_LOG(l.k, "listener: 127.0.0.1 is rate limited", T);
	assert_active(l.k, "guest");
	/* A token comes back after 20 s. */
	int64_t deadline = itest_now_ms() + 40000;
	struct cli_result r;
	for (;;) {
		r = cli_run(NULL, NULL, (const char *const[]){ "remote", "-s", l.secret_file, l.address, "switch", "host", NULL });
		if (r.status == 0 || itest_now_ms() > deadline)
			break;
		cli_free(&r);
		sleep(2);
	}
	ITEST_ASSERT_MSG(r.status == 0, "still refused after the refill: %s", r.err);
	cli_free(&r);
	assert_active(l.k, "host");
}

ITEST_TIMEOUT(listener_refuses_non_switch_commands_and_junk, 180)
{
	struct lsn l = lsn_start(NULL, 100, NULL);
	static const char *const refused[] = { "status", "list", "release", "reload", "subscribe", "ping", "version" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *r = lsn_exchange(&l, SECRET, refused[i]);
		char want[200];
		snprintf(want, sizeof(want), "error '%s' is not allowed over the network (switch, toggle, next, prev)",
			 refused[i]);
		ITEST_ASSERT_STR_EQ(r, want);
		free(r);
	}
	char *r = lsn_exchange(&l, SECRET, "switch nosuch");
	ITEST_ASSERT_STR_EQ(r, "error no target named 'nosuch'");
	free(r);
	r = lsn_exchange(&l, SECRET, "frobnicate");
	ITEST_ASSERT_MSG(strncmp(r, "error unknown command 'frobnicate'", 34) == 0, "%s", r);
	free(r);
	assert_active(l.k, "host");
	/* The CLI refuses them before asking. */
	remote_expect(&l, l.secret_file, "status", NULL, 2, NULL, "'status' is not allowed over the network");

	/* Junk instead of a response; an endless line; silence. */
	int fd = tsock_tcp_connect(l.port);
	free(tsock_auth_challenge(fd, T));
	tsock_send_str(fd, "hello\n");
	expect_line(fd, "error expected 'MAC COMMAND' (MAC: 64 hex digits)");
	close(fd);
	fd = tsock_tcp_connect(l.port);
	free(tsock_auth_challenge(fd, T));
	char big[4096];
	memset(big, 'a', sizeof(big));
	send(fd, big, sizeof(big), MSG_NOSIGNAL);
	expect_line_prefix(fd, "error response longer than");
	close(fd);
	fd = tsock_tcp_connect(l.port);
	free(tsock_auth_challenge(fd, T));
	int64_t t0 = itest_now_ms();
	char *to = tsock_recv_line(fd, 3 * LISTENER_TIMEOUT);
	ITEST_ASSERT_STR_EQ(to, "error timed out");
	ITEST_ASSERT_GE_INT(itest_now_ms() - t0, LISTENER_TIMEOUT - 1000);
	free(to);
	close(fd);
	/* The daemon's own socket still works, and the listener too. */
	CLI_EXPECT(l.k, 0, "active: host", NULL, "status");
	r = lsn_exchange(&l, SECRET, "switch guest");
	ITEST_ASSERT_STR_EQ(r, "ok guest");
	free(r);
}

ITEST_TIMEOUT(listener_secret_file_checks_and_reload, 240)
{
	/* Group-readable or empty: the daemon refuses to start, and says why. */
	char *loose = itest_tmpfile_with("loose", SECRET "\n", 0640);
	char *empty = itest_tmpfile_with("empty", "\n", 0600);
	struct {
		const char *file;
		const char *msg;
	} bad[] = { { loose, "is accessible by group or others (mode 0640); run: chmod 600" },
		    { empty, "is not usable: it is empty" },
		    { "/nonexistent/secret", "cannot open the secret file /nonexistent/secret" } };
	for (size_t i = 0; i < 3; i++) {
		char text[2048];
		snprintf(text, sizeof(text), "[listener]\nenable = yes\naddress = tcp:127.0.0.1:%d\nsecret-file = %s\n",
			 tsock_free_tcp_port(), bad[i].file);
		char *conf = itest_tmpfile_with("bad.conf", text, 0644);
		char env0[4200];
		snprintf(env0, sizeof(env0), "KVMSWITCH_SOCKET=%s/bad.sock", itest_tmpdir());
		struct tproc *p = tproc_spawn((const char *const[]){ ksd_binary(), "run", "-c", conf, NULL },
					      (const char *const[]){ env0, NULL });
		ITEST_ASSERT_EQ_INT(tproc_wait(p, 20000), 1);
		char *err = itest_read_file(tproc_stderr_path(p), NULL);
		ITEST_ASSERT_STR_CONTAINS(err, bad[i].msg);
		free(err);
		free(conf);
	}

	/* Reload re-reads the secret; a loosened file is refused and the old
	 * secret stays in force. */
	struct lsn l = lsn_start(NULL, 100, NULL);
	ITEST_ASSERT_SYSCALL(chmod(l.secret_file, 0644));
	CLI_EXPECT(l.k, 1, NULL, "is accessible by group or others", "reload");
	char *r = lsn_exchange(&l, SECRET, "switch guest");
	ITEST_ASSERT_STR_EQ(r, "ok guest");
	free(r);
	free(itest_tmpfile_with("secret", "bmV3LXNlY3JldC1hZnRlci1yZWxvYWQ=\n", 0600));
	CLI_EXPECT(l.k, 0, "reloaded", NULL, "reload");
	r = lsn_exchange(&l, SECRET, "switch host");
	ITEST_ASSERT_STR_EQ(r, "error authentication failed");
	free(r);
	r = lsn_exchange(&l, "bmV3LXNlY3JldC1hZnRlci1yZWxvYWQ=", "switch host");
	ITEST_ASSERT_STR_EQ(r, "ok host");
	free(r);
	/* Disabled by a reload: nothing listens any more. */
	write_config(l.k, KSD_MATCH_TEST_DEVICES);
	CLI_EXPECT(l.k, 0, "reloaded", NULL, "reload");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)l.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ITEST_ASSERT_MSG(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED,
			 "the listener still accepts after it was disabled");
	close(fd);
}

/* A file of exactly these bytes (they may hold NULs), mode 0600. */
static char *secret_file_bytes(const char *name, const void *data, size_t len)
{
	char *path = itest_tmpfile(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ITEST_ASSERT_SYSCALL(fd);
	ITEST_ASSERT_EQ_INT(write(fd, data, len), (long long)len);
	close(fd);
	return path;
}

/* SECRET as Windows writes it: UTF-16 (little- or big-endian) with a
 * byte-order mark and CRLF, as PowerShell 5.1's `>` and Out-File do. */
static char *secret_file_utf16(const char *name, bool le)
{
	const char *text = SECRET "\r\n";
	size_t n = strlen(text);
	unsigned char *b = malloc(2 + 2 * n);
	ITEST_ASSERT_NOT_NULL(b);
	b[0] = le ? 0xff : 0xfe;
	b[1] = le ? 0xfe : 0xff;
	for (size_t i = 0; i < n; i++) {
		b[2 + 2 * i] = le ? (unsigned char)text[i] : 0;
		b[3 + 2 * i] = le ? 0 : (unsigned char)text[i];
	}
	char *path = secret_file_bytes(name, b, 2 + 2 * n);
	free(b);
	return path;
}

/* One rule for the secret file on both ends (core/auth.h,
 * auth_secret_decode): a UTF-8 byte-order mark and UTF-16 text with one,
 * as Windows editors and PowerShell 5.1 write them, give the same secret
 * as the plain file, whether the client's file or the daemon's is such. */
ITEST_TIMEOUT(listener_secret_file_with_bom_or_utf16, 180)
{
	struct lsn l = lsn_start(NULL, 100, NULL);
	char *bom = secret_file_bytes("secret-bom", "\xef\xbb\xbf" SECRET "\r\n", strlen(SECRET) + 5);
	char *le = secret_file_utf16("secret-utf16le", true), *be = secret_file_utf16("secret-utf16be", false);
	remote_expect(&l, bom, "switch", "guest", 0, "guest\n", NULL);
	remote_expect(&l, le, "switch", "host", 0, "host\n", NULL);
	remote_expect(&l, be, "switch", "guest", 0, "guest\n", NULL);
	/* The same bytes with a BOM in the middle are another secret. */
	char *mid = secret_file_bytes("secret-mid", "x\xef\xbb\xbf" SECRET, strlen(SECRET) + 4);
	remote_expect(&l, mid, "switch", "host", 1, NULL, "authentication failed");
	/* A UTF-16 file that is not whole is refused before anything is sent. */
	char *odd = secret_file_bytes("secret-odd", "\xff\xfe" "a\0b\0c", 7);
	remote_expect(&l, odd, "switch", "host", 2, NULL, "has an odd number of bytes");
	assert_active(l.k, "guest");

	/* The daemon's secret file in UTF-16: the plain file's secret works. */
	char cfg[4096];
	snprintf(cfg, sizeof(cfg), KSD_MATCH_TEST_DEVICES "[listener]\nenable = yes\naddress = %s\nsecret-file = %s\n",
		 l.address, le);
	write_config(l.k, cfg);
	CLI_EXPECT(l.k, 0, "reloaded", NULL, "reload");
	remote_expect(&l, l.secret_file, "switch", "host", 0, "host\n", NULL);
	char *r = lsn_exchange(&l, SECRET, "switch guest");
	ITEST_ASSERT_STR_EQ(r, "ok guest");
	free(r);
	free(bom);
	free(le);
	free(be);
	free(mid);
	free(odd);
}

/* Off by default: a daemon without [listener] listens on no TCP port. */
ITEST(listener_off_by_default)
{
	if (!getenv("KVMSWITCH_IN_VM"))
		itest_skip("reads the machine's listening sockets: only in the test VM");
	struct ksd *k = ksd_start(NULL);
	(void)k;
	static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	for (size_t i = 0; i < 2; i++) {
		char *t = itest_read_file(tables[i], NULL);
		if (!t)
			continue;
		/* st 0A is LISTEN (the 4th column). */
		int listening = 0;
		for (char *line = strchr(t, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
			char st[8] = "";
			if (sscanf(line + 1, "%*s %*s %*s %7s", st) == 1 && !strcmp(st, "0A"))
				listening++;
		}
		ITEST_ASSERT_MSG(listening == 0, "%d listening sockets in %s", listening, tables[i]);
		free(t);
	}
	ITEST_ASSERT_MSG(!log_has(k, "listener on", 0), "a listener started without [listener]");
}

/* vsock (with the vsock_loopback module the test VM loads): CID 1 is
 * this machine; a guest would use vsock:host:PORT (CID 2). */
ITEST_TIMEOUT(listener_over_vsock, 120)
{
	int probe = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		itest_skip("no AF_VSOCK here: %s", strerror(errno));
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = 52001 };
	int cl = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_vm to = { .svm_family = AF_VSOCK, .svm_cid = 1, .svm_port = 52001 };
	if (bind(probe, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(probe, 1) < 0 ||
	    connect(cl, (struct sockaddr *)&to, sizeof(to)) < 0)
		itest_skip("no vsock loopback (modprobe vsock_loopback): %s", strerror(errno));
	close(cl);
	close(probe);

	char *secret = itest_tmpfile_with("secret", SECRET "\n", 0600);
	char cfg[2048];
	snprintf(cfg, sizeof(cfg), KSD_MATCH_TEST_DEVICES "[listener]\nenable = yes\naddress = vsock:any:52002\nsecret-file = %s\n",
		 secret);
	struct ksd *k = ksd_start(cfg);
	ASSERT_LOG(k, "listener on vsock:any:52002", T);
	cli_expect(NULL, NULL, (const char *const[]){ "remote", "-s", secret, "vsock:local:52002", "switch", "guest", NULL },
		   0, "guest\n", NULL);
	assert_active(k, "guest");
	char *wrong = itest_tmpfile_with("wrong", "d3Jvbmctc2VjcmV0LWJ1dC1sb25nLWVub3VnaAo=\n", 0600);
	cli_expect(NULL, NULL, (const char *const[]){ "remote", "-s", wrong, "vsock:local:52002", "toggle", NULL }, 1,
		   NULL, "authentication failed");
	assert_active(k, "guest");
	ASSERT_LOG(k, "listener: authentication failed from vsock CID 1", T);
	free(secret);
	free(wrong);
}

/* ======================================================================== */
/* The ssh forced command of docs/switch-back.md                            */

static const char *ssh_wrapper(void)
{
	static char path[4200];
	if (access("docs/switch-back/kvmswitch-ssh-switch", R_OK) == 0)
		return "docs/switch-back/kvmswitch-ssh-switch";
	char bin[4096];
	snprintf(bin, sizeof(bin), "%s", ksd_binary());
	char *slash = strrchr(bin, '/');
	*slash = '\0';
	snprintf(path, sizeof(path), "%s/../docs/switch-back/kvmswitch-ssh-switch", bin);
	ITEST_ASSERT_MSG(access(path, R_OK) == 0, "cannot find docs/switch-back/kvmswitch-ssh-switch");
	return path;
}

/* What the guest asked for (SSH_ORIGINAL_COMMAND) through the wrapper
 * allowing `allowed`; returns the exit status, stderr in *err. */
static int ssh_forced(struct ksd *k, const char *allowed, const char *asked, char **err)
{
	char bin[4096], pathenv[4300], sockenv[4200], cmdenv[512];
	snprintf(bin, sizeof(bin), "%s", ksd_binary());
	*strrchr(bin, '/') = '\0';
	snprintf(pathenv, sizeof(pathenv), "PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin", bin);
	snprintf(sockenv, sizeof(sockenv), "KVMSWITCH_SOCKET=%s", ksd_socket(k));
	snprintf(cmdenv, sizeof(cmdenv), "SSH_ORIGINAL_COMMAND=%s", asked);
	struct tproc *p = tproc_spawn((const char *const[]){ "/bin/sh", ssh_wrapper(), allowed, NULL },
				      (const char *const[]){ pathenv, sockenv, cmdenv, NULL });
	int status = tproc_wait(p, 30000);
	*err = itest_read_file(tproc_stderr_path(p), NULL);
	return status;
}

ITEST_TIMEOUT(ssh_forced_command_allows_only_switch, 180)
{
	struct ksd *k = ksd_start(CFG_GUEST);
	static const char *const refused[] = { "status", "release", "switch guest", "switch host; reboot",
					       "switch $(id)", "switch host host", "", "kvmswitch reload" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *err;
		ITEST_ASSERT_EQ_INT(ssh_forced(k, "host", refused[i], &err), 1);
		ITEST_ASSERT_STR_CONTAINS(err, "kvmswitch-ssh-switch: ");
		free(err);
	}
	assert_active(k, "guest");
	char *err;
	ITEST_ASSERT_EQ_INT(ssh_forced(k, "host", "switch host", &err), 0);
	free(err);
	assert_active(k, "host");
	ITEST_ASSERT_EQ_INT(ssh_forced(k, "host", "kvmswitch switch guest", &err), 1);
	ITEST_ASSERT_STR_CONTAINS(err, "switching to 'guest' is not allowed (allowed: host)");
	free(err);
	ITEST_ASSERT_EQ_INT(ssh_forced(k, "host guest", "kvmswitch switch guest", &err), 0);
	free(err);
	assert_active(k, "guest");
	/* The daemon's own refusals come through with its exit status. */
	ITEST_ASSERT_EQ_INT(ssh_forced(k, "", "switch nosuch", &err), 1);
	ITEST_ASSERT_STR_CONTAINS(err, "kvmswitch: no target named 'nosuch'");
	free(err);
}

/* root without a session (sudo strips XDG_RUNTIME_DIR): daemon and CLI
 * agree on /run/kvmswitch/kvmswitch.sock, made private by the daemon. */
ITEST(root_without_runtime_dir_uses_run_kvmswitch)
{
	if (!getenv("KVMSWITCH_IN_VM"))
		itest_skip("uses root's /run/kvmswitch: runs only in the test VM");
	char *conf = itest_tmpfile("k.conf");
	FILE *f = fopen(conf, "w");
	ITEST_ASSERT_NOT_NULL(f);
	fputs(KSD_MATCH_TEST_DEVICES, f);
	fclose(f);
	const char *run[] = { "env", "-u", "XDG_RUNTIME_DIR", "-u", "KVMSWITCH_SOCKET", ksd_binary(), "run", "-c", conf, NULL };
	struct tproc *d = tproc_spawn(run, NULL);
	struct stat st;
	int64_t deadline = itest_now_ms() + 20000;
	while (stat("/run/kvmswitch/kvmswitch.sock", &st) < 0 && itest_now_ms() < deadline)
		usleep(50 * 1000);
	ITEST_ASSERT_SYSCALL(stat("/run/kvmswitch/kvmswitch.sock", &st));
	ITEST_ASSERT_EQ_INT(st.st_mode & 0777, 0600);
	ITEST_ASSERT_SYSCALL(stat("/run/kvmswitch", &st));
	ITEST_ASSERT_EQ_INT(st.st_mode & 0777, 0700);
	const char *status[] = { "env", "-u", "XDG_RUNTIME_DIR", "-u", "KVMSWITCH_SOCKET", ksd_binary(), "status", "--json", NULL };
	struct tproc *c = tproc_spawn(status, NULL);
	ITEST_ASSERT_EQ_INT(tproc_wait(c, 30000), 0);
	char *out = itest_read_file(tproc_stdout_path(c), NULL);
	ITEST_ASSERT_NOT_NULL(out);
	ITEST_ASSERT_STR_CONTAINS(out, "\"active\":\"host\"");
	free(out);
	/* Looking in another place (a session's XDG_RUNTIME_DIR) finds nothing,
	 * and is told where the daemon is: root with KVMSWITCH_SOCKET, a user
	 * with sudo (it cannot even see into /run/kvmswitch). */
	char xdg[PATH_MAX + 32];
	snprintf(xdg, sizeof(xdg), "XDG_RUNTIME_DIR=%s", itest_tmpdir());
	ITEST_ASSERT_SYSCALL(chmod(itest_tmpdir(), 0777));
	const struct {
		const char *const *argv;
		const char *hint;
	} elsewhere[] = {
		{ (const char *const[]){ "env", "-u", "KVMSWITCH_SOCKET", xdg, ksd_binary(), "status", NULL },
		  "(the system unit's socket is /run/kvmswitch/kvmswitch.sock: KVMSWITCH_SOCKET=/run/kvmswitch/kvmswitch.sock kvmswitch ...)" },
		{ (const char *const[]){ "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-u",
					 "KVMSWITCH_SOCKET", xdg, ksd_binary(), "status", NULL },
		  "(the system unit's socket is /run/kvmswitch/kvmswitch.sock, root's only: sudo kvmswitch ...)" },
	};
	for (size_t i = 0; i < 2; i++) {
		c = tproc_spawn(elsewhere[i].argv, NULL);
		ITEST_ASSERT_EQ_INT(tproc_wait(c, 30000), 3);
		char *err = itest_read_file(tproc_stderr_path(c), NULL);
		ITEST_ASSERT_NOT_NULL(err);
		ITEST_ASSERT_STR_CONTAINS(err, "kvmswitch: cannot reach the daemon at ");
		ITEST_ASSERT_STR_CONTAINS(err, elsewhere[i].hint);
		free(err);
	}
	ITEST_ASSERT_EQ_INT(tproc_stop(d, 10000), 0);
	ITEST_ASSERT_MSG(access("/run/kvmswitch/kvmswitch.sock", F_OK) < 0, "socket left behind");
	free(conf);
}
