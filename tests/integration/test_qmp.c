/* `qmp = PATH` (src/shell/qmplink.c): a QEMU started with -qmp and no
 * input-linux objects gets kvmswitch's devices at run time, whether it
 * starts before or after kvmswitch, and again when it restarts; kvmswitch
 * deletes them when it exits, and talks only to a real socket. The QEMU is
 * tests/lib/qemu_consumer.c's, with a second QMP socket for kvmswitch (the
 * test keeps the first). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 30000

static void wait_taken(struct ksd *k, struct tdev *d)
{
	ITEST_ASSERT_MSG(ksd_wait_input(k, tdev_devnode(d), true, 10000), "%s is not grabbed by kvmswitch",
			 tdev_name(d));
}

/* A QEMU with no input objects and a second QMP socket at `path`. */
static struct qemu_consumer *qemu_with_qmp(const char *path)
{
	char *arg;
	ITEST_ASSERT(asprintf(&arg, "unix:%s,server=on,wait=off", path) > 0);
	const char *extra[] = { "-qmp", arg, NULL };
	struct qemu_consumer *q = qemu_consumer_start(NULL, 0, &(struct qemu_consumer_opts){ .extra = extra });
	free(arg);
	return q;
}

/* Waits until status shows target `t` with `needle` in it. */
static void wait_status(struct ksd *k, const char *needle, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;
	char *s = NULL;
	do {
		free(s);
		s = ksd_request(k, "status");
		if (strstr(s, needle)) {
			itest_count_assertion();
			free(s);
			return;
		}
		usleep(100000);
	} while (itest_now_ms() < end);
	ITEST_FAIL("no %s in status within %d ms: %.600s", needle, timeout_ms, s);
}

/* Target `target`'s device node of `kind`, from status (the daemon knows it
 * before udev has announced it). */
static char *status_node(struct ksd *k, const char *target, const char *kind)
{
	char *s = ksd_request(k, "status"), pat[96];
	snprintf(pat, sizeof(pat), "{\"name\":\"%s\"", target);
	const char *p = strstr(s, pat);
	ITEST_ASSERT_MSG(p != NULL, "no target %s in status", target);
	snprintf(pat, sizeof(pat), "\"%s\":\"", kind);
	p = strstr(p, pat);
	ITEST_ASSERT_MSG(p != NULL, "no %s of target %s in status", kind, target);
	p += strlen(pat);
	char *node = strndup(p, strcspn(p, "\""));
	free(s);
	return node;
}

/* Does anybody but kvmswitch hold the node (a second EVIOCGRAB gets EBUSY)? */
static bool grabbed_by_other(const char *node)
{
	int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ITEST_ASSERT_SYSCALL(fd);
	int rc = ioctl(fd, EVIOCGRAB, 1);
	if (rc == 0)
		ioctl(fd, EVIOCGRAB, 0);
	close(fd);
	return rc < 0;
}

static bool wait_grabbed_by_other(const char *node, bool want, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;
	do {
		if (grabbed_by_other(node) == want)
			return true;
		usleep(100000);
	} while (itest_now_ms() < end);
	return false;
}

/* kvmswitch first, QEMU later: kvmswitch waits for the socket, adds its
 * keyboard and pointer, and the keys typed reach QEMU. Then QEMU restarts
 * (its socket goes and comes back): kvmswitch adds them again. */
ITEST_TIMEOUT(qmp_adds_devices_to_qemu_and_again_after_its_restart, 300)
{
	char *sock = itest_tmpfile("ks.qmp");
	char cfg[1024];
	snprintf(cfg, sizeof(cfg), KSD_MATCH_TEST_DEVICES "[target guest]\nqmp = %s\n[general]\nstart = guest\n", sock);
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(cfg);
	wait_taken(k, kbd);
	char *kn = status_node(k, "guest", "keyboard"), *pn = status_node(k, "guest", "pointer");
	wait_status(k, "\"qmp\":{\"path\":", T);
	ITEST_ASSERT(!grabbed_by_other(kn));

	for (int round = 0; round < 2; round++) {
		struct qemu_consumer *q = qemu_with_qmp(sock);
		ITEST_ASSERT_MSG(wait_grabbed_by_other(kn, true, T), "QEMU (round %d) does not hold %s", round, kn);
		ITEST_ASSERT_MSG(wait_grabbed_by_other(pn, true, T), "QEMU (round %d) does not hold %s", round, pn);
		wait_status(k, "\"connected\":true,\"objects\":2", T);
		tdev_tap(kbd, KEY_A);
		TDEV_FRAME(kbd, { EV_KEY, KEY_LEFTSHIFT, 1 });
		tdev_tap(kbd, KEY_B);
		TDEV_FRAME(kbd, { EV_KEY, KEY_LEFTSHIFT, 0 });
		QEMU_CONSUMER_EXPECT(q, 0, T, "key a 1", "key a 0", "key shift 1", "key b 1", "key b 0", "key shift 0");
		qemu_consumer_stop(q);
		ITEST_ASSERT_MSG(wait_grabbed_by_other(kn, false, T), "%s still held after QEMU stopped", kn);
	}
	wait_status(k, "\"connects\":2", T);
	char *log = itest_read_file(tproc_stderr_path(ksd_proc(k)), NULL);
	ITEST_ASSERT_STR_CONTAINS(log, "went away; its devices are added again when it is back");
	free(log);
	free(kn);
	free(pn);
	free(sock);
}

/* QEMU first, kvmswitch later: the objects appear; when kvmswitch exits (no
 * fd store keeps its devices) it deletes them, and QEMU no longer has them. */
ITEST_TIMEOUT(qmp_objects_added_to_running_qemu_and_deleted_at_exit, 300)
{
	char *sock = itest_tmpfile("ks.qmp");
	struct qemu_consumer *q = qemu_with_qmp(sock);
	char cfg[1024];
	snprintf(cfg, sizeof(cfg), KSD_MATCH_TEST_DEVICES "[target guest]\nqmp = \"%s\"\n", sock);
	struct ksd *k = ksd_start(cfg);
	char *kn = status_node(k, "guest", "keyboard");
	ITEST_ASSERT_MSG(wait_grabbed_by_other(kn, true, T), "QEMU does not hold %s", kn);
	wait_status(k, "\"objects\":2", T);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
	char *log = itest_read_file(tproc_stderr_path(ksd_proc(k)), NULL);
	ITEST_ASSERT_STR_CONTAINS(log, "deleted its input-linux objects from the QEMU at");
	free(log);
	/* QEMU has no object of that id any more (the node itself went with
	 * kvmswitch). */
	struct qmp *qq = qmp_connect_unix(sock, T);
	struct qmp_reply r;
	int rc = qmp_execute(qq, &r, "qom-get", "\"path\": \"/objects/kvmswitch-guest-keyboard\", \"property\": \"evdev\"");
	ITEST_ASSERT_MSG(rc < 0, "QEMU still has kvmswitch-guest-keyboard: %s", r.raw);
	qmp_reply_finish(&r);
	qmp_close(qq);
	ITEST_ASSERT(tproc_running(qemu_consumer_proc(q)));
	qemu_consumer_stop(q);
	free(kn);
	free(sock);
}

/* A path that is not the socket itself (a symlink to it) is refused: status
 * says why, and QEMU gets nothing. */
ITEST_TIMEOUT(qmp_refuses_a_symlink, 300)
{
	char *sock = itest_tmpfile("ks.qmp"), *link = itest_tmpfile("link.qmp");
	struct qemu_consumer *q = qemu_with_qmp(sock);
	ITEST_ASSERT_SYSCALL(symlink(sock, link));
	char cfg[1024];
	snprintf(cfg, sizeof(cfg), KSD_MATCH_TEST_DEVICES "[target guest]\nqmp = %s\n", link);
	struct ksd *k = ksd_start(cfg);
	char *kn = status_node(k, "guest", "keyboard");
	wait_status(k, "not a socket (a symlink is not followed)", T);
	ITEST_ASSERT(!grabbed_by_other(kn));
	qemu_consumer_stop(q);
	free(kn);
	free(sock);
	free(link);
}

/* A socket that accepts and never answers (a hung QEMU) costs kvmswitch a
 * deadline, never a wait: keys keep flowing, and after 10 s it gives up on
 * that connection and says so. */
ITEST_TIMEOUT(qmp_silent_socket_never_blocks_input, 300)
{
	char *sock = itest_tmpfile("mute.qmp");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ITEST_ASSERT_SYSCALL(lfd);
	ITEST_ASSERT_SYSCALL(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)));
	ITEST_ASSERT_SYSCALL(listen(lfd, 4)); /* connects queue; nobody accepts */
	char cfg[1024];
	snprintf(cfg, sizeof(cfg), KSD_MATCH_TEST_DEVICES "[target guest]\nqmp = %s\n[general]\nstart = guest\n", sock);
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(cfg);
	wait_taken(k, kbd);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	for (int i = 0; i < 3; i++) {
		tdev_tap(kbd, KEY_A);
		TREADER_EXPECT(gk, 5000, { EV_KEY, KEY_A, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_A, 0 },
			       { EV_SYN, SYN_REPORT, 0 });
		usleep(500000);
	}
	wait_status(k, "QEMU did not answer within 10 s", T);
	tdev_tap(kbd, KEY_B);
	TREADER_EXPECT(gk, 5000, { EV_KEY, KEY_B, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_B, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	close(lfd);
	free(sock);
}
