/* kvmbench: what one kvmswitch hop costs, against the floor and peers.
 *
 * Runs inside the test VM (tests/bench/run boots it), built like an
 * integration test program and linked with tests/lib (the runner's main()):
 * each case is one contender in one mode, or the toggle test, and writes its
 * figures to $KVMBENCH_OUT (tests/bench/report turns them into
 * docs/PERFORMANCE.md's tables and the CDF plot).
 *
 * Contenders. A "source" uinput mouse (MSC_SCAN, REL_X) is written to; each
 * frame is {MSC_SCAN seq, REL_X +-1, SYN_REPORT} in one write(). It is read
 * back from
 *   floor         the source's own event node (no forwarder);
 *   kvmswitch     "kvmswitch guest pointer" (the source grabbed, guest active;
 *                 realtime = auto: SCHED_FIFO, as root in the VM);
 *   kvmswitch_nort    the same with realtime = no (SCHED_OTHER);
 *   kvmswitch_nolat   build/bench/kvmswitch-nolatstats: kvmswitch without
 *                 measuring its hop (the cost of measuring: syscalls and
 *                 instructions only);
 *   interception  interception -g SRC | uinput -d SRC -c NAME.yaml;
 *   interception_nice the same, both processes under nice -n -20;
 *   pyevdev       tests/bench/pyevdev-forward.py (python3-evdev, a typical
 *                 user script: read_loop() + UInput.write_event()).
 *
 * Modes: closed loop (write, wait for it, repeat) and open loop at 1000 and
 * 8000 frames/s (a writer thread on absolute clock_nanosleep deadlines, a
 * reader on poll+read); each also loaded (MODE_cpu: one busy loop per CPU at
 * normal priority; MODE_mem: one memory-bandwidth hog, dd from /dev/zero to
 * /dev/null in 16 MiB blocks, per CPU). For kvmswitch, its own figures for
 * the run (status "latency": the hop from the source frame's kernel
 * timestamp to its write()'s return) are kept beside the harness's. Per run: round-trip latency (CLOCK_MONOTONIC before
 * the write, after the read that returned the frame) and the output event's
 * kernel timestamp (EVIOCSCLOCKID CLOCK_MONOTONIC) minus the write time;
 * frames lost, duplicated, reordered or without a sequence number;
 * SYN_DROPPED seen by the reader; the forwarder's CPU time (utime+stime of
 * every forwarder process, /proc/PID/stat). A separate pass per forwarder
 * counts its syscalls per frame (perf stat on the syscall tracepoints, or
 * strace -c -f), because counting slows the forwarder.
 *
 * Environment (durations in seconds):
 *   KVMBENCH_OUT         result directory (default $KVMSWITCH_BUILD/bench/out)
 *   KVMBENCH_QUICK=1     short runs for development (the defaults below / ~10)
 *   KVMBENCH_CLOSED_S    closed loop duration (10)
 *   KVMBENCH_1000HZ_S    open loop at 1000 Hz (20)
 *   KVMBENCH_8000HZ_S    open loop at 8000 Hz (60)
 *   KVMBENCH_SYSCALLS_S  each syscall-counting pass (10, at 1000 and 8000 Hz)
 *   KVMBENCH_SYSCALL_TOOL perf (default) or strace
 *   KVMBENCH_TOGGLES     switches in the toggle test (1000)
 *   KVMBENCH_RT=0        keep the writer thread SCHED_OTHER (default:
 *                        SCHED_FIFO, as a device keeps its own pace; the
 *                        reader, like a consumer, and the forwarders run
 *                        SCHED_OTHER)
 *   KVMBENCH_CPUS        CPUs (e.g. "0") to which each case and everything
 *                        it starts is pinned (default: all)
 *   KVMBENCH_TOP         the source tree (default: the current directory)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

/* ---- configuration ---- */

struct bench_conf {
	double closed_s, hz1000_s, hz8000_s, syscalls_s;
	int toggles;
	bool rt;
	const char *syscall_tool;
	char out[PATH_MAX];
	char top[PATH_MAX];
	char cpus[64];
};

static double env_double(const char *name, double def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	double d = strtod(v, &end);
	if (*end || d <= 0)
		ITEST_FAIL("%s=%s: want a positive number", name, v);
	return d;
}

static const struct bench_conf *conf(void)
{
	static struct bench_conf c;
	static bool done;
	if (done)
		return &c;
	const char *q = getenv("KVMBENCH_QUICK");
	bool quick = q && strcmp(q, "1") == 0;
	c.closed_s = env_double("KVMBENCH_CLOSED_S", quick ? 2 : 10);
	c.hz1000_s = env_double("KVMBENCH_1000HZ_S", quick ? 2 : 20);
	c.hz8000_s = env_double("KVMBENCH_8000HZ_S", quick ? 4 : 60);
	c.syscalls_s = env_double("KVMBENCH_SYSCALLS_S", quick ? 2 : 10);
	c.toggles = (int)env_double("KVMBENCH_TOGGLES", quick ? 100 : 1000);
	const char *rt = getenv("KVMBENCH_RT");
	c.rt = !(rt && strcmp(rt, "0") == 0);
	const char *tool = getenv("KVMBENCH_SYSCALL_TOOL");
	c.syscall_tool = tool && *tool ? tool : "perf";
	if (strcmp(c.syscall_tool, "perf") != 0 && strcmp(c.syscall_tool, "strace") != 0)
		ITEST_FAIL("KVMBENCH_SYSCALL_TOOL=%s: want perf or strace", c.syscall_tool);
	const char *out = getenv("KVMBENCH_OUT");
	const char *build = getenv("KVMSWITCH_BUILD");
	if (out && *out)
		snprintf(c.out, sizeof(c.out), "%s", out);
	else
		snprintf(c.out, sizeof(c.out), "%s/bench/out", build && *build ? build : "build");
	const char *top = getenv("KVMBENCH_TOP");
	snprintf(c.top, sizeof(c.top), "%s", top && *top ? top : ".");
	/* KVMBENCH_CPUS=0: the case and all it starts on those CPUs only. */
	const char *cpus = getenv("KVMBENCH_CPUS");
	snprintf(c.cpus, sizeof(c.cpus), "%s", cpus && *cpus ? cpus : "all");
	if (cpus && *cpus) {
		cpu_set_t set;
		CPU_ZERO(&set);
		char *copy = strdup(cpus), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			CPU_SET(atoi(t), &set);
		free(copy);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			ITEST_FAIL("KVMBENCH_CPUS=%s: %s", cpus, strerror(errno));
	}
	mkdir(c.out, 0755);
	struct stat st;
	if (stat(c.out, &st) < 0 || !S_ISDIR(st.st_mode))
		ITEST_FAIL("cannot use the result directory %s", c.out);
	done = true;
	return &c;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* When the running case started (its results say how long it took). */
static int64_t case_start_ns;

/* ---- result files: "key value" lines, one file per run ---- */

struct kv {
	FILE *f;
	char *path, *tmp;
};

static struct kv kv_open(const char *name)
{
	struct kv k;
	if (asprintf(&k.path, "%s/%s", conf()->out, name) < 0 || asprintf(&k.tmp, "%s.tmp", k.path) < 0)
		ITEST_FAIL("out of memory");
	k.f = fopen(k.tmp, "w");
	if (!k.f)
		ITEST_FAIL("cannot write %s: %s", k.tmp, strerror(errno));
	return k;
}

__attribute__((format(printf, 3, 4))) static void kv_put(struct kv *k, const char *key, const char *fmt, ...)
{
	va_list ap;
	fprintf(k->f, "%s\t", key);
	va_start(ap, fmt);
	vfprintf(k->f, fmt, ap);
	va_end(ap);
	fputc('\n', k->f);
}

static void kv_close(struct kv *k)
{
	size_t len = strlen(k->path);
	if (case_start_ns && len > 4 && strcmp(k->path + len - 4, ".tsv") == 0)
		fprintf(k->f, "case_s\t%.1f\n", (double)(now_ns() - case_start_ns) / 1e9);
	if (fclose(k->f) != 0 || rename(k->tmp, k->path) < 0)
		ITEST_FAIL("cannot write %s: %s", k->path, strerror(errno));
	free(k->path);
	free(k->tmp);
}

/* ---- the forwarder's processes: CPU time ---- */

#define MAX_PIDS 4

/* utime + stime of a process (all its threads), in clock ticks; -1 if gone. */
static long long proc_cpu_ticks(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	char *s = itest_read_file(path, NULL);
	if (!s)
		return -1;
	/* Fields after "(comm)": state is field 3, utime 14, stime 15. */
	char *p = strrchr(s, ')');
	unsigned long long ut = 0, st = 0;
	int n = p ? sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) : 0;
	free(s);
	return n == 2 ? (long long)(ut + st) : -1;
}

static long long pids_cpu_ticks(const pid_t *pids, size_t n)
{
	long long sum = 0;
	for (size_t i = 0; i < n; i++) {
		long long t = proc_cpu_ticks(pids[i]);
		if (t < 0)
			ITEST_FAIL("forwarder process %d is gone", (int)pids[i]);
		sum += t;
	}
	return sum;
}

/* The processes in process group pgid whose comm is `comm`. */
static size_t pids_in_group(pid_t pgid, const char *comm, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	size_t n = 0;
	struct dirent *e;
	if (!d)
		ITEST_FAIL("opendir /proc: %s", strerror(errno));
	while ((e = readdir(d)) && n < max) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		char *s = itest_read_file(path, NULL);
		if (!s)
			continue;
		char *open = strchr(s, '('), *close = strrchr(s, ')');
		int pg = -1;
		if (open && close && close > open && sscanf(close + 2, "%*c %*d %d", &pg) == 1 && pg == pgid &&
		    (size_t)(close - open - 1) == strlen(comm) && strncmp(open + 1, comm, strlen(comm)) == 0)
			out[n++] = (pid_t)pid;
		free(s);
	}
	closedir(d);
	return n;
}

/* ---- contenders ---- */

#define SYNC_BASE 0x40000000 /* MSC_SCAN values of warm-up/sync frames */
#define START_TIMEOUT_MS 60000

struct contender {
	const char *name;
	bool kvmswitch, interception; /* a kvmswitch / an interception-tools contender */
	struct tdev *src;
	int src_fd; /* the source's uinput fd: frames are written here */
	int out_fd; /* the node frames are read back from */
	char *out_node;
	pid_t pids[MAX_PIDS]; /* the forwarder's processes (none for the floor) */
	size_t n_pids;
	struct ksd *ksd;
	struct tproc *proc;
	uint32_t next_sync;
	/* reader state */
	int32_t cur_seq;
	bool have_seq;
};

static const char *const SRC_SPEC =
	"BTN_LEFT BTN_RIGHT BTN_MIDDLE REL_X REL_Y REL_WHEEL MSC_SCAN bus=0x3 vendor=0x4b56 product=0x42";

static int open_reader(const char *node)
{
	int fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		ITEST_FAIL("cannot open %s: %s", node, strerror(errno));
	int clk = CLOCK_MONOTONIC;
	ITEST_ASSERT_SYSCALL(ioctl(fd, EVIOCSCLOCKID, &clk));
	return fd;
}

/* Waits until someone else holds an EVIOCGRAB on node. */
static void wait_grabbed_elsewhere(const char *node, int timeout_ms)
{
	int fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		ITEST_FAIL("cannot open %s: %s", node, strerror(errno));
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		if (ioctl(fd, EVIOCGRAB, (void *)1) < 0 && errno == EBUSY)
			break;
		ioctl(fd, EVIOCGRAB, (void *)0);
		if (itest_now_ms() > deadline)
			ITEST_FAIL("nothing grabbed %s within %d ms", node, timeout_ms);
		usleep(20000);
	}
	close(fd);
	ITEST_ASSERT(true);
}

static void write_frame(struct contender *c, uint32_t seq)
{
	struct input_event ev[3];
	memset(ev, 0, sizeof(ev));
	ev[0].type = EV_MSC;
	ev[0].code = MSC_SCAN;
	ev[0].value = (int32_t)seq;
	ev[1].type = EV_REL;
	ev[1].code = REL_X;
	ev[1].value = seq & 1 ? 1 : -1;
	ev[2].type = EV_SYN;
	ev[2].code = SYN_REPORT;
	ssize_t w;
	do
		w = write(c->src_fd, ev, sizeof(ev));
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)sizeof(ev))
		ITEST_FAIL("write to the source device: %s", w < 0 ? strerror(errno) : "short write");
}

/* ---- runs ---- */

struct run {
	const char *mode;
	unsigned hz; /* 0: closed loop */
	uint32_t cap; /* sequence numbers 1..cap-1 */
	int64_t *t_write, *t_read, *t_kern;
	uint8_t *seen;
	atomic_uint_fast32_t sent;
	uint32_t received, dup, reordered, unlabelled, syn_dropped, max_seq, late, skipped;
	int64_t t_first, t_last; /* first and last write */
	atomic_bool stop;
	pthread_mutex_t mu; /* the reader's accounting, against the closed loop's writer */
	pthread_cond_t cv;
	struct contender *c;
};

/* A run of `seconds`, or of `frames` frames if not 0. */
static void run_init(struct run *r, struct contender *c, const char *mode, unsigned hz, double seconds,
		     uint32_t frames)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->mode = mode;
	r->hz = hz;
	/* Closed loop: far fewer than 200k frames/s even on a fast machine. */
	double n = frames ? frames : hz ? hz * seconds : 200000 * seconds;
	if (n > 50e6)
		n = 50e6;
	r->cap = (uint32_t)n + 2;
	r->t_write = calloc(r->cap, sizeof(int64_t));
	r->t_read = calloc(r->cap, sizeof(int64_t));
	r->t_kern = calloc(r->cap, sizeof(int64_t));
	r->seen = calloc(r->cap, 1);
	if (!r->t_write || !r->t_read || !r->t_kern || !r->seen)
		ITEST_FAIL("out of memory for %u frames", r->cap);
}

static void run_free(struct run *r)
{
	free(r->t_write);
	free(r->t_read);
	free(r->t_kern);
	free(r->seen);
}

/* One read() of what the output node has; accounts the frames in it.
 * Returns the frames completed, or -1 if nothing was there. Sync frames
 * (SYNC_BASE + n) set *sync to n. */
static int reader_consume(struct run *r, struct contender *c, uint32_t *sync)
{
	struct input_event ev[512];
	ssize_t n = read(c->out_fd, ev, sizeof(ev));
	int64_t t = now_ns();
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return -1;
		ITEST_FAIL("read from %s: %s", c->out_node, strerror(errno));
	}
	int frames = 0;
	for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++) {
		const struct input_event *e = &ev[i];
		if (e->type == EV_MSC && e->code == MSC_SCAN) {
			c->cur_seq = e->value;
			c->have_seq = true;
		} else if (e->type == EV_SYN && e->code == SYN_DROPPED) {
			if (r)
				r->syn_dropped++;
			c->have_seq = false;
		} else if (e->type == EV_SYN && e->code == SYN_REPORT) {
			frames++;
			bool have = c->have_seq;
			uint32_t seq = (uint32_t)c->cur_seq;
			c->have_seq = false;
			if (have && seq >= SYNC_BASE) {
				if (sync)
					*sync = seq - SYNC_BASE;
				continue;
			}
			if (!r)
				continue;
			if (!have || seq == 0 || seq >= r->cap) {
				r->unlabelled++;
				continue;
			}
			if (r->seen[seq]) {
				r->dup++;
				continue;
			}
			r->seen[seq] = 1;
			r->received++;
			if (seq < r->max_seq)
				r->reordered++;
			else
				r->max_seq = seq;
			r->t_read[seq] = t;
			r->t_kern[seq] = (int64_t)e->input_event_sec * 1000000000 + (int64_t)e->input_event_usec * 1000;
		}
	}
	return frames;
}

/* Drains the output node, then writes sync frames until one comes back:
 * whatever was in flight is through. */
static void contender_sync(struct contender *c, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	while (reader_consume(NULL, c, NULL) > 0)
		;
	for (;;) {
		uint32_t want = ++c->next_sync, got = UINT32_MAX;
		write_frame(c, SYNC_BASE + want);
		int64_t until = itest_now_ms() + 1000;
		while (got != want && itest_now_ms() < until) {
			struct pollfd p = { c->out_fd, POLLIN, 0 };
			if (poll(&p, 1, 100) > 0)
				reader_consume(NULL, c, &got);
		}
		if (got == want)
			break;
		if (itest_now_ms() > deadline)
			ITEST_FAIL("%s: no sync frame came back within %d ms", c->name, timeout_ms);
	}
	ITEST_ASSERT(true);
}

/* The writer stands for the device: SCHED_FIFO (unless KVMBENCH_RT=0), so
 * its schedule holds. The reader stands for the consumer (QEMU) and runs
 * SCHED_OTHER, as the forwarders do. */
static void set_rt(bool fifo)
{
	prctl(PR_SET_TIMERSLACK, 1UL);
	if (!fifo || !conf()->rt)
		return;
	struct sched_param sp = { .sched_priority = 50 };
	int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	if (rc)
		itest_log("SCHED_FIFO not available (%s); the writer runs SCHED_OTHER", strerror(rc));
}

/* The reader thread: poll + one read() per wake-up, like a consumer. */
static void *reader_main(void *data)
{
	struct run *r = data;
	set_rt(false);
	while (!atomic_load(&r->stop)) {
		struct pollfd p = { r->c->out_fd, POLLIN, 0 };
		if (poll(&p, 1, 50) <= 0)
			continue;
		pthread_mutex_lock(&r->mu);
		reader_consume(r, r->c, NULL);
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

/* Open loop: frames on absolute deadlines, whatever comes back. */
static void write_open(struct run *r, double seconds)
{
	int64_t period = 1000000000LL / r->hz;
	int64_t next = now_ns() + 1000000;
	int64_t end = next + (int64_t)(seconds * 1e9);
	r->t_first = next;
	for (uint32_t seq = 1; seq < r->cap - 1 && next < end; seq++) {
		struct timespec ts = { (time_t)(next / 1000000000), (long)(next % 1000000000) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		int64_t t = now_ns();
		if (t - next > period)
			r->late++;
		if (t - next > 4 * period) {
			/* The harness itself was held up (a busy machine): do
			 * not burst the missed frames, which no device would;
			 * go on from now, the missed ones counted. */
			r->skipped += (uint32_t)((t - next) / period);
			next = t;
		}
		r->t_write[seq] = t;
		write_frame(r->c, seq);
		r->t_last = t;
		atomic_store(&r->sent, seq);
		next += period;
	}
}

/* Closed loop: one frame, then wait until the reader has it (1 s at most). */
static void write_closed(struct run *r, double seconds)
{
	int64_t end = now_ns() + (int64_t)(seconds * 1e9);
	r->t_first = now_ns();
	for (uint32_t seq = 1; seq < r->cap - 1 && now_ns() < end; seq++) {
		int64_t t = now_ns();
		r->t_write[seq] = t;
		write_frame(r->c, seq);
		r->t_last = t;
		atomic_store(&r->sent, seq);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		pthread_mutex_lock(&r->mu);
		while (!r->seen[seq] && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
			;
		pthread_mutex_unlock(&r->mu);
	}
}

/* A run: the reader thread, the writer (this thread), then up to 2 s of
 * silence for the forwarder to deliver what it still has. */
static void run_go(struct run *r, double seconds)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_mutex_init(&r->mu, NULL);
	pthread_t rd;
	int rc = pthread_create(&rd, NULL, reader_main, r);
	if (rc)
		ITEST_FAIL("pthread_create: %s", strerror(rc));
	set_rt(true);
	if (r->hz)
		write_open(r, seconds);
	else
		write_closed(r, seconds);
	struct sched_param sp = { 0 };
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	uint32_t last = UINT32_MAX;
	int64_t quiet_since = now_ns();
	for (;;) {
		pthread_mutex_lock(&r->mu);
		uint32_t got = r->received;
		pthread_mutex_unlock(&r->mu);
		if (got >= atomic_load(&r->sent))
			break;
		if (got != last) {
			last = got;
			quiet_since = now_ns();
		} else if (now_ns() - quiet_since > 2000000000LL) {
			break;
		}
		usleep(10000);
	}
	atomic_store(&r->stop, true);
	pthread_join(rd, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static int64_t pct(const int64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t k = (size_t)ceil(p * (double)n);
	return v[k == 0 ? 0 : (k > n ? n - 1 : k - 1)];
}

/* What a run knows beyond the frames: the load, and kvmswitch's own view. */
struct run_extra {
	const char *load; /* "none", "cpu", "mem" */
	int hogs;
	long long syn_dropped_forwarder; /* -1: not kvmswitch */
	/* kvmswitch's hop for guest pointer since its start (status
	 * "latency"; warm-up and sync frames included), frames -1 if none. */
	long long own_frames, own_p50_ns, own_p99_ns, own_p999_ns, own_max_ns;
	char rt_policy[32]; /* its event loop's policy at the end ("" if none) */
	bool rt_dropped;    /* the runaway bound dropped it during the run */
};

/* Writes the latency figures of run r to its result file and CDF file. */
static void run_report(struct run *r, double cpu_ms, const struct run_extra *ex)
{
	struct contender *c = r->c;
	uint32_t sent = (uint32_t)atomic_load(&r->sent);
	int64_t *rt = malloc(sizeof(int64_t) * (r->received + 1));
	int64_t *kt = malloc(sizeof(int64_t) * (r->received + 1));
	if (!rt || !kt)
		ITEST_FAIL("out of memory");
	size_t n = 0;
	for (uint32_t s = 1; s <= sent && s < r->cap; s++) {
		if (!r->seen[s])
			continue;
		rt[n] = r->t_read[s] - r->t_write[s];
		kt[n] = r->t_kern[s] - r->t_write[s];
		n++;
	}
	qsort(rt, n, sizeof(*rt), cmp_i64);
	qsort(kt, n, sizeof(*kt), cmp_i64);

	char name[128];
	snprintf(name, sizeof(name), "run-%s-%s.tsv", r->mode, c->name);
	struct kv k = kv_open(name);
	kv_put(&k, "contender", "%s", c->name);
	kv_put(&k, "mode", "%s", r->mode);
	kv_put(&k, "hz", "%u", r->hz);
	kv_put(&k, "sent", "%u", sent);
	kv_put(&k, "received", "%u", r->received);
	kv_put(&k, "lost", "%u", sent - r->received);
	kv_put(&k, "dup", "%u", r->dup);
	kv_put(&k, "reordered", "%u", r->reordered);
	kv_put(&k, "unlabelled", "%u", r->unlabelled);
	kv_put(&k, "syn_dropped_reader", "%u", r->syn_dropped);
	kv_put(&k, "writer_late", "%u", r->late);
	kv_put(&k, "writer_skipped", "%u", r->skipped);
	double span = (double)(r->t_last - r->t_first) / 1e9;
	kv_put(&k, "seconds", "%.3f", span);
	kv_put(&k, "rate", "%.1f", span > 0 ? (sent - 1) / span : 0);
	static const struct {
		const char *key;
		double p;
	} ps[] = { { "p50", 0.5 }, { "p90", 0.9 }, { "p99", 0.99 }, { "p999", 0.999 } };
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		char key[32];
		snprintf(key, sizeof(key), "rt_%s_us", ps[i].key);
		kv_put(&k, key, "%.1f", pct(rt, n, ps[i].p) / 1e3);
		snprintf(key, sizeof(key), "kern_%s_us", ps[i].key);
		kv_put(&k, key, "%.1f", pct(kt, n, ps[i].p) / 1e3);
	}
	kv_put(&k, "rt_max_us", "%.1f", n ? rt[n - 1] / 1e3 : 0);
	kv_put(&k, "kern_max_us", "%.1f", n ? kt[n - 1] / 1e3 : 0);
	double mean = 0;
	for (size_t i = 0; i < n; i++)
		mean += (double)rt[i];
	kv_put(&k, "rt_mean_us", "%.1f", n ? mean / (double)n / 1e3 : 0);
	if (cpu_ms >= 0) {
		kv_put(&k, "cpu_ms", "%.0f", cpu_ms);
		/* Per frame forwarded, as the syscalls. */
		kv_put(&k, "cpu_ms_per_100k", "%.1f", r->received ? cpu_ms * 100000.0 / r->received : 0);
	}
	kv_put(&k, "load", "%s", ex->load);
	kv_put(&k, "hogs", "%d", ex->hogs);
	if (ex->syn_dropped_forwarder >= 0)
		kv_put(&k, "syn_dropped_forwarder", "%lld", ex->syn_dropped_forwarder);
	if (ex->own_frames >= 0) {
		kv_put(&k, "own_frames", "%lld", ex->own_frames);
		kv_put(&k, "own_p50_us", "%.1f", ex->own_p50_ns / 1e3);
		kv_put(&k, "own_p99_us", "%.1f", ex->own_p99_ns / 1e3);
		kv_put(&k, "own_p999_us", "%.1f", ex->own_p999_ns / 1e3);
		kv_put(&k, "own_max_us", "%.1f", ex->own_max_ns / 1e3);
	}
	if (ex->rt_policy[0]) {
		kv_put(&k, "rt_policy", "%s", ex->rt_policy);
		kv_put(&k, "rt_dropped", "%d", ex->rt_dropped);
	}
	kv_close(&k);

	/* The CDF: percentiles on a "nines" scale, up to the maximum. */
	snprintf(name, sizeof(name), "cdf-%s-%s.dat", r->mode, c->name);
	struct kv d = kv_open(name);
	fprintf(d.f, "# p\tnines\trt_us\tkern_us\n");
	if (n) {
		double top = log10((double)n);
		for (double x = 0; x < top; x += 0.01) {
			double p = 1 - pow(10, -x);
			fprintf(d.f, "%.6f\t%.3f\t%.1f\t%.1f\n", p, x, pct(rt, n, p) / 1e3, pct(kt, n, p) / 1e3);
		}
		fprintf(d.f, "%.6f\t%.3f\t%.1f\t%.1f\n", 1 - 1.0 / (double)n, top, rt[n - 1] / 1e3,
			kt[n - 1] / 1e3);
	}
	kv_close(&d);
	itest_log("%-12s %-7s sent %u received %u lost %u reordered %u p50 %.0f us p99 %.0f us max %.0f us%s",
		  c->name, r->mode, sent, r->received, sent - r->received, r->reordered, pct(rt, n, 0.5) / 1e3,
		  pct(rt, n, 0.99) / 1e3, n ? rt[n - 1] / 1e3 : 0, cpu_ms >= 0 ? "" : "");
	free(rt);
	free(kt);
}

/* ---- starting and stopping contenders ---- */

static void contender_close(void *data)
{
	struct contender *c = data;
	if (c->out_fd >= 0)
		close(c->out_fd);
	free(c->out_node);
}

/* The prefix that runs a forwarder under callgrind (instruction counts),
 * or "" without. Its processes are then all named callgrind-amd64-linux. */
static const char *cg_prefix(bool cg)
{
	static char buf[PATH_MAX + 128];
	if (!cg)
		return "";
	snprintf(buf, sizeof(buf), "valgrind --tool=callgrind --callgrind-out-file=%s/cg.%%p ", itest_tmpdir());
	return buf;
}

/* make bench's baseline: kvmswitch without measuring its hop. */
static const char *nolat_binary(void)
{
	static char path[PATH_MAX + 64];
	if (!path[0]) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s", ksd_binary());
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		snprintf(path, sizeof(path), "%s/bench/kvmswitch-nolatstats", dir);
		if (access(path, X_OK) < 0)
			ITEST_FAIL("%s: %s (make bench builds it)", path, strerror(errno));
	}
	return path;
}

static void contender_start(struct contender *c, const char *name, bool cg)
{
	memset(c, 0, sizeof(*c));
	case_start_ns = now_ns();
	c->name = name;
	c->kvmswitch = strncmp(name, "kvmswitch", 9) == 0;
	c->interception = strncmp(name, "interception", 12) == 0;
	c->out_fd = -1;
	itest_defer(contender_close, c);
	c->src = tdev_create_spec("bench mouse", SRC_SPEC);
	const char *src = tdev_devnode(c->src);
	char *cmd = NULL;
	const char *out_name = NULL;
	const char *kcfg = strcmp(name, "kvmswitch_nort") == 0 ?
				   KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\nrealtime = no\n" :
				   KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\n";
	if (c->kvmswitch && strcmp(name, "kvmswitch") != 0 && strcmp(name, "kvmswitch_nort") != 0 &&
	    strcmp(name, "kvmswitch_nolat") != 0)
		ITEST_FAIL("unknown contender %s", name);
	/* The previous case's kvmswitch devices (same names) must be gone, or
	 * their node could be taken for the new ones. */
	int64_t gone_by = itest_now_ms() + START_TIMEOUT_MS;
	for (char *old; c->kvmswitch && (old = treader_find_node("kvmswitch guest pointer", 0)); usleep(100000)) {
		free(old);
		if (itest_now_ms() > gone_by)
			ITEST_FAIL("an earlier kvmswitch's guest pointer does not go away");
	}
	if (c->kvmswitch && !cg) {
		/* The source exists first, so kvmswitch takes it at start. The
		 * baseline binary is swapped in by the shell (ksd runs
		 * WRAPPER... kvmswitch run ...). */
		const char *const swap[] = { "sh", "-c", "shift; exec \"$0\" \"$@\"", nolat_binary(), NULL };
		c->ksd = ksd_start_as(kcfg, NULL, strcmp(name, "kvmswitch_nolat") == 0 ? swap : NULL);
		ITEST_ASSERT_MSG(ksd_wait_input(c->ksd, src, true, START_TIMEOUT_MS), "kvmswitch did not grab %s", src);
		c->out_node = ksd_vdev_node(c->ksd, "guest", "pointer");
		c->pids[c->n_pids++] = tproc_pid(ksd_proc(c->ksd));
	} else if (c->kvmswitch) {
		/* Under valgrind: started here, without ksd's start-up timeout. */
		char *cfgpath = itest_tmpfile("kvmswitch.conf");
		FILE *f = fopen(cfgpath, "w");
		ITEST_ASSERT_NOT_NULL(f);
		/* realtime = no: under valgrind the JIT would spin past the
		 * real-time bound; the priority costs no instruction per frame. */
		fputs(kcfg, f);
		if (!strstr(kcfg, "realtime"))
			fputs("realtime = no\n", f);
		fclose(f);
		if (asprintf(&cmd, "KVMSWITCH_SOCKET=%s/ks.sock exec %s%s run -c %s", itest_tmpdir(), cg_prefix(cg),
			     strcmp(name, "kvmswitch_nolat") == 0 ? nolat_binary() : ksd_binary(), cfgpath) < 0)
			ITEST_FAIL("out of memory");
		free(cfgpath);
		out_name = "kvmswitch guest pointer";
	} else if (c->interception) {
		bool nice = strcmp(name, "interception_nice") == 0;
		if (!nice && strcmp(name, "interception") != 0)
			ITEST_FAIL("unknown contender %s", name);
		char *yaml = itest_tmpfile("out.yaml");
		FILE *f = fopen(yaml, "w");
		ITEST_ASSERT_NOT_NULL(f);
		fprintf(f, "NAME: kvmbench interception out\n");
		fclose(f);
		/* nice -20: what a user would try first against a busy machine. */
		const char *pri = nice ? "nice -n -20 " : "";
		if (asprintf(&cmd, "%s%sinterception -g %s | exec %s%suinput -d %s -c %s", pri, cg_prefix(cg), src, pri,
			     cg_prefix(cg), src, yaml) < 0)
			ITEST_FAIL("out of memory");
		free(yaml);
		out_name = "kvmbench interception out";
	} else if (strcmp(name, "pyevdev") == 0) {
		char *script;
		if (asprintf(&script, "%s/tests/bench/pyevdev-forward.py", conf()->top) < 0)
			ITEST_FAIL("out of memory");
		if (access(script, R_OK) < 0)
			ITEST_FAIL("%s: %s (set KVMBENCH_TOP to the source tree)", script, strerror(errno));
		if (asprintf(&cmd, "exec %spython3 %s %s 'kvmbench pyevdev out'", cg_prefix(cg), script, src) < 0)
			ITEST_FAIL("out of memory");
		free(script);
		out_name = "kvmbench pyevdev out";
	} else if (strcmp(name, "floor") == 0) {
		c->out_node = strdup(src);
	} else {
		ITEST_FAIL("unknown contender %s", name);
	}
	if (cmd) {
		/* A shell line: a pipeline's processes share the process group. */
		const char *argv[] = { "sh", "-c", cmd, NULL };
		c->proc = tproc_spawn(argv, NULL);
		int timeout = cg ? 10 * START_TIMEOUT_MS : START_TIMEOUT_MS;
		c->out_node = treader_find_node(out_name, timeout);
		if (!c->out_node) {
			tproc_dump(c->proc);
			ITEST_FAIL("%s made no output device '%s'", name, out_name);
		}
		wait_grabbed_elsewhere(src, timeout);
		pid_t pg = tproc_pid(c->proc);
		if (cg) {
			c->n_pids = pids_in_group(pg, "callgrind-amd64", c->pids, MAX_PIDS);
		} else if (c->interception) {
			c->n_pids = pids_in_group(pg, "interception", c->pids, MAX_PIDS);
			c->n_pids += pids_in_group(pg, "uinput", c->pids + c->n_pids, MAX_PIDS - c->n_pids);
		} else {
			c->pids[c->n_pids++] = pg; /* exec'd by sh */
		}
		ITEST_ASSERT_EQ_INT(c->n_pids, c->interception ? 2 : 1);
		free(cmd);
	}
	c->src_fd = tdev_fd(c->src);
	c->out_fd = open_reader(c->out_node);
	contender_sync(c, cg ? 10 * START_TIMEOUT_MS : START_TIMEOUT_MS);
	/* Warm-up: 200 frames, ten at a time, not counted. */
	for (int i = 0; i < 200; i++) {
		write_frame(c, SYNC_BASE + 0x100000 + (uint32_t)i);
		if (i % 10 == 9)
			contender_sync(c, cg ? 10 * START_TIMEOUT_MS : START_TIMEOUT_MS);
	}
}

/* The text of the value after "key": from `from` on, to the next ',' or
 * '}', quotes removed; "" if absent. */
static const char *json_value(const char *from, const char *key, char *buf, size_t len)
{
	char pat[96];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = from ? strstr(from, pat) : NULL;
	buf[0] = '\0';
	if (!p)
		return buf;
	p += strlen(pat);
	if (*p == '"')
		snprintf(buf, len, "%.*s", (int)strcspn(p + 1, "\""), p + 1);
	else
		snprintf(buf, len, "%.*s", (int)strcspn(p, ",}"), p);
	return buf;
}

/* kvmswitch's own figures from its status: the hop of guest pointer since
 * start, and how its event loop is scheduled. */
static void own_figures(struct contender *c, struct run_extra *x)
{
	x->own_frames = -1;
	char *st = ksd_request(c->ksd, "status"), buf[64];
	const char *o = strstr(st, "{\"target\":\"guest\",\"kind\":\"pointer\",");
	const char *since = o ? strstr(o, "\"since_start\":") : NULL;
	if (since) {
		x->own_frames = atoll(json_value(since, "frames", buf, sizeof(buf)));
		x->own_p50_ns = atoll(json_value(since, "p50_ns", buf, sizeof(buf)));
		x->own_p99_ns = atoll(json_value(since, "p99_ns", buf, sizeof(buf)));
		x->own_p999_ns = atoll(json_value(since, "p999_ns", buf, sizeof(buf)));
		x->own_max_ns = atoll(json_value(since, "max_ns", buf, sizeof(buf)));
	}
	const char *rt = strstr(st, "\"realtime\":{");
	json_value(rt, "policy", x->rt_policy, sizeof(x->rt_policy));
	x->rt_dropped = strcmp(json_value(rt, "dropped", buf, sizeof(buf)), "true") == 0;
	free(st);
}

/* The CPUs this program may run on. */
static int n_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return (int)sysconf(_SC_NPROCESSORS_ONLN);
	return CPU_COUNT(&set);
}

/* One hog per CPU at normal priority (they inherit this thread's
 * SCHED_OTHER): busy loops ("cpu") or memory-bandwidth hogs ("mem"). */
static int hogs_start(const char *load, struct tproc **hogs, int max)
{
	int n = strcmp(load, "none") == 0 ? 0 : n_cpus();
	n = n > max ? max : n;
	for (int i = 0; i < n; i++) {
		const char *const cpu[] = { "sh", "-c", "while :; do :; done", NULL };
		const char *const mem[] = { "dd", "if=/dev/zero", "of=/dev/null", "bs=16M", NULL };
		hogs[i] = tproc_spawn(strcmp(load, "mem") == 0 ? mem : cpu, NULL);
	}
	usleep(500000); /* let them take the CPUs */
	for (int i = 0; i < n; i++)
		ITEST_ASSERT_MSG(tproc_running(hogs[i]), "the %s hog %d exited", load, i);
	return n;
}

static void hogs_stop(struct tproc **hogs, int n)
{
	for (int i = 0; i < n; i++) {
		tproc_kill(hogs[i], SIGKILL);
		tproc_wait(hogs[i], 10000);
	}
}

/* One measured run of contender `name` in `mode` ("8000hz", or loaded:
 * "8000hz_cpu", "closed_mem"). */
static void bench_run(const char *name, const char *mode)
{
	const struct bench_conf *cf = conf();
	/* Static: contender_close, deferred to the case's end, uses it after we return. */
	static struct contender c;
	contender_start(&c, name, false);
	unsigned hz = strncmp(mode, "1000hz", 6) == 0 ? 1000 : strncmp(mode, "8000hz", 6) == 0 ? 8000 : 0;
	double secs = hz == 1000 ? cf->hz1000_s : hz == 8000 ? cf->hz8000_s : cf->closed_s;
	const char *us = strchr(mode, '_');
	struct run_extra x = { .load = us ? us + 1 : "none", .syn_dropped_forwarder = -1, .own_frames = -1 };
	struct tproc *hogs[64];
	x.hogs = hogs_start(x.load, hogs, 64);
	struct run r;
	run_init(&r, &c, mode, hz, secs, 0);
	long long dropped0 = c.ksd ? ksd_counter(c.ksd, "syn_dropped") : 0;
	long long cpu0 = c.n_pids ? pids_cpu_ticks(c.pids, c.n_pids) : 0;
	run_go(&r, secs);
	double cpu_ms = -1;
	if (c.n_pids)
		cpu_ms = (double)(pids_cpu_ticks(c.pids, c.n_pids) - cpu0) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
	hogs_stop(hogs, x.hogs);
	if (c.ksd) {
		x.syn_dropped_forwarder = ksd_counter(c.ksd, "syn_dropped") - dropped0;
		own_figures(&c, &x);
	}
	run_report(&r, cpu_ms, &x);
	if (x.own_frames >= 0)
		itest_log("%-12s %-10s kvmswitch's own hop: %lld frames, p50 %.0f us p99 %.0f us max %.0f us (%s%s)", c.name,
			  mode, x.own_frames, x.own_p50_ns / 1e3, x.own_p99_ns / 1e3, x.own_max_ns / 1e3, x.rt_policy,
			  x.rt_dropped ? ", dropped by the runaway bound" : "");
	/* The harness works: most frames of a closed loop come back. */
	uint32_t sent = (uint32_t)atomic_load(&r.sent);
	ITEST_ASSERT_GT_INT(sent, 0);
	ITEST_ASSERT_GT_INT(r.received, 0);
	if (!hz)
		ITEST_ASSERT_GE_INT(r.received * 2, sent);
	run_free(&r);
}

/* ---- syscalls per forwarded frame ---- */

/* Syscall counts by name. */
struct sc_count {
	char name[48];
	long long n;
};

static int cmp_sc(const void *a, const void *b)
{
	const struct sc_count *x = a, *y = b;
	return (y->n > x->n) - (y->n < x->n);
}

/* The syscall tracepoints perf can count (tracefs mounted). */
static int n_syscall_tracepoints(void)
{
	DIR *d = opendir("/sys/kernel/tracing/events/syscalls");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strncmp(e->d_name, "sys_enter_", 10) == 0;
	if (d)
		closedir(d);
	return n;
}

/* perf_event fds held by pid. */
static int perf_fds(pid_t pid)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		char p[600], link[64];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		ssize_t l = readlink(p, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = '\0';
			n += strstr(link, "perf_event") != NULL;
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* Counts the forwarder's syscalls while it forwards frames at hz: every
 * syscall tracepoint with perf stat (or strace -c -f), attached to each of
 * the forwarder's processes after its start and warm-up. */
static void bench_syscalls(const char *name, unsigned hz)
{
	const struct bench_conf *cf = conf();
	/* Static: contender_close, deferred to the case's end, uses it after we return. */
	static struct contender c;
	contender_start(&c, name, false);
	char pidlist[128] = "";
	for (size_t i = 0; i < c.n_pids; i++)
		snprintf(pidlist + strlen(pidlist), sizeof(pidlist) - strlen(pidlist), "%s%d", i ? "," : "",
			 (int)c.pids[i]);
	char *outfile = itest_tmpfile("syscalls.txt");
	bool perf = strcmp(cf->syscall_tool, "perf") == 0;
	struct tproc *counter;
	int want_fds = 0;
	if (perf) {
		/* perf needs tracefs for the syscall tracepoints. */
		if (access("/sys/kernel/tracing/events/raw_syscalls", F_OK) < 0 &&
		    mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0)
			itest_log("cannot mount tracefs: %s", strerror(errno));
		int ntp = n_syscall_tracepoints();
		ITEST_ASSERT_MSG(ntp > 0, "no syscall tracepoints in /sys/kernel/tracing");
		want_fds = (ntp + 1) * (int)c.n_pids;
		const char *argv[] = { "perf", "stat", "-x", "\t", "-o", outfile, "-e",
				       "raw_syscalls:sys_enter,syscalls:sys_enter_*", "-p", pidlist, NULL };
		counter = tproc_spawn(argv, NULL);
	} else {
		const char *argv[24] = { "strace", "-c", "-f", "-o", outfile };
		size_t na = 5;
		for (size_t i = 0; i < c.n_pids && na < 20; i++) {
			char *p;
			if (asprintf(&p, "%d", (int)c.pids[i]) < 0)
				ITEST_FAIL("out of memory");
			argv[na++] = "-p";
			argv[na++] = p;
		}
		argv[na] = NULL;
		counter = tproc_spawn(argv, NULL);
	}
	/* Attached once perf holds all its counters / strace traces the
	 * forwarder's processes (their TracerPid). */
	int64_t deadline = itest_now_ms() + 2 * START_TIMEOUT_MS;
	for (;;) {
		bool attached = true;
		if (perf) {
			attached = perf_fds(tproc_pid(counter)) >= want_fds;
		} else {
			for (size_t i = 0; i < c.n_pids; i++) {
				char path[64];
				snprintf(path, sizeof(path), "/proc/%d/status", (int)c.pids[i]);
				char *st = itest_read_file(path, NULL);
				const char *tp = st ? strstr(st, "TracerPid:") : NULL;
				attached = attached && tp && atoi(tp + 10) != 0;
				free(st);
			}
		}
		if (attached)
			break;
		if (!tproc_running(counter)) {
			tproc_dump(counter);
			ITEST_FAIL("%s exited before it attached", cf->syscall_tool);
		}
		if (itest_now_ms() > deadline)
			ITEST_FAIL("%s did not attach within %d ms", cf->syscall_tool, 2 * START_TIMEOUT_MS);
		usleep(50000);
	}
	usleep(200000); /* perf enables its counters after opening them */
	struct run r;
	char mode[32];
	snprintf(mode, sizeof(mode), "sys%u", hz);
	run_init(&r, &c, mode, hz, cf->syscalls_s, 0);
	run_go(&r, cf->syscalls_s);
	tproc_kill(counter, SIGINT);
	int st = tproc_wait(counter, 60000);
	ITEST_ASSERT_MSG(st >= 0, "%s did not exit", cf->syscall_tool);
	uint32_t sent = (uint32_t)atomic_load(&r.sent);

	/* perf -x TAB: "COUNT<TAB><TAB>EVENT<TAB>..."; strace -c:
	 * "% time seconds usecs/call calls [errors] syscall". */
	FILE *fp = fopen(outfile, "r");
	if (!fp) {
		tproc_dump(counter);
		ITEST_FAIL("no output from %s", cf->syscall_tool);
	}
	long long total = -1;
	struct sc_count sc[512];
	size_t nsc = 0;
	char line[512];
	while (fgets(line, sizeof(line), fp)) {
		long long v = -1;
		char nm[64] = "";
		if (perf) {
			char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
			if (line[0] == '#' || !t2)
				continue;
			v = atoll(line);
			snprintf(nm, sizeof(nm), "%.*s", (int)strcspn(t2 + 1, "\t\n"), t2 + 1);
			if (strcmp(nm, "raw_syscalls:sys_enter") == 0) {
				total = v;
				continue;
			}
			if (strncmp(nm, "syscalls:sys_enter_", 19) != 0)
				continue;
			memmove(nm, nm + 19, strlen(nm + 19) + 1);
		} else {
			double pc, secs;
			long long usecs, errors;
			if (sscanf(line, "%lf %lf %lld %lld %lld %63s", &pc, &secs, &usecs, &v, &errors, nm) != 6 &&
			    sscanf(line, "%lf %lf %lld %lld %63s", &pc, &secs, &usecs, &v, nm) != 5)
				continue;
			if (strcmp(nm, "total") == 0) {
				total = v;
				continue;
			}
		}
		if (v > 0 && nsc < sizeof(sc) / sizeof(sc[0])) {
			snprintf(sc[nsc].name, sizeof(sc[nsc].name), "%s", nm);
			sc[nsc++].n = v;
		}
	}
	fclose(fp);
	qsort(sc, nsc, sizeof(sc[0]), cmp_sc);

	char fname[128];
	snprintf(fname, sizeof(fname), "syscalls-%s-%s.txt", mode, c.name);
	struct kv raw = kv_open(fname);
	char *rawtext = itest_read_file(outfile, NULL);
	fputs(rawtext ? rawtext : "", raw.f);
	free(rawtext);
	kv_close(&raw);
	ITEST_ASSERT_MSG(total > 0, "%s counted no syscalls (see %s/%s)", cf->syscall_tool, cf->out, fname);
	ITEST_ASSERT_GT_INT(r.received, 0);
	snprintf(fname, sizeof(fname), "run-%s-%s.tsv", mode, c.name);
	struct kv k = kv_open(fname);
	kv_put(&k, "contender", "%s", c.name);
	kv_put(&k, "mode", "%s", mode);
	kv_put(&k, "hz", "%u", hz);
	kv_put(&k, "tool", "%s", cf->syscall_tool);
	kv_put(&k, "sent", "%u", sent);
	kv_put(&k, "received", "%u", r.received);
	kv_put(&k, "syscalls", "%lld", total);
	/* Per frame forwarded (received), not per frame sent: a frame the
	 * forwarder lost cost it no write. */
	kv_put(&k, "syscalls_per_frame", "%.3f", (double)total / r.received);
	char br[1024] = "";
	for (size_t i = 0; i < nsc; i++) {
		char key[64];
		snprintf(key, sizeof(key), "sc_%.47s", sc[i].name);
		kv_put(&k, key, "%lld", sc[i].n);
		double per = (double)sc[i].n / r.received;
		if (per >= 0.005)
			snprintf(br + strlen(br), sizeof(br) - strlen(br), "%s%.47s %.2f", br[0] ? ", " : "", sc[i].name,
				 per);
	}
	kv_put(&k, "breakdown", "%s", br);
	kv_close(&k);
	itest_log("%-12s %-7s %u frames sent, %u received, %lld syscalls: %.2f per frame (%s: %s)", c.name, mode,
		  sent, r.received, total, (double)total / r.received, cf->syscall_tool, br);
	run_free(&r);
}

/* ---- user-space instructions per frame (callgrind) ---- */

/* The "totals:" (or "summary:") count of the newest callgrind dump of pid;
 * the dump is kept as KVMBENCH_OUT/callgrind-NAME.PID for callgrind_annotate. */
static long long cg_totals(pid_t pid, const char *name)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "cg.%d.", (int)pid);
	DIR *d = opendir(itest_tmpdir());
	ITEST_ASSERT_NOT_NULL(d);
	struct dirent *e;
	int best = -1;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && atoi(e->d_name + strlen(prefix)) > best)
			best = atoi(e->d_name + strlen(prefix));
	closedir(d);
	if (best < 0)
		return -1;
	char *path;
	if (asprintf(&path, "%s/%s%d", itest_tmpdir(), prefix, best) < 0)
		ITEST_FAIL("out of memory");
	char *text = itest_read_file(path, NULL);
	free(path);
	char keep[96];
	snprintf(keep, sizeof(keep), "callgrind-%s.%d", name, (int)pid);
	struct kv k = kv_open(keep);
	fputs(text ? text : "", k.f);
	kv_close(&k);
	const char *t = text ? strstr(text, "\ntotals: ") : NULL;
	if (!t)
		t = text ? strstr(text, "\nsummary: ") : NULL;
	long long v = t ? atoll(strchr(t, ':') + 1) : -1;
	free(text);
	return v;
}

static void callgrind_control(const char *op, pid_t pid)
{
	char p[32];
	snprintf(p, sizeof(p), "%d", (int)pid);
	const char *argv[] = { "callgrind_control", op, p, NULL };
	struct tproc *t = tproc_spawn(argv, NULL);
	int st = tproc_wait(t, 10 * START_TIMEOUT_MS);
	if (st != 0)
		tproc_dump(t);
	ITEST_ASSERT_MSG(st == 0, "callgrind_control %s %d: status %d", op, (int)pid, st);
}

/* The forwarder under callgrind: counters zeroed after the warm-up, then a
 * closed loop of KVMBENCH_INSTR_FRAMES frames (one per wake-up for every
 * contender), then a dump. */
static void bench_instr(const char *name)
{
	uint32_t frames = (uint32_t)env_double("KVMBENCH_INSTR_FRAMES", 2000);
	/* Static: contender_close, deferred to the case's end, uses it after we return. */
	static struct contender c;
	contender_start(&c, name, true);
	for (size_t i = 0; i < c.n_pids; i++)
		callgrind_control("-z", c.pids[i]);
	struct run r;
	run_init(&r, &c, "instr", 0, 3600, frames);
	run_go(&r, 3600);
	long long total = 0;
	for (size_t i = 0; i < c.n_pids; i++) {
		callgrind_control("-d", c.pids[i]);
		long long v = -1;
		int64_t until = itest_now_ms() + START_TIMEOUT_MS;
		while ((v = cg_totals(c.pids[i], c.name)) < 0 && itest_now_ms() < until)
			usleep(100000);
		ITEST_ASSERT_MSG(v > 0, "no callgrind dump of process %d", (int)c.pids[i]);
		total += v;
	}
	uint32_t sent = (uint32_t)atomic_load(&r.sent);
	ITEST_ASSERT_GT_INT(r.received, 0);
	char fname[128];
	snprintf(fname, sizeof(fname), "run-instr-%s.tsv", c.name);
	struct kv k = kv_open(fname);
	kv_put(&k, "contender", "%s", c.name);
	kv_put(&k, "mode", "instr");
	kv_put(&k, "sent", "%u", sent);
	kv_put(&k, "received", "%u", r.received);
	kv_put(&k, "instructions", "%lld", total);
	kv_put(&k, "instr_per_frame", "%.0f", (double)total / sent);
	kv_close(&k);
	itest_log("%-12s instr   %u frames, %lld user-space instructions: %.0f per frame", c.name, sent, total,
		  (double)total / sent);
	run_free(&r);
}

/* ---- the machine, as the VM sees it ---- */

ITEST(machine)
{
	struct utsname u;
	ITEST_ASSERT_SYSCALL(uname(&u));
	struct kv k = kv_open("machine-vm.tsv");
	kv_put(&k, "vm_kernel", "%s %s", u.sysname, u.release);
	char *ci = itest_read_file("/proc/cpuinfo", NULL);
	const char *m = ci ? strstr(ci, "model name") : NULL;
	if (m && (m = strchr(m, ':')))
		kv_put(&k, "vm_cpu", "%.*s", (int)strcspn(m + 2, "\n"), m + 2);
	free(ci);
	kv_put(&k, "vm_cpus", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	char *cs = itest_read_file("/sys/devices/system/clocksource/clocksource0/current_clocksource", NULL);
	kv_put(&k, "vm_clocksource", "%.*s", cs ? (int)strcspn(cs, "\n") : 1, cs ? cs : "?");
	free(cs);
	const struct bench_conf *cf = conf();
	kv_put(&k, "closed_s", "%g", cf->closed_s);
	kv_put(&k, "hz1000_s", "%g", cf->hz1000_s);
	kv_put(&k, "hz8000_s", "%g", cf->hz8000_s);
	kv_put(&k, "syscalls_s", "%g", cf->syscalls_s);
	kv_put(&k, "toggles", "%d", cf->toggles);
	kv_put(&k, "harness_rt", "%d", cf->rt);
	kv_put(&k, "cpus", "%s", cf->cpus);
	kv_put(&k, "syscall_tool", "%s", cf->syscall_tool);
	kv_close(&k);
}

/* One case per line: the runner orders cases by line. */
#define BENCH_CASE(mode_, modestr_, who_) \
	ITEST_TIMEOUT(mode_##_##who_, 3600) { bench_run(#who_, modestr_); }
#define SYSCALL_CASE(hz_, who_) \
	ITEST_TIMEOUT(syscalls##hz_##_##who_, 3600) { bench_syscalls(#who_, hz_); }

BENCH_CASE(closed, "closed", floor)
BENCH_CASE(closed, "closed", kvmswitch)
BENCH_CASE(closed, "closed", kvmswitch_nort)
BENCH_CASE(closed, "closed", interception)
BENCH_CASE(closed, "closed", interception_nice)
BENCH_CASE(closed, "closed", pyevdev)
BENCH_CASE(hz1000, "1000hz", floor)
BENCH_CASE(hz1000, "1000hz", kvmswitch)
BENCH_CASE(hz1000, "1000hz", kvmswitch_nort)
BENCH_CASE(hz1000, "1000hz", interception)
BENCH_CASE(hz1000, "1000hz", interception_nice)
BENCH_CASE(hz1000, "1000hz", pyevdev)
BENCH_CASE(hz8000, "8000hz", floor)
BENCH_CASE(hz8000, "8000hz", kvmswitch)
BENCH_CASE(hz8000, "8000hz", kvmswitch_nort)
BENCH_CASE(hz8000, "8000hz", interception)
BENCH_CASE(hz8000, "8000hz", interception_nice)
BENCH_CASE(hz8000, "8000hz", pyevdev)
/* Under load: a busy loop per CPU, then a memory-bandwidth hog per CPU. */
BENCH_CASE(closed_cpu, "closed_cpu", floor)
BENCH_CASE(closed_cpu, "closed_cpu", kvmswitch)
BENCH_CASE(closed_cpu, "closed_cpu", kvmswitch_nort)
BENCH_CASE(closed_cpu, "closed_cpu", interception)
BENCH_CASE(closed_cpu, "closed_cpu", interception_nice)
BENCH_CASE(hz1000_cpu, "1000hz_cpu", floor)
BENCH_CASE(hz1000_cpu, "1000hz_cpu", kvmswitch)
BENCH_CASE(hz1000_cpu, "1000hz_cpu", kvmswitch_nort)
BENCH_CASE(hz1000_cpu, "1000hz_cpu", interception)
BENCH_CASE(hz1000_cpu, "1000hz_cpu", interception_nice)
BENCH_CASE(hz8000_cpu, "8000hz_cpu", floor)
BENCH_CASE(hz8000_cpu, "8000hz_cpu", kvmswitch)
BENCH_CASE(hz8000_cpu, "8000hz_cpu", kvmswitch_nort)
BENCH_CASE(hz8000_cpu, "8000hz_cpu", interception)
BENCH_CASE(hz8000_cpu, "8000hz_cpu", interception_nice)
BENCH_CASE(closed_mem, "closed_mem", floor)
BENCH_CASE(closed_mem, "closed_mem", kvmswitch)
BENCH_CASE(closed_mem, "closed_mem", kvmswitch_nort)
BENCH_CASE(closed_mem, "closed_mem", interception)
BENCH_CASE(closed_mem, "closed_mem", interception_nice)
BENCH_CASE(hz8000_mem, "8000hz_mem", floor)
BENCH_CASE(hz8000_mem, "8000hz_mem", kvmswitch)
BENCH_CASE(hz8000_mem, "8000hz_mem", kvmswitch_nort)
BENCH_CASE(hz8000_mem, "8000hz_mem", interception)
BENCH_CASE(hz8000_mem, "8000hz_mem", interception_nice)
SYSCALL_CASE(1000, kvmswitch)
SYSCALL_CASE(1000, kvmswitch_nolat)
SYSCALL_CASE(1000, interception)
SYSCALL_CASE(1000, pyevdev)
SYSCALL_CASE(8000, kvmswitch)
SYSCALL_CASE(8000, kvmswitch_nolat)
SYSCALL_CASE(8000, interception)
SYSCALL_CASE(8000, pyevdev)
ITEST_TIMEOUT(instr_kvmswitch, 3600) { bench_instr("kvmswitch"); }
ITEST_TIMEOUT(instr_kvmswitch_nolat, 3600) { bench_instr("kvmswitch_nolat"); }
ITEST_TIMEOUT(instr_interception, 3600) { bench_instr("interception"); }
ITEST_TIMEOUT(instr_pyevdev, 3600) { bench_instr("pyevdev"); }

/* ---- the toggle test ---- */

static const char *const TARGETS[] = { "host", "guest", "guest2" };
#define N_TARGETS 3

/* Keys (and buttons) down on a device, from EVIOCGKEY. */
static int keys_down(int fd)
{
	unsigned char bits[KEY_MAX / 8 + 1];
	memset(bits, 0, sizeof(bits));
	if (ioctl(fd, EVIOCGKEY(sizeof(bits)), bits) < 0)
		ITEST_FAIL("EVIOCGKEY: %s", strerror(errno));
	int n = 0;
	for (size_t i = 0; i < sizeof(bits); i++)
		n += __builtin_popcount(bits[i]);
	return n;
}

/* 1000 switches through the control socket while keys and buttons are held;
 * afterwards no target may hold a key, by kvmswitch's count or the kernel's. */
ITEST_TIMEOUT(toggle_held_keys, 3600)
{
	const struct bench_conf *cf = conf();
	case_start_ns = now_ns();
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "bench toggle keyboard");
	struct tdev *mouse = tdev_create(TDEV_MOUSE, "bench toggle mouse");
	/* Test keyboards have no autorepeat (tdev.c): a source's repeats
	 * would only be dropped. */
	struct ksd *k = ksd_start(KSD_MATCH_TEST_DEVICES "[general]\nstart = guest\n"
						       "[target host]\nmode = virtual\n[target guest]\n[target guest2]\n");
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), true, START_TIMEOUT_MS));
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(mouse), true, START_TIMEOUT_MS));
	int vk[N_TARGETS], vp[N_TARGETS];
	for (int t = 0; t < N_TARGETS; t++) {
		char *n = ksd_vdev_node(k, TARGETS[t], "keyboard");
		vk[t] = open(n, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		ITEST_ASSERT_SYSCALL(vk[t]);
		free(n);
		n = ksd_vdev_node(k, TARGETS[t], "pointer");
		vp[t] = open(n, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		ITEST_ASSERT_SYSCALL(vp[t]);
		free(n);
	}
	static const unsigned keys[] = { KEY_A, KEY_S, KEY_D, KEY_F, KEY_J, KEY_K, KEY_L, KEY_SEMICOLON };
	static const unsigned buttons[] = { BTN_LEFT, BTN_RIGHT, BTN_MIDDLE };
	bool kdown[8] = { 0 }, bdown[3] = { 0 };
	int n = cf->toggles, active = 1, stuck_after_switch = 0;
	int64_t *lat = calloc((size_t)n, sizeof(int64_t));
	ITEST_ASSERT_NOT_NULL(lat);
	unsigned rng = 12345;
	for (int i = 0; i < n; i++) {
		/* Flip a key or two and maybe a button, so some are always held. */
		for (int j = 0; j < 2; j++) {
			rng = rng * 1103515245 + 12345;
			unsigned kk = (rng >> 16) % 8;
			kdown[kk] = !kdown[kk];
			tdev_key(kbd, keys[kk], kdown[kk]);
		}
		if (i % 3 == 0) {
			unsigned b = (unsigned)(i / 3) % 3;
			bdown[b] = !bdown[b];
			tdev_key(mouse, buttons[b], bdown[b]);
		}
		int to = (active + 1) % N_TARGETS;
		char line[64], want[64];
		snprintf(line, sizeof(line), "switch %s", TARGETS[to]);
		snprintf(want, sizeof(want), "ok %s", TARGETS[to]);
		int64_t t0 = now_ns();
		char *reply = ksd_request(k, line);
		lat[i] = now_ns() - t0;
		ITEST_ASSERT_STR_EQ(reply, want);
		free(reply);
		/* The switch released everything on the old target before it
		 * replied. */
		if (keys_down(vk[active]) || keys_down(vp[active]))
			stuck_after_switch++;
		active = to;
	}
	/* Still forwarding: what is held now reaches the active target. */
	for (int j = 0; j < 8; j++)
		if (!kdown[j]) {
			kdown[j] = true;
			tdev_key(kbd, keys[j], 1);
			break;
		}
	int64_t until = itest_now_ms() + 10000;
	while (keys_down(vk[active]) == 0 && itest_now_ms() < until)
		usleep(10000);
	ITEST_ASSERT_MSG(keys_down(vk[active]) > 0, "the held keys never reached the active target %s",
			 TARGETS[active]);
	/* Let go of everything; then nothing may be down anywhere. */
	for (int j = 0; j < 8; j++)
		if (kdown[j])
			tdev_key(kbd, keys[j], 0);
	for (int b = 0; b < 3; b++)
		if (bdown[b])
			tdev_key(mouse, buttons[b], 0);
	until = itest_now_ms() + 10000;
	int held = 0, down = 0;
	do {
		held = down = 0;
		for (int t = 0; t < N_TARGETS; t++) {
			held += ksd_held(k, TARGETS[t]);
			down += keys_down(vk[t]) + keys_down(vp[t]);
		}
		if (!held && !down)
			break;
		usleep(20000);
	} while (itest_now_ms() < until);
	long long switches = ksd_counter(k, "switches");
	qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
	struct kv kv = kv_open("toggle.tsv");
	kv_put(&kv, "switches", "%d", n);
	kv_put(&kv, "switches_counted", "%lld", switches);
	kv_put(&kv, "stuck_after_switch", "%d", stuck_after_switch);
	kv_put(&kv, "stuck_held", "%d", held);
	kv_put(&kv, "stuck_keys", "%d", down);
	kv_put(&kv, "switch_p50_us", "%.0f", pct(lat, (size_t)n, 0.5) / 1e3);
	kv_put(&kv, "switch_p99_us", "%.0f", pct(lat, (size_t)n, 0.99) / 1e3);
	kv_put(&kv, "switch_max_us", "%.0f", lat[n - 1] / 1e3);
	kv_close(&kv);
	itest_log("toggle: %d switches, %d stuck after a switch, %d held and %d down at the end", n,
		  stuck_after_switch, held, down);
	free(lat);
	ITEST_ASSERT_EQ_INT(stuck_after_switch, 0);
	ITEST_ASSERT_EQ_INT(held, 0);
	ITEST_ASSERT_EQ_INT(down, 0);
	ITEST_ASSERT_GE_INT(switches, n);
}
