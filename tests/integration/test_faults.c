/* kvmswitch under faults, load and hostile conditions, against a real kernel:
 * the daemon stopped while an 8 kHz mouse floods, 50 unplug/replug cycles,
 * SIGKILL, a QEMU consumer killed while forwarding, a consumer that never
 * reads, and a run/stop cycle under valgrind.
 *
 * "No stuck key" is read from the kernel itself: EVIOCGKEY on every virtual
 * device of every target gives the key state its readers see. */
#include <fcntl.h>
#include <libevdev/libevdev.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 5000 /* ms to wait for an event that must come */

/* Both targets have virtual devices, so "any target" means something. */
#define CFG_BOTH                                                                                             \
	KSD_MATCH_TEST_DEVICES "[target host]\nmode = virtual\n[target "                                     \
			       "guest]\n[general]\nstart = guest\n"
#define CFG_GUEST KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\n"

/* ---- helpers ---- */

static void wait_taken(struct ksd *k, struct tdev *d, bool grabbed)
{
	ITEST_ASSERT_MSG(ksd_wait_input(k, tdev_devnode(d), grabbed, 20000), "%s is not %s by kvmswitch",
			 tdev_name(d), grabbed ? "grabbed" : "taken ungrabbed");
}

/* Keys and buttons down on an event node, as the kernel keeps them for its
 * readers (EVIOCGKEY); the first few codes into `codes`. */
static int keys_down(const char *node, char *codes, size_t len)
{
	unsigned char bits[KEY_CNT / 8 + 1] = { 0 };
	int fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ITEST_ASSERT_MSG(fd >= 0, "cannot open %s: %s", node, strerror(errno));
	ITEST_ASSERT_SYSCALL(ioctl(fd, EVIOCGKEY(sizeof(bits)), bits));
	close(fd);
	int n = 0;
	size_t off = 0;
	codes[0] = '\0';
	for (unsigned c = 0; c < KEY_CNT; c++) {
		if (!(bits[c / 8] & (1u << (c % 8))))
			continue;
		n++;
		const char *name = libevdev_event_code_get_name(EV_KEY, c);
		if (off < len)
			off += (size_t)snprintf(codes + off, len - off, " %s", name ? name : "?");
	}
	return n;
}

/* No key or button down on any virtual device of `target`, and none held
 * there by the daemon's own count. */
static void assert_nothing_down(struct ksd *k, const char *target)
{
	static const char *const kinds[] = { "keyboard", "pointer" };
	for (size_t i = 0; i < 2; i++) {
		char *node = ksd_vdev_node(k, target, kinds[i]), codes[256];
		int n = keys_down(node, codes, sizeof(codes));
		ITEST_ASSERT_MSG(n == 0, "%d key(s) stuck down on %s's %s (%s):%s", n, target, kinds[i], node,
				 codes);
		free(node);
	}
	ITEST_ASSERT_EQ_INT(ksd_held(k, target), 0);
}

static long proc_rss_kb(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	char *s = itest_read_file(path, NULL);
	ITEST_ASSERT_MSG(s != NULL, "cannot read %s", path);
	const char *v = strstr(s, "VmRSS:");
	ITEST_ASSERT_MSG(v != NULL, "no VmRSS in %s", path);
	long kb = atol(v + 6);
	free(s);
	return kb;
}

/* The daemon's VmRSS did not grow by more than noise (512 kB) from rss0 in
 * a test that repeated something many times: glibc's heap settles at once.
 * ASan's allocator keeps taking fresh memory for a long while, so there
 * the leak check at exit (the daemon's exit status, LeakSanitizer) stands
 * in for this one. */
static void assert_rss_flat(long rss, long rss0)
{
	if (itest_binary_has_asan(ksd_binary())) {
		itest_log("ASan build: VmRSS %ld kB from %ld kB not checked; its exit status checks leaks",
			  rss, rss0);
		return;
	}
	ITEST_ASSERT_LE_INT(rss, rss0 + 512);
}

/* The environment for a daemon whose memory is measured: an ASan build
 * keeps freed memory in quarantine (256 MB by default), which would look
 * like growth: none here; a plain build ignores the variable. */
static const char *asan_small_quarantine(void)
{
	static char buf[1024];
	const char *cur = getenv("ASAN_OPTIONS");
	snprintf(buf, sizeof(buf), "ASAN_OPTIONS=%s%squarantine_size_mb=0:thread_local_quarantine_size_kb=0",
		 cur ? cur : "", cur && *cur ? ":" : "");
	return buf;
}

/* ---- a mouse flooding from a thread ---- */

struct flood {
	pthread_t thread;
	int fd;          /* the test mouse's uinput fd */
	long period_ns;  /* 0: as fast as possible */
	long max_frames; /* 0: until stopped */
	atomic_bool stop;
	atomic_long frames;
	int error;
};

static void *flood_main(void *arg)
{
	struct flood *f = arg;
	struct input_event ev[2] = { { .type = EV_REL, .code = REL_X, .value = 1 },
				     { .type = EV_SYN, .code = SYN_REPORT, .value = 0 } };
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load(&f->stop) && (!f->max_frames || atomic_load(&f->frames) < f->max_frames)) {
		if (write(f->fd, ev, sizeof(ev)) != (ssize_t)sizeof(ev)) {
			if (errno == EINTR)
				continue;
			f->error = errno;
			break;
		}
		atomic_fetch_add(&f->frames, 1);
		if (f->period_ns) {
			next.tv_nsec += f->period_ns;
			while (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
	}
	return NULL;
}

static void flood_start(struct flood *f, struct tdev *mouse, long period_ns, long max_frames)
{
	memset(f, 0, sizeof(*f));
	f->fd = tdev_fd(mouse);
	f->period_ns = period_ns;
	f->max_frames = max_frames;
	ITEST_ASSERT_EQ_INT(pthread_create(&f->thread, NULL, flood_main, f), 0);
}

static long flood_stop(struct flood *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	ITEST_ASSERT_MSG(f->error == 0, "writing the flood failed: %s", strerror(f->error));
	return atomic_load(&f->frames);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- the cases ---- */


/* Waits until the process is stopped (state T in /proc/PID/stat). */
static void wait_stopped(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int64_t deadline = itest_now_ms() + T;
	for (;;) {
		char *s = itest_read_file(path, NULL);
		ITEST_ASSERT_NOT_NULL(s);
		const char *st = strrchr(s, ')');
		bool stopped = st && (st[2] == 'T' || st[2] == 't');
		free(s);
		if (stopped)
			return;
		ITEST_ASSERT_MSG(itest_now_ms() < deadline, "pid %d did not stop", (int)pid);
		sleep_ms(5);
	}
}

/* The frames the kernel queues after a SYN_DROPPED are newer than the drop
 * and are forwarded: only the frame cut by the drop is void, so a mouse
 * that overflowed kvmswitch's buffer loses one buffer of motion, not two.
 * (libevdev alone would drain and discard them before its resync.) */
ITEST_TIMEOUT(motion_queued_after_a_drop_is_forwarded, 120)
{
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, mouse, true);
	struct treader *gp = ksd_open_vdev(k, "guest", "pointer");
	long long dropped0 = ksd_counter(k, "syn_dropped");
	tproc_kill(ksd_proc(k), SIGSTOP);
	wait_stopped(tproc_pid(ksd_proc(k)));
	/* 400 frames of 3 events: far more than evdev queues for a mouse. */
	for (int i = 1; i <= 400; i++)
		TDEV_FRAME(mouse, { EV_REL, REL_X, 1 }, { EV_REL, REL_Y, i });
	tproc_kill(ksd_proc(k), SIGCONT);
	ITEST_ASSERT_MSG(treader_wait_event(gp, EV_REL, REL_Y, 400, 10000),
			 "the newest frame, queued after the drop, did not reach the guest");
	ITEST_ASSERT_GT_INT(ksd_counter(k, "syn_dropped"), dropped0);
	/* Forwarding goes on, frame for frame. */
	ITEST_ASSERT(treader_wait_event(gp, EV_SYN, SYN_REPORT, 0, T));
	TDEV_FRAME(mouse, { EV_REL, REL_X, 5 });
	TREADER_EXPECT(gp, T, { EV_REL, REL_X, 5 }, { EV_SYN, SYN_REPORT, 0 });
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
}

/* The daemon stopped for 200 ms while an 8 kHz mouse floods and keys go up
 * and down: the kernel drops events (SYN_DROPPED), libevdev resyncs, the
 * keys that changed meanwhile end up right on the guest, nothing stays down
 * on any target once everything is released, and forwarding goes on. */
ITEST_TIMEOUT(sigstop_during_8khz_flood_resyncs, 180)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(CFG_BOTH);
	wait_taken(k, kbd, true);
	wait_taken(k, mouse, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	struct treader *gp = ksd_open_vdev(k, "guest", "pointer");
	long long dropped0 = ksd_counter(k, "syn_dropped");

	tdev_key(kbd, KEY_A, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_A, 1 }, { EV_SYN, SYN_REPORT, 0 });

	struct flood f;
	flood_start(&f, mouse, 125000, 0); /* 8000 frames per second */
	sleep_ms(100);
	tproc_kill(ksd_proc(k), SIGSTOP);
	int64_t stopped = itest_now_ms();
	long frames_at_stop = atomic_load(&f.frames);
	/* While it is stopped: a button goes down on the mouse, keys up and
	 * down on the keyboard (more than its buffer holds). */
	tdev_key(mouse, BTN_LEFT, 1);
	for (int i = 0; i < 300; i++)
		tdev_tap(kbd, KEY_S);
	tdev_key(kbd, KEY_A, 0);
	tdev_key(kbd, KEY_D, 1);
	for (int i = 0; i < 100; i++)
		tdev_tap(kbd, KEY_F);
	int64_t left = 200 - (itest_now_ms() - stopped);
	if (left > 0)
		sleep_ms((int)left);
	long frames_stopped = atomic_load(&f.frames) - frames_at_stop;
	int64_t stopped_ms = itest_now_ms() - stopped;
	tproc_kill(ksd_proc(k), SIGCONT);
	sleep_ms(300);
	long total = flood_stop(&f);
	itest_log("flood: %ld frames in all, %ld while the daemon was stopped for %lld ms", total,
		  frames_stopped, (long long)stopped_ms);
	ITEST_ASSERT_MSG(frames_stopped >= 100, "only %ld mouse frames were written in %lld ms",
			 frames_stopped, (long long)stopped_ms);

	/* The resync: A went up, D and the left button went down meanwhile. */
	ITEST_ASSERT_MSG(treader_wait_event(gk, EV_KEY, KEY_A, 0, 20000),
			 "KEY_A was not released on the guest");
	ITEST_ASSERT_MSG(treader_wait_event(gk, EV_KEY, KEY_D, 1, 20000),
			 "KEY_D, pressed while the daemon was stopped, did not reach the guest");
	ITEST_ASSERT_GT_INT(ksd_counter(k, "syn_dropped"), dropped0);
	int64_t deadline = itest_now_ms() + 20000;
	while (ksd_held(k, "guest") != 2 && itest_now_ms() < deadline)
		sleep_ms(50);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 2); /* KEY_D and BTN_LEFT */

	/* Everything up at the source: nothing down anywhere. */
	tdev_key(kbd, KEY_D, 0);
	tdev_key(mouse, BTN_LEFT, 0);
	ITEST_ASSERT(treader_wait_event(gk, EV_KEY, KEY_D, 0, T));
	ITEST_ASSERT(treader_wait_event(gp, EV_KEY, BTN_LEFT, 0, 20000));
	assert_nothing_down(k, "guest");
	assert_nothing_down(k, "host");

	/* Forwarding resumes, frame for frame. */
	treader_drain(gk);
	tdev_tap(kbd, KEY_C);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_C, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_C, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	struct itest_ev rest[64];
	while (treader_read_frame(gp, rest, 64, 300) > 0)
		; /* the rest of the flood */
	TDEV_FRAME(mouse, { EV_REL, REL_X, 7 }, { EV_REL, REL_Y, -7 });
	TREADER_EXPECT(gp, T, { EV_REL, REL_X, 7 }, { EV_REL, REL_Y, -7 }, { EV_SYN, SYN_REPORT, 0 });
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "write_errors"), 0);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0); /* with ASan: no leak either */
}

/* 50 unplug/replug cycles of a keyboard with keys held: each time the keys
 * are released on the guest, the guest devices stay the same nodes, and the
 * daemon's file descriptors and memory stay flat. */
ITEST_TIMEOUT(unplug_replug_50_cycles_flat, 900)
{
	const char *env[] = { asan_small_quarantine(), NULL };
	struct ksd *k = ksd_start_env(CFG_GUEST, env);
	pid_t pid = tproc_pid(ksd_proc(k));
	char *gk_node = ksd_vdev_node(k, "guest", "keyboard");
	char *gp_node = ksd_vdev_node(k, "guest", "pointer");
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	static const unsigned held[] = { KEY_A, KEY_LEFTSHIFT, KEY_SPACE, KEY_ENTER, KEY_Z };
	int fds0 = 0;
	long rss0 = 0;
	const int cycles = 50, warmup = 5;
	long long added0 = ksd_counter(k, "devices_added"), removed0 = ksd_counter(k, "devices_removed");
	for (int i = 0; i < cycles; i++) {
		struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "replug kbd");
		wait_taken(k, kbd, true);
		unsigned key = held[i % 5];
		tdev_key(kbd, key, 1);
		TREADER_EXPECT(gk, T, { EV_KEY, (uint16_t)key, 1 }, { EV_SYN, SYN_REPORT, 0 });
		if (i % 10 == 9) {
			tdev_key(kbd, KEY_RIGHTALT, 1);
			TREADER_EXPECT(gk, T, { EV_KEY, KEY_RIGHTALT, 1 }, { EV_SYN, SYN_REPORT, 0 });
		}
		char *node = strdup(tdev_devnode(kbd));
		tdev_destroy(kbd);
		/* The unplug releases what it held, in one frame, in code order. */
		if (i % 10 == 9 && key < KEY_RIGHTALT)
			TREADER_EXPECT(gk, T, { EV_KEY, (uint16_t)key, 0 }, { EV_KEY, KEY_RIGHTALT, 0 },
				       { EV_SYN, SYN_REPORT, 0 });
		else if (i % 10 == 9)
			TREADER_EXPECT(gk, T, { EV_KEY, KEY_RIGHTALT, 0 }, { EV_KEY, (uint16_t)key, 0 },
				       { EV_SYN, SYN_REPORT, 0 });
		else
			TREADER_EXPECT(gk, T, { EV_KEY, (uint16_t)key, 0 }, { EV_SYN, SYN_REPORT, 0 });
		ITEST_ASSERT_MSG(ksd_wait_input_gone(k, node, 20000), "cycle %d: %s still listed", i, node);
		free(node);
		ITEST_ASSERT_MSG(!treader_gone(gk), "cycle %d: the guest keyboard went away", i);
		if (i == warmup - 1) {
			fds0 = tproc_fd_count(pid);
			rss0 = proc_rss_kb(pid);
		}
		if (i % 10 == 9)
			itest_log("cycle %d: %d fds, VmRSS %ld kB", i + 1, tproc_fd_count(pid),
				  proc_rss_kb(pid));
	}
	int fds = tproc_fd_count(pid);
	long rss = proc_rss_kb(pid);
	itest_log("after %d cycles: %d fds (%d after %d), VmRSS %ld kB (%ld after %d)", cycles, fds, fds0,
		  warmup, rss, rss0, warmup);
	/* A status connection may still be closing: a little slack, no trend. */
	ITEST_ASSERT_LE_INT(fds, fds0 + 2);
	assert_rss_flat(rss, rss0);
	char *again = ksd_vdev_node(k, "guest", "keyboard");
	ITEST_ASSERT_STR_EQ(again, gk_node);
	free(again);
	again = ksd_vdev_node(k, "guest", "pointer");
	ITEST_ASSERT_STR_EQ(again, gp_node);
	free(again);
	assert_nothing_down(k, "guest");
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "devices_added") - added0, cycles);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "devices_removed") - removed0, cycles);
	free(gk_node);
	free(gp_node);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0); /* with ASan: no leak either */
}

/* SIGKILL: no chance to clean up. The kernel drops the grabs with the fds, so
 * the physical devices work again at once; the socket file is left behind,
 * and a new daemon takes its place. */
ITEST_TIMEOUT(sigkill_frees_devices_and_restart_takes_stale_socket, 120)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	wait_taken(k, mouse, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	tdev_key(kbd, KEY_LEFTALT, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_LEFTALT, 1 }, { EV_SYN, SYN_REPORT, 0 });

	tproc_kill(ksd_proc(k), SIGKILL);
	ITEST_ASSERT_EQ_INT(tproc_wait(ksd_proc(k), 10000), 128 + SIGKILL);
	struct stat st;
	ITEST_ASSERT_MSG(stat(ksd_socket(k), &st) == 0 && S_ISSOCK(st.st_mode),
			 "no stale socket left at %s (the restart below would prove nothing)", ksd_socket(k));

	/* Usable again: another program can grab them... */
	struct tdev *devs[] = { kbd, mouse };
	for (int i = 0; i < 2; i++) {
		int fd = open(tdev_devnode(devs[i]), O_RDONLY | O_CLOEXEC);
		ITEST_ASSERT_SYSCALL(fd);
		ITEST_ASSERT_SYSCALL(ioctl(fd, EVIOCGRAB, 1));
		ITEST_ASSERT_SYSCALL(ioctl(fd, EVIOCGRAB, 0));
		close(fd);
	}
	/* ...and a reader that does not grab gets their events. */
	struct treader *host = treader_open(tdev_devnode(kbd), false);
	struct treader *hostm = treader_open(tdev_devnode(mouse), false);
	tdev_key(kbd, KEY_LEFTALT, 0);
	tdev_tap(kbd, KEY_B);
	TREADER_EXPECT(host, T, { EV_KEY, KEY_LEFTALT, 0 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_B, 1 },
		       { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_B, 0 }, { EV_SYN, SYN_REPORT, 0 });
	TDEV_FRAME(mouse, { EV_REL, REL_X, 3 });
	TREADER_EXPECT(hostm, T, { EV_REL, REL_X, 3 }, { EV_SYN, SYN_REPORT, 0 });

	/* A new daemon on the same socket path. */
	struct ksd *k2 = ksd_start(CFG_GUEST);
	ITEST_ASSERT_STR_EQ(ksd_socket(k2), ksd_socket(k));
	wait_taken(k2, kbd, true);
	wait_taken(k2, mouse, true);
	struct treader *gk2 = ksd_open_vdev(k2, "guest", "keyboard");
	tdev_tap(kbd, KEY_C);
	TREADER_EXPECT(gk2, T, { EV_KEY, KEY_C, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_C, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	treader_expect_silence(host, 200);
	ITEST_ASSERT_EQ_INT(ksd_stop(k2), 0);
}

/* The guest's QEMU is not running, then runs, then is killed in the middle
 * of a flood: nothing ever reaches the host's readers of the physical
 * devices, the daemon keeps answering, and another reader of the guest
 * keyboard gets the keys once QEMU's grab is gone with it. */
ITEST_TIMEOUT(qemu_killed_while_forwarding_nothing_leaks, 300)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start(CFG_GUEST);
	wait_taken(k, kbd, true);
	wait_taken(k, mouse, true);
	struct treader *host = treader_open(tdev_devnode(kbd), false);
	struct treader *hostm = treader_open(tdev_devnode(mouse), false);
	struct treader *other = ksd_open_vdev(k, "guest", "keyboard");

	/* No consumer at all: the guest devices take it, the host sees nothing. */
	tdev_tap(kbd, KEY_Q);
	TDEV_FRAME(mouse, { EV_REL, REL_X, 4 });
	TREADER_EXPECT(other, T, { EV_KEY, KEY_Q, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_Q, 0 },
		       { EV_SYN, SYN_REPORT, 0 });

	char *nodes[2] = { ksd_vdev_node(k, "guest", "keyboard"), ksd_vdev_node(k, "guest", "pointer") };
	struct qemu_consumer *q = qemu_consumer_start((const char *const *)nodes, 2, NULL);
	tdev_tap(kbd, KEY_W);
	QEMU_CONSUMER_EXPECT(q, 0, 30000, "key w 1", "key w 0");
	treader_expect_silence(other, 200); /* QEMU grabs the node */

	struct flood f;
	flood_start(&f, mouse, 125000, 0);
	tdev_key(kbd, KEY_E, 1);
	sleep_ms(200);
	tproc_kill(qemu_consumer_proc(q), SIGKILL);
	ITEST_ASSERT_EQ_INT(tproc_wait(qemu_consumer_proc(q), 20000), 128 + SIGKILL);
	tdev_key(kbd, KEY_E, 0);
	sleep_ms(200);
	long frames = flood_stop(&f);
	itest_log("%ld mouse frames written around the kill", frames);

	/* Nothing blocks: the daemon answers and forwards to the other reader. */
	char *s = ksd_request(k, "status");
	ITEST_ASSERT_STR_CONTAINS(s, "\"active\":\"guest\"");
	free(s);
	treader_drain(other);
	tdev_tap(kbd, KEY_R);
	ITEST_ASSERT_MSG(treader_wait_event(other, EV_KEY, KEY_R, 1, T),
			 "no KEY_R on the guest keyboard after QEMU died");
	ITEST_ASSERT(treader_wait_event(other, EV_KEY, KEY_R, 0, T));
	/* Nothing leaked: the physical devices stayed grabbed all along. */
	treader_expect_silence(host, 300);
	treader_expect_silence(hostm, 100);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "write_errors"), 0);
	assert_nothing_down(k, "guest");
	qemu_consumer_stop(q);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0); /* with ASan: no leak either */
	free(nodes[0]);
	free(nodes[1]);
}

/* A consumer that opens the guest pointer, grabs it and never reads: the
 * kernel drops what does not fit its buffer, kvmswitch's writes never block
 * or fail, so 100k frames later it still answers at once, the other devices
 * and targets work, and its memory has not grown. */
ITEST_TIMEOUT(consumer_that_never_reads_does_not_stall, 600)
{
	const char *env[] = { asan_small_quarantine(), NULL };
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct ksd *k = ksd_start_env(CFG_BOTH, env);
	pid_t pid = tproc_pid(ksd_proc(k));
	wait_taken(k, kbd, true);
	wait_taken(k, mouse, true);
	char *gp = ksd_vdev_node(k, "guest", "pointer");
	struct treader *stuck = treader_open(gp, true); /* grabs, like QEMU; never read */
	free(gp);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	struct treader *hk = ksd_open_vdev(k, "host", "keyboard");
	for (int i = 0; i < 200; i++)
		TDEV_FRAME(mouse, { EV_REL, REL_X, 1 });
	sleep_ms(500);
	long long out0 = ksd_counter(k, "frames_out_pointer");
	long rss0 = proc_rss_kb(pid);
	int fds0 = tproc_fd_count(pid);

	struct flood f;
	flood_start(&f, mouse, 250000, 100000); /* 4 kHz: 25 s, at a pace the daemon keeps up with */
	int64_t worst = 0;
	int probes = 0;
	while (atomic_load(&f.frames) < 100000 && !f.error) {
		int64_t t0 = itest_now_ms();
		char *s = ksd_request(k, "status");
		int64_t dt = itest_now_ms() - t0;
		worst = dt > worst ? dt : worst;
		free(s);
		tdev_tap(kbd, KEY_K);
		TREADER_EXPECT(gk, 10000, { EV_KEY, KEY_K, 1 }, { EV_SYN, SYN_REPORT, 0 },
			       { EV_KEY, KEY_K, 0 }, { EV_SYN, SYN_REPORT, 0 });
		probes++;
		sleep_ms(200);
	}
	long frames = flood_stop(&f);
	ITEST_ASSERT_EQ_INT(frames, 100000);
	/* Let the daemon finish what is queued, then measure. */
	int64_t deadline = itest_now_ms() + 60000;
	long long out, prev = -1;
	while ((out = ksd_counter(k, "frames_out_pointer")) != prev && itest_now_ms() < deadline) {
		prev = out;
		sleep_ms(500);
	}
	itest_log("%lld pointer frames forwarded to a consumer that never reads; %d "
		  "probes during the flood, "
		  "slowest status reply %lld ms",
		  out - out0, probes, (long long)worst);
	ITEST_ASSERT_GE_INT(probes, 1);
	ITEST_ASSERT_GE_INT(out - out0, 10000);
	ITEST_ASSERT_EQ_INT(ksd_counter(k, "write_errors"), 0);
	long rss = proc_rss_kb(pid);
	int fds = tproc_fd_count(pid);
	itest_log("VmRSS %ld kB before the flood, %ld kB after; fds %d, %d", rss0, rss, fds0, fds);
	assert_rss_flat(rss, rss0);
	ITEST_ASSERT_LE_INT(fds, fds0 + 2);

	/* Another target works too. */
	ksd_switch(k, "host");
	tdev_tap(kbd, KEY_L);
	TREADER_EXPECT(hk, T, { EV_KEY, KEY_L, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_L, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	assert_nothing_down(k, "guest");
	assert_nothing_down(k, "host");
	treader_close(stuck);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0); /* with ASan: no leak either */
}

/* ---- valgrind ---- */

/* A run/stop cycle under valgrind with devices added and removed, switches,
 * a reload and control clients: no invalid access, no uninitialised value
 * used, no leak (definite, indirect or possible). */
ITEST_TIMEOUT(valgrind_run_stop_is_clean, 900)
{
	if (itest_binary_has_asan(ksd_binary()))
		itest_skip("the ASan build cannot run under valgrind (the plain build runs "
			   "this case)");
	if (access("/usr/bin/valgrind", X_OK) < 0)
		ITEST_FAIL("valgrind is not installed (it is in tests/deps.sh: sudo make deps)");
	char *vlog = itest_tmpfile("valgrind.log"), *supp = itest_tmpfile("valgrind.supp");
	/* EVIOCGRAB takes its argument by value (0 or 1), but its ioctl number
	 * says "pointer to int", so valgrind checks address 0 or 1. */
	FILE *f = fopen(supp, "w");
	ITEST_ASSERT_NOT_NULL(f);
	fputs("{\n  EVIOCGRAB's argument is an int, not a pointer\n  "
	      "Memcheck:Param\n  ioctl(generic)\n"
	      "  fun:ioctl\n  fun:libevdev_grab\n}\n",
	      f);
	fclose(f);
	char logopt[4200], suppopt[4200];
	snprintf(logopt, sizeof(logopt), "--log-file=%s", vlog);
	snprintf(suppopt, sizeof(suppopt), "--suppressions=%s", supp);
	const char *wrapper[] = { "valgrind",
				  "--quiet",
				  "--leak-check=full",
				  "--show-leak-kinds=definite,indirect,possible",
				  "--errors-for-leak-kinds=definite,indirect,possible",
				  "--error-exitcode=99",
				  "--track-origins=yes",
				  "--num-callers=30",
				  logopt,
				  suppopt,
				  NULL };
	setenv("KSD_START_TIMEOUT_MS", "240000", 1);
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start_as(CFG_BOTH, NULL, wrapper);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, 60000));
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(mouse), true, 60000));
	struct tdev *tab = tdev_create(TDEV_TABLET, "tablet");
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(tab), true, 60000));

	tdev_tap(kbd, KEY_V);
	TREADER_EXPECT(gk, 30000, { EV_KEY, KEY_V, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_V, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	TDEV_FRAME(mouse, { EV_REL, REL_X, 2 }, { EV_KEY, BTN_LEFT, 1 });
	TDEV_FRAME(mouse, { EV_KEY, BTN_LEFT, 0 });
	TDEV_FRAME(tab, { EV_ABS, ABS_X, 100 }, { EV_ABS, ABS_Y, 200 });
	/* Hotkey both ways, a CLI switch, a key held across a switch. */
	tdev_key(kbd, KEY_LEFTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 1);
	tdev_key(kbd, KEY_RIGHTCTRL, 0);
	tdev_key(kbd, KEY_LEFTCTRL, 0);
	tdev_key(kbd, KEY_X, 1);
	char *r = ksd_request(k, "switch guest");
	ITEST_ASSERT_STR_EQ(r, "ok guest");
	free(r);
	tdev_key(kbd, KEY_X, 0);
	treader_write_frame(gk, (const struct itest_ev[]){ { EV_LED, LED_CAPSL, 1 } }, 1);
	ITEST_ASSERT(tdev_wait_event(kbd, EV_LED, LED_CAPSL, 1, 30000));
	/* Unplug with a key down, replug. */
	tdev_key(kbd, KEY_Y, 1);
	ITEST_ASSERT(treader_wait_event(gk, EV_KEY, KEY_Y, 1, 30000));
	char *node = strdup(tdev_devnode(kbd));
	tdev_destroy(kbd);
	ITEST_ASSERT(treader_wait_event(gk, EV_KEY, KEY_Y, 0, 30000));
	ITEST_ASSERT(ksd_wait_input_gone(k, node, 60000));
	free(node);
	tdev_destroy(tab);
	kbd = tdev_create(TDEV_KEYBOARD, "kbd again");
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, 60000));
	/* Control: status, list, bad requests, a reload, a subscriber left open. */
	const char *reqs[] = { "status", "list", "ping",   "version", "frobnicate", "switch nosuch",
			       "next",   "prev", "toggle", "reload",  "release",    "switch guest" };
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
		free(ksd_request(k, reqs[i]));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ksd_socket(k));
	int sub = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ITEST_ASSERT_SYSCALL(connect(sub, (struct sockaddr *)&sa, sizeof(sa)));
	ITEST_ASSERT_EQ_INT(write(sub, "subscribe\n", 10), 10);
	char buf[256];
	struct pollfd pfd = { sub, POLLIN, 0 };
	ITEST_ASSERT_EQ_INT(poll(&pfd, 1, 30000), 1);
	ITEST_ASSERT_GT_INT(read(sub, buf, sizeof(buf)), 0);
	int idle = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); /* connected, says nothing */
	ITEST_ASSERT_SYSCALL(connect(idle, (struct sockaddr *)&sa, sizeof(sa)));
	tdev_key(kbd, KEY_Z, 1); /* held at exit: released by the shutdown */

	tproc_kill(ksd_proc(k), SIGTERM);
	int status = tproc_wait(ksd_proc(k), 120000);
	char *log = itest_read_file(vlog, NULL);
	if (status != 0 && log)
		itest_log("valgrind:\n%.6000s", log);
	ITEST_ASSERT_MSG(status == 0,
			 "kvmswitch under valgrind exited with status %d (99: "
			 "valgrind found errors)",
			 status);
	ITEST_ASSERT_NOT_NULL(log);
	ITEST_ASSERT_MSG(!strstr(log, "definitely lost") && !strstr(log, "Invalid ") &&
				 !strstr(log, "uninitialised"),
			 "valgrind reported:\n%.3000s", log);
	close(sub);
	close(idle);
	free(log);
	free(vlog);
	free(supp);
}

/* A write to a virtual device that fails (here through a test-only
 * LD_PRELOAD shim; in life a uinput device in trouble) must not leave a key
 * held on the target: the release that did not arrive is owed, sent again
 * once the device takes writes, logged once, and shown in status. */
ITEST_TIMEOUT(failed_write_of_a_release_is_sent_again, 120)
{
	const char *build = getenv("KVMSWITCH_BUILD");
	char preload[PATH_MAX + 32], flagenv[PATH_MAX + 32], asan[512];
	char *flag = itest_tmpfile("failwrite");
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s/preload/failwrite.so", build ? build : "build");
	snprintf(flagenv, sizeof(flagenv), "KVMSWITCH_FAILWRITE=%s", flag);
	/* An ASan build must accept a library loaded before its runtime. */
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
		 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "", getenv("ASAN_OPTIONS") ? ":" : "");
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start_env(CFG_GUEST, (const char *const[]){ preload, flagenv, asan, NULL });
	wait_taken(k, kbd, true);
	struct treader *gk = ksd_open_vdev(k, "guest", "keyboard");
	tdev_key(kbd, KEY_A, 1);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_A, 1 }, { EV_SYN, SYN_REPORT, 0 });

	/* Writes fail: the release does not arrive, the target still holds A. */
	FILE *f = fopen(flag, "w");
	ITEST_ASSERT_NOT_NULL(f);
	fclose(f);
	tdev_key(kbd, KEY_A, 0);
	int64_t deadline = itest_now_ms() + T;
	while (ksd_counter(k, "write_errors") < 1 && itest_now_ms() < deadline)
		usleep(20000);
	ITEST_ASSERT_GE_INT(ksd_counter(k, "write_errors"), 1);
	char *st = ksd_request(k, "status");
	ITEST_ASSERT_STR_CONTAINS(st, "\"owed_keys\":1");
	free(st);
	treader_expect_silence(gk, 200);

	/* Writes work again: the release comes, nothing is owed. */
	ITEST_ASSERT_SYSCALL(unlink(flag));
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_A, 0 }, { EV_SYN, SYN_REPORT, 0 });
	st = ksd_request(k, "status");
	ITEST_ASSERT_STR_CONTAINS(st, "\"owed_keys\":0");
	free(st);
	tdev_tap(kbd, KEY_B);
	TREADER_EXPECT(gk, T, { EV_KEY, KEY_B, 1 }, { EV_SYN, SYN_REPORT, 0 }, { EV_KEY, KEY_B, 0 },
		       { EV_SYN, SYN_REPORT, 0 });
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
	size_t len;
	char *err = itest_read_file(tproc_stderr_path(ksd_proc(k)), &len);
	ITEST_ASSERT_STR_CONTAINS(err, "target 'guest': writing to its keyboard failed: Input/output error");
	/* Logged once for the episode, however many writes failed. */
	int logged = 0;
	for (const char *p = err; (p = strstr(p, "writing to its keyboard failed")); p++)
		logged++;
	ITEST_ASSERT_EQ_INT(logged, 1);
	ITEST_ASSERT_STR_CONTAINS(err, "takes writes again");
	free(err);
}
