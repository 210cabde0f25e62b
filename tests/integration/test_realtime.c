/* The hop kvmswitch measures for every forwarded frame (status "latency")
 * and the event loop's scheduling ([general] realtime) against a real
 * daemon: the figures count what was forwarded and agree with what a reader
 * sees; the loop gets SCHED_FIFO and locked memory as root, SCHED_OTHER
 * with `no`; hooks and the libvirt worker thread never run at its priority;
 * `yes` refuses to start without it; a runaway loop at real-time priority is
 * stopped by RLIMIT_RTTIME (made to run away by a test-only LD_PRELOAD shim,
 * build/preload/runaway.so).
 * What the systemd units grant: test_system. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 10000 /* ms for what must happen */

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

#define CFG_GUEST KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\n"

/* ---- helpers ---- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *status(struct ksd *k)
{
	char *r = ksd_request(k, "status");
	ITEST_ASSERT_MSG(strncmp(r, "ok {", 4) == 0, "bad status reply: %.200s", r);
	return r;
}

/* The text of the value after "key": in s (from `from` on), up to the next
 * ',' or '}' (quotes removed), into buf; NULL if absent. */
static const char *value_of(const char *from, const char *key, char *buf, size_t len)
{
	char pat[96];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = from ? strstr(from, pat) : NULL;
	if (!p)
		return NULL;
	p += strlen(pat);
	if (*p == '"') {
		const char *e = strchr(p + 1, '"');
		snprintf(buf, len, "%.*s", e ? (int)(e - p - 1) : 0, p + 1);
	} else {
		snprintf(buf, len, "%.*s", (int)strcspn(p, ",}"), p);
	}
	return buf;
}

/* A member of status's "realtime" object, as text. */
static char *rt_value(struct ksd *k, const char *key)
{
	char *s = status(k), buf[512];
	const char *o = strstr(s, "\"realtime\":{");
	ITEST_ASSERT_MSG(o != NULL, "no realtime object in status: %.300s", s);
	const char *v = value_of(o, key, buf, sizeof(buf));
	ITEST_ASSERT_MSG(v != NULL, "no realtime.%s in status: %.600s", key, o);
	char *r = strdup(v);
	free(s);
	return r;
}

#define ASSERT_RT(k_, key_, want_)                                                                                 \
	do {                                                                                                       \
		char *v_ = rt_value((k_), (key_));                                                                 \
		ITEST_ASSERT_MSG(strcmp(v_, (want_)) == 0, "realtime.%s is '%s', want '%s'", (key_), v_, (want_)); \
		free(v_);                                                                                          \
	} while (0)

/* latency.targets[target, kind].window.key from status, or -1. */
static long long lat_value(const char *s, const char *target, const char *kind, const char *window, const char *key)
{
	char pat[160], buf[64];
	snprintf(pat, sizeof(pat), "{\"target\":\"%s\",\"kind\":\"%s\",", target, kind);
	const char *o = strstr(s, pat);
	const char *w = o ? strstr(o, window) : NULL;
	const char *v = w ? value_of(w, key, buf, sizeof(buf)) : NULL;
	return v ? atoll(v) : -1;
}

/* The scheduling policy of thread tid (SCHED_RESET_ON_FORK included). */
static int policy_of(pid_t tid)
{
	int p = sched_getscheduler(tid);
	ITEST_ASSERT_MSG(p >= 0, "sched_getscheduler(%d): %s", (int)tid, strerror(errno));
	return p;
}

/* A field of /proc/PID/status ("VmLck:") as a number. */
static long proc_status_kb(pid_t pid, const char *field)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	char *s = itest_read_file(path, NULL);
	ITEST_ASSERT_NOT_NULL(s);
	const char *v = strstr(s, field);
	ITEST_ASSERT_MSG(v != NULL, "no %s in %s", field, path);
	long kb = atol(v + strlen(field));
	free(s);
	return kb;
}

/* The daemon's threads other than its main one. */
static size_t other_threads(pid_t pid, pid_t *tids, size_t max)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	ITEST_ASSERT_NOT_NULL(d);
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid > 0 && tid != pid && n < max)
			tids[n++] = tid;
	}
	closedir(d);
	return n;
}

static void key_reaches(struct tdev *kbd, struct treader *r, unsigned code)
{
	treader_drain(r);
	tdev_tap(kbd, code);
	ITEST_ASSERT_MSG(treader_wait_event(r, EV_KEY, code, 1, T), "the key did not reach %s", treader_devnode(r));
	ITEST_ASSERT(treader_wait_event(r, EV_KEY, code, 0, T));
}

/* ---- the hop, in status ---- */

/* 200 mouse frames and one key tap through the guest target: status counts
 * each frame once, per kind, since start and in the last minute; its
 * percentiles are ordered and no larger than the round trips a reader of
 * the guest pointer measured for the same frames (the hop ends inside
 * them, give or take the reader's own wake-up). A reload keeps them. */
ITEST_TIMEOUT(hop_figures_in_status, 180)
{
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "mouse");
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(CFG_GUEST);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(mouse), true, T));
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, T));
	struct treader *rp = ksd_open_vdev(k, "guest", "pointer");
	struct treader *rk = ksd_open_vdev(k, "guest", "keyboard");
	char *s = status(k);
	ITEST_ASSERT_MSG(lat_value(s, "guest", "pointer", "since_start", "frames") == -1,
			 "status has hop figures before any frame: %.600s", strstr(s, "\"latency\""));
	free(s);

	enum { N = 200 };
	int64_t max_rt = 0;
	for (int i = 0; i < N; i++) {
		int64_t t0 = now_ns();
		TDEV_FRAME(mouse, { EV_REL, REL_X, i % 2 ? 1 : -1 });
		ITEST_ASSERT_MSG(treader_wait_event(rp, EV_REL, REL_X, i % 2 ? 1 : -1, T), "frame %d did not arrive",
				 i);
		int64_t rt = now_ns() - t0;
		max_rt = rt > max_rt ? rt : max_rt;
	}
	key_reaches(kbd, rk, KEY_A);

	s = status(k);
	const char *lat = strstr(s, "\"latency\":{");
	ITEST_ASSERT_MSG(lat != NULL, "no latency in status: %.300s", s);
	itest_log("status: %.700s", lat);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "since_start", "frames"), N);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "last_minute", "frames"), N);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "keyboard", "since_start", "frames"), 2);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "tablet", "since_start", "frames"), -1);
	long long p50 = lat_value(s, "guest", "pointer", "since_start", "p50_ns");
	long long p99 = lat_value(s, "guest", "pointer", "since_start", "p99_ns");
	long long p999 = lat_value(s, "guest", "pointer", "since_start", "p999_ns");
	long long max = lat_value(s, "guest", "pointer", "since_start", "max_ns");
	itest_log("hop p50 %lld ns, p99 %lld, p99.9 %lld, max %lld; the reader's largest round trip %lld ns", p50, p99,
		  p999, max, (long long)max_rt);
	ITEST_ASSERT_GT_INT(p50, 0);
	ITEST_ASSERT_LE_INT(p50, p99);
	ITEST_ASSERT_LE_INT(p99, p999);
	ITEST_ASSERT_LE_INT(p999, max);
	ITEST_ASSERT_LE_INT(max, max_rt + 20000000);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "last_minute", "max_ns"), max);
	free(s);

	/* The same in the CLI's views. */
	char *out = NULL;
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &out, "stats"), 0);
	itest_log("kvmswitch stats:\n%s", out);
	ITEST_ASSERT_STR_CONTAINS(out, "since start");
	ITEST_ASSERT_MSG(strstr(out, "\nguest            pointer  |       200 ") != NULL, "no guest pointer row:\n%s",
			 out);
	ITEST_ASSERT_MSG(strstr(out, "\nguest            keyboard |         2 ") != NULL, "no guest keyboard row:\n%s",
			 out);
	ITEST_ASSERT_STR_CONTAINS(out,
				  "\nevent loop: SCHED_FIFO priority 10 (granted by CAP_SYS_NICE), memory locked\n");
	free(out);
	ITEST_ASSERT_EQ_INT(KSD_CLI(k, &out, "status"), 0);
	ITEST_ASSERT_STR_CONTAINS(out, "\nrealtime: SCHED_FIFO priority 10 (granted by CAP_SYS_NICE), memory locked\n");
	ITEST_ASSERT_STR_CONTAINS(out, "\nhop: guest keyboard p50 ");
	ITEST_ASSERT_STR_CONTAINS(out, "; guest pointer p50 ");
	free(out);
	/* --watch: again every second, until stopped (the first view may take
	 * long: a CLI start in the emulated VM). */
	char sockenv[4200];
	snprintf(sockenv, sizeof(sockenv), "KVMSWITCH_SOCKET=%s", ksd_socket(k));
	const char *const watch[] = { ksd_binary(), "stats", "--watch", NULL };
	const char *const wenv[] = { sockenv, NULL };
	struct tproc *w = tproc_spawn(watch, wenv);
	int64_t first = 0, deadline = itest_now_ms() + 60000;
	int views = 0;
	while (views < 3) {
		ITEST_ASSERT_MSG(itest_now_ms() < deadline, "kvmswitch stats --watch showed %d views in 60 s", views);
		ITEST_ASSERT(tproc_running(w));
		usleep(100000);
		out = itest_read_file(tproc_stdout_path(w), NULL);
		views = 0;
		for (const char *p = out; p && (p = strstr(p, "event loop: ")); p++)
			views++;
		free(out);
		if (views >= 1 && !first)
			first = itest_now_ms();
	}
	int64_t two = itest_now_ms() - first;
	itest_log("kvmswitch stats --watch: views 1 to 3 in %lld ms", (long long)two);
	ITEST_ASSERT_GE_INT(two, 1800);
	tproc_kill(w, SIGTERM);
	tproc_wait(w, T);

	/* A reload keeps the figures of a target that stays. */
	char *r = ksd_request(k, "reload");
	ITEST_ASSERT_STR_EQ(r, "ok reloaded");
	free(r);
	s = status(k);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "since_start", "frames"), N);
	ITEST_ASSERT_EQ_INT(lat_value(s, "guest", "pointer", "since_start", "max_ns"), max);
	free(s);
}

/* ---- the event loop's priority ---- */

/* As root (CAP_SYS_NICE, CAP_IPC_LOCK), `auto` gets SCHED_FIFO at priority
 * 10 with SCHED_RESET_ON_FORK, and locked memory. A hook, and a libvirt
 * worker thread started by a reload (from the real-time thread), run
 * SCHED_OTHER. */
ITEST_TIMEOUT(auto_as_root_gets_fifo_children_do_not, 180)
{
	char *hook_out = itest_tmpfile("hook-policy.txt");
	char cfg[2048];
	snprintf(cfg, sizeof(cfg), KSD_MATCH_TEST_DEVICES "[target guest]\non-enter = chrt -p $$ > %s\n", hook_out);
	struct ksd *k = ksd_start(cfg);
	pid_t pid = tproc_pid(ksd_proc(k));
	ASSERT_RT(k, "setting", "auto");
	ASSERT_RT(k, "policy", "SCHED_FIFO");
	ASSERT_RT(k, "priority", "10");
	ASSERT_RT(k, "granted_by", "CAP_SYS_NICE");
	ASSERT_RT(k, "memory_locked", "true");
	ASSERT_RT(k, "dropped", "false");
	ASSERT_RT(k, "runaway_limit_ms", "100");
	ITEST_ASSERT_EQ_INT(policy_of(pid), SCHED_FIFO | SCHED_RESET_ON_FORK);
	struct sched_param sp;
	ITEST_ASSERT_SYSCALL(sched_getparam(pid, &sp));
	ITEST_ASSERT_EQ_INT(sp.sched_priority, 10);
	/* The kernel's count of locked memory; ASan's runtime makes mlockall
	 * a no-op that succeeds, so an ASan build has none. */
	if (!itest_binary_has_asan(ksd_binary()))
		ITEST_ASSERT_GT_INT(proc_status_kb(pid, "VmLck:"), 0);
	char *log = itest_read_file(tproc_stderr_path(ksd_proc(k)), NULL);
	ITEST_ASSERT_STR_CONTAINS(log,
				  "realtime: the event loop runs SCHED_FIFO at priority 10 (granted by CAP_SYS_NICE)");
	free(log);

	/* The hook: a child of the real-time thread. */
	ksd_switch(k, "guest");
	int64_t deadline = itest_now_ms() + T;
	char *text = NULL;
	while (!(text = itest_read_file(hook_out, NULL)) || !strstr(text, "\n")) {
		free(text);
		text = NULL;
		ITEST_ASSERT_MSG(itest_now_ms() < deadline, "the on-enter hook did not run");
		usleep(50000);
	}
	itest_log("the hook: %s", text);
	ITEST_ASSERT_STR_CONTAINS(text, "current scheduling policy: SCHED_OTHER\n");
	free(text);

	/* A reload that brings a domain starts the libvirt worker thread now,
	 * from the real-time thread. */
	pid_t tids[64];
	ITEST_ASSERT_EQ_INT(other_threads(pid, tids, 64), 0);
	FILE *f = fopen(ksd_config_path(k), "a");
	ITEST_ASSERT_NOT_NULL(f);
	fputs("[target vm]\ndomain = kvmtest-none\nuri = test:///default\n", f);
	fclose(f);
	char *r = ksd_request(k, "reload");
	ITEST_ASSERT_STR_EQ(r, "ok reloaded");
	free(r);
	size_t n = 0;
	deadline = itest_now_ms() + T;
	while ((n = other_threads(pid, tids, 64)) == 0) {
		ITEST_ASSERT_MSG(itest_now_ms() < deadline, "no libvirt worker thread after the reload");
		usleep(50000);
	}
	for (size_t i = 0; i < n; i++) {
		int p = policy_of(tids[i]);
		itest_log("thread %d: policy %d", (int)tids[i], p);
		ITEST_ASSERT_MSG((p & ~SCHED_RESET_ON_FORK) == SCHED_OTHER, "thread %d of the daemon runs policy %d",
				 (int)tids[i], p);
	}
	ITEST_ASSERT_EQ_INT(policy_of(pid), SCHED_FIFO | SCHED_RESET_ON_FORK);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
}

/* `realtime = no`: an ordinary process, nothing locked. */
ITEST_TIMEOUT(no_keeps_the_loop_ordinary, 120)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\nrealtime = no\n");
	pid_t pid = tproc_pid(ksd_proc(k));
	ASSERT_RT(k, "setting", "no");
	ASSERT_RT(k, "policy", "SCHED_OTHER");
	ASSERT_RT(k, "granted_by", "null");
	ASSERT_RT(k, "memory_locked", "false");
	ITEST_ASSERT_EQ_INT(policy_of(pid), SCHED_OTHER);
	ITEST_ASSERT_EQ_INT(proc_status_kb(pid, "VmLck:"), 0);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, T));
	struct treader *r = ksd_open_vdev(k, "guest", "keyboard");
	key_reaches(kbd, r, KEY_N);
}

/* Without CAP_SYS_NICE, RLIMIT_RTPRIO or a RealtimeKit: `auto` runs
 * SCHED_OTHER and says why; `yes` refuses to start, saying why. */
#define UNPRIVILEGED \
	"setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "prlimit", "--rtprio=0", "--"
#define NO_BUS "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/kvmtest-bus"

ITEST_TIMEOUT(without_privilege_auto_runs_ordinary_yes_refuses, 120)
{
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	const char *const wrapper[] = { UNPRIVILEGED, NULL };
	const char *const env[] = { NO_BUS, NULL };
	struct ksd *k = ksd_start_as(CFG_GUEST, env, wrapper);
	pid_t pid = tproc_pid(ksd_proc(k));
	ASSERT_RT(k, "policy", "SCHED_OTHER");
	ASSERT_RT(k, "granted_by", "null");
	char *why = rt_value(k, "refused");
	itest_log("refused: %s", why);
	ITEST_ASSERT_STR_CONTAINS(why,
				  "sched_setscheduler: Operation not permitted (RLIMIT_RTPRIO 0, no CAP_SYS_NICE)");
	ITEST_ASSERT_STR_CONTAINS(why, "RealtimeKit: no system bus");
	free(why);
	ITEST_ASSERT_EQ_INT(policy_of(pid), SCHED_OTHER);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, T));
	struct treader *r = ksd_open_vdev(k, "guest", "keyboard");
	key_reaches(kbd, r, KEY_Y);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);

	/* yes: exit status 1 before anything is grabbed. */
	char *cfg = itest_tmpfile("yes.conf"), sockenv[4200];
	FILE *f = fopen(cfg, "w");
	ITEST_ASSERT_NOT_NULL(f);
	fputs(CFG_GUEST "realtime = yes\n", f);
	fclose(f);
	snprintf(sockenv, sizeof(sockenv), "KVMSWITCH_SOCKET=%s/yes.sock", itest_tmpdir());
	const char *const argv[] = { UNPRIVILEGED, ksd_binary(), "run", "-c", cfg, NULL };
	const char *const env2[] = { NO_BUS, sockenv, NULL };
	struct tproc *p = tproc_spawn(argv, env2);
	int st = tproc_wait(p, 2 * T);
	char *log = itest_read_file(tproc_stderr_path(p), NULL);
	ITEST_ASSERT_NOT_NULL(log);
	itest_log("realtime = yes without privilege: status %d: %s", st, log);
	ITEST_ASSERT_EQ_INT(st, 1);
	ITEST_ASSERT_STR_CONTAINS(log,
				  "error: realtime = yes, but no real-time priority: sched_setscheduler: "
				  "Operation not permitted");
	ITEST_ASSERT_MSG(!strstr(log, "taken"), "it took an input before refusing:\n%s", log);
	free(log);
	free(cfg);
}

/* ---- a runaway loop ---- */

/* A SCHED_OTHER thread on CPU 0 that notes the longest time it was kept
 * off the CPU. */
struct witness {
	pthread_t thread;
	atomic_bool stop;
	atomic_llong max_gap_ns;
};

static void *witness_main(void *data)
{
	struct witness *w = data;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	int64_t last = now_ns();
	while (!atomic_load(&w->stop)) {
		int64_t t = now_ns();
		if (t - last > atomic_load(&w->max_gap_ns))
			atomic_store(&w->max_gap_ns, t - last);
		last = t;
	}
	return NULL;
}

/* The daemon's event loop made to run away at its real-time priority on
 * CPU 0 (build/preload/runaway.so, a test-only LD_PRELOAD shim: its
 * epoll_wait spins until the thread is no longer real-time). RLIMIT_RTTIME's
 * SIGXCPU drops it to SCHED_OTHER after about 100 ms: an ordinary thread on
 * that CPU was kept off it for about that long and no longer; the daemon
 * says so in its log and status, is still alive (the hard limit, SIGKILL,
 * did not come) and forwards. */
ITEST_TIMEOUT(runaway_loop_is_bounded, 180)
{
	const char *b = getenv("KVMSWITCH_BUILD");
	char preload[4200], asan[512];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s/preload/runaway.so", b && *b ? b : "build");
	ITEST_ASSERT_MSG(access(preload + 11, R_OK) == 0, "no %s (make tests builds it)", preload + 11);
	/* An ASan build must accept a library loaded before its runtime. */
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
		 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "", getenv("ASAN_OPTIONS") ? ":" : "");
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct witness w = { 0 };
	int rc = pthread_create(&w.thread, NULL, witness_main, &w);
	ITEST_ASSERT_EQ_INT(rc, 0);
	usleep(200000);
	const char *const wrapper[] = { "taskset", "-c", "0", NULL };
	const char *const env[] = { preload, "KVMSWITCH_RUNAWAY=1", asan, NULL };
	struct ksd *k = ksd_start_as(CFG_GUEST, env, wrapper);
	usleep(200000);
	atomic_store(&w.stop, true);
	pthread_join(w.thread, NULL);
	long long gap_ms = atomic_load(&w.max_gap_ns) / 1000000;
	pid_t pid = tproc_pid(ksd_proc(k));

	char *log = NULL;
	int64_t deadline = itest_now_ms() + T;
	for (;;) {
		free(status(k)); /* wakes the loop, which logs the drop */
		log = itest_read_file(tproc_stderr_path(ksd_proc(k)), NULL);
		if (log && strstr(log, "without sleeping (RLIMIT_RTTIME)"))
			break;
		ITEST_ASSERT_MSG(itest_now_ms() < deadline, "no log line about the drop:\n%s", log ? log : "");
		free(log);
		usleep(100000);
	}
	const char *spun = strstr(log, "runaway shim: the event loop spun for ");
	ITEST_ASSERT_MSG(spun != NULL, "the loop did not run away:\n%s", log);
	long spun_ms = atol(spun + strlen("runaway shim: the event loop spun for "));
	itest_log("spun for %ld ms at SCHED_FIFO; an ordinary thread on the same CPU waited %lld ms at most", spun_ms,
		  gap_ms);
	ITEST_ASSERT_STR_CONTAINS(log,
				  "realtime: the event loop ran for 100 ms without sleeping (RLIMIT_RTTIME): it "
				  "now runs SCHED_OTHER");
	free(log);
	ITEST_ASSERT_GE_INT(spun_ms, 90);
	ITEST_ASSERT_LT_INT(spun_ms, 1000);
	/* The spin held CPU 0 (it was real-time), but not for long. */
	ITEST_ASSERT_GE_INT(gap_ms, 50);
	ITEST_ASSERT_LT_INT(gap_ms, 600);
	ASSERT_RT(k, "dropped", "true");
	ASSERT_RT(k, "policy", "SCHED_OTHER");
	ITEST_ASSERT_EQ_INT(policy_of(pid) & ~SCHED_RESET_ON_FORK, SCHED_OTHER);
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, T));
	struct treader *r = ksd_open_vdev(k, "guest", "keyboard");
	key_reaches(kbd, r, KEY_R);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
}
