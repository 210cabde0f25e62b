/* itest: kvmswitch's integration-test library.
 *
 * A test program is one tests/integration/NAME.c holding ITEST() cases; the
 * library provides main(). Each case runs in its own forked child with a
 * timeout and prints exactly one line: "ok NAME", "not ok NAME - REASON" or
 * "ok NAME # SKIP REASON". Diagnostics go to stderr, each line starting "# ".
 *
 * Helpers fail the running case themselves (with file:line and context) when
 * something they need does not work, like libinput's litest: a test reads as
 * the sequence of things it expects.
 *
 * Modules: runner.c (cases, assertions, cleanup, tmpdir), udev.c (waiting for
 * udev, properties), tdev.c (uinput test devices), reader.c (event nodes),
 * events.c (event lists and diffs), proc.c (child processes), qmp.c (QMP
 * client), qemu_consumer.c (a QEMU input-linux consumer read through its trace).
 */
#ifndef KVMSWITCH_ITEST_H
#define KVMSWITCH_ITEST_H

#include <errno.h>
#include <linux/input.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------------------ */
/* Cases and the runner (runner.c)                                          */

#define ITEST_DEFAULT_TIMEOUT_S 60

struct itest_case {
	const char *name;
	void (*fn)(void);
	int timeout_s; /* 0: ITEST_DEFAULT_TIMEOUT_S */
	const char *file;
	int line;
	struct itest_case *next;
};

void itest_register(struct itest_case *c);

/* ITEST(name) { body }: a case with the default timeout.
 * ITEST_TIMEOUT(name, seconds) { body }: a case with its own timeout.
 * $ITEST_TIMEOUT_FACTOR (a number, default 1) scales every timeout, e.g. for
 * a sanitizer build. */
#define ITEST_TIMEOUT(name_, seconds_)                                              \
	static void itest_fn_##name_(void);                                         \
	static struct itest_case itest_case_##name_ = {                             \
		#name_, itest_fn_##name_, (seconds_), __FILE__, __LINE__, NULL};    \
	__attribute__((constructor)) static void itest_register_##name_(void)       \
	{                                                                           \
		itest_register(&itest_case_##name_);                                \
	}                                                                           \
	static void itest_fn_##name_(void)

#define ITEST(name_) ITEST_TIMEOUT(name_, 0)

/* Ends the running case as failed / skipped. Never return. */
__attribute__((noreturn, format(printf, 3, 4))) void itest_fail_at(const char *file, int line,
								    const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void itest_skip(const char *fmt, ...);
/* Prints a diagnostic line ("# ..." on stderr). */
__attribute__((format(printf, 1, 2))) void itest_log(const char *fmt, ...);
/* The source tree (absolute): $KVMSWITCH_SRC, the current directory
 * (tests/check runs from the top), or the build directory's parent; the
 * one holding tests/lib/itest.h. Fails the case if there is none. */
const char *itest_src_dir(void);

/* True inside the test VM (tests/vm/run sets KVMSWITCH_IN_VM=1): where a
 * case may change the machine (udev rules, users, /run). */
bool itest_in_vm(void);

/* True once the running case has failed (e.g. in an itest_defer cleanup, to
 * dump logs only then). */
bool itest_case_failed(void);

/* Counts an assertion that held. A case that ends without a single assertion
 * is reported as failed: every case must check something. */
void itest_count_assertion(void);

/* Registers fn(data) to run when the case ends (passed, failed or skipped),
 * last registered first. Not run if the case is killed by its timeout; the
 * runner then kills the case's process group and removes its tmpdir. */
void itest_defer(void (*fn)(void *), void *data);

/* The case's own temporary directory (under $TMPDIR or /tmp), removed when
 * the case ends unless $ITEST_KEEP_TMP=1. */
const char *itest_tmpdir(void);
/* A malloc'd path "TMPDIR/name". */
char *itest_tmpfile(const char *name);

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t itest_now_ms(void);
/* Writes `text` to a new file "TMPDIR/name" with `mode`; returns its malloc'd
 * path. Fails the case on error. */
char *itest_tmpfile_with(const char *name, const char *text, mode_t mode);
/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL with errno. */
char *itest_read_file(const char *path, size_t *len);
/* Is the program at path an AddressSanitizer build? (Its runtime replaces
 * some calls: mlockall does nothing, valgrind cannot run it, LeakSanitizer
 * needs ptrace.) Fails the case if it cannot be read. */
bool itest_binary_has_asan(const char *path);

#define ITEST_FAIL(...) itest_fail_at(__FILE__, __LINE__, __VA_ARGS__)

#define ITEST_ASSERT(cond_)                                                         \
	do {                                                                        \
		if (!(cond_))                                                       \
			itest_fail_at(__FILE__, __LINE__, "assertion failed: %s",  \
				      #cond_);                                      \
		itest_count_assertion();                                            \
	} while (0)

#define ITEST_ASSERT_MSG(cond_, ...)                                                \
	do {                                                                        \
		if (!(cond_)) {                                                     \
			itest_log("assertion failed: %s", #cond_);                  \
			itest_fail_at(__FILE__, __LINE__, __VA_ARGS__);             \
		}                                                                   \
		itest_count_assertion();                                            \
	} while (0)

/* Integer comparison: ITEST_ASSERT_INT(a, ==, b). Prints both values. */
#define ITEST_ASSERT_INT(a_, op_, b_)                                               \
	do {                                                                        \
		long long itest_a_ = (long long)(a_), itest_b_ = (long long)(b_);   \
		if (!(itest_a_ op_ itest_b_))                                       \
			itest_fail_at(__FILE__, __LINE__,                           \
				      "assertion failed: %s %s %s (%lld %s %lld)", #a_, \
				      #op_, #b_, itest_a_, #op_, itest_b_);         \
		itest_count_assertion();                                            \
	} while (0)

#define ITEST_ASSERT_EQ_INT(a_, b_) ITEST_ASSERT_INT(a_, ==, b_)
#define ITEST_ASSERT_NE_INT(a_, b_) ITEST_ASSERT_INT(a_, !=, b_)
#define ITEST_ASSERT_LT_INT(a_, b_) ITEST_ASSERT_INT(a_, <, b_)
#define ITEST_ASSERT_LE_INT(a_, b_) ITEST_ASSERT_INT(a_, <=, b_)
#define ITEST_ASSERT_GT_INT(a_, b_) ITEST_ASSERT_INT(a_, >, b_)
#define ITEST_ASSERT_GE_INT(a_, b_) ITEST_ASSERT_INT(a_, >=, b_)

void itest_assert_str_at(const char *file, int line, const char *ea, const char *eb,
			 const char *a, const char *b, bool want_equal);
void itest_assert_contains_at(const char *file, int line, const char *eh, const char *en,
			      const char *haystack, const char *needle);
void itest_assert_syscall_at(const char *file, int line, const char *expr, long long rc,
			     int err);

/* Strings (NULL compares as a distinct value, printed as (null)). */
#define ITEST_ASSERT_STR_EQ(a_, b_) itest_assert_str_at(__FILE__, __LINE__, #a_, #b_, (a_), (b_), true)
#define ITEST_ASSERT_STR_NE(a_, b_) itest_assert_str_at(__FILE__, __LINE__, #a_, #b_, (a_), (b_), false)
#define ITEST_ASSERT_STR_CONTAINS(h_, n_) \
	itest_assert_contains_at(__FILE__, __LINE__, #h_, #n_, (h_), (n_))
#define ITEST_ASSERT_NOT_NULL(p_) ITEST_ASSERT_MSG((p_) != NULL, "%s is NULL", #p_)
#define ITEST_ASSERT_NULL(p_) ITEST_ASSERT_MSG((p_) == NULL, "%s is not NULL", #p_)
/* A libc/syscall-style call succeeded (result >= 0); prints errno if not. */
#define ITEST_ASSERT_SYSCALL(expr_)                                                 \
	do {                                                                        \
		long long itest_rc_ = (long long)(expr_);                           \
		itest_assert_syscall_at(__FILE__, __LINE__, #expr_, itest_rc_, errno); \
	} while (0)

/* ------------------------------------------------------------------------ */
/* Events without timestamps (events.c)                                     */

struct itest_ev {
	uint16_t type, code;
	int32_t value;
};

/* "EV_KEY KEY_A 1" into buf; returns buf. */
const char *itest_ev_format(const struct itest_ev *ev, char *buf, size_t size);
/* Fails the case (at file:line) with a side-by-side diff unless got == want. */
void itest_ev_assert_equal_at(const char *file, int line, const struct itest_ev *want,
			      size_t n_want, const struct itest_ev *got, size_t n_got,
			      const char *what);

/* ------------------------------------------------------------------------ */
/* udev (udev.c)                                                            */

/* A udev property of a device node (e.g. "ID_INPUT_KEYBOARD"), malloc'd, or
 * NULL if the device has no such property. Fails the case if the node has no
 * udev device. */
char *itest_udev_property(const char *devnode, const char *key);
/* Installs the source tree's udev/NAME as /etc/udev/rules.d/NAME for the
 * rest of the case and reloads udev's rules (removed again when the case
 * ends). Only in the test VM: elsewhere the case is skipped. */
void itest_udev_rules_install(const char *name);
/* Re-runs the rules on every input device (a "change" event) and waits. */
void itest_udev_retrigger(void);
/* Waits until udev has announced the removal of devnode (or it is already
 * gone). Returns true on success, false on timeout. */
bool itest_udev_wait_removed(const char *devnode, int timeout_ms);

/* ------------------------------------------------------------------------ */
/* uinput test devices (tdev.c)                                             */

#define ITEST_DEVICE_PREFIX "kvmtest "
#define ITEST_UDEV_TIMEOUT_MS 20000

enum tdev_kind {
	/* Every KEY_* below BTN_MISC and KEY_OK..KEY_MAX (no BTN_*), all LEDs,
	 * MSC_SCAN; no EV_REP, so that a key a test holds on a loaded machine
	 * does not repeat (a test that wants the kernel's soft autorepeat
	 * makes its keyboard with tdev_create_spec and EV_REP). */
	TDEV_KEYBOARD,
	/* BTN_LEFT..BTN_TASK, REL_X/Y, REL_WHEEL/HWHEEL (+ _HI_RES). */
	TDEV_MOUSE,
	/* A pen tablet: ABS_X/Y 0..32767, BTN_LEFT/RIGHT, BTN_TOOL_PEN,
	 * BTN_TOUCH, INPUT_PROP_DIRECT (udev: ID_INPUT_TABLET). */
	TDEV_TABLET,
};

struct tdev;

/* Creates a device named ITEST_DEVICE_PREFIX + name (the prefix is not added
 * twice) and waits for udev to announce its event node with its properties
 * applied. Fails the case on error or timeout. */
struct tdev *tdev_create(enum tdev_kind kind, const char *name);
/* A custom device from a caps spec: whitespace- or comma-separated tokens,
 * each a code name ("KEY_A", "BTN_LEFT", "REL_X", "LED_CAPSL", "SW_LID",
 * "MSC_SCAN"), "ABS_X:MIN:MAX[:RES]", "INPUT_PROP_DIRECT", "EV_REP", or an id
 * "bus=0x3", "vendor=0x1234", "product=0x5678", "version=1". */
struct tdev *tdev_create_spec(const char *name, const char *spec);
/* Destroys the device and waits for udev to announce its removal. */
void tdev_destroy(struct tdev *d);

const char *tdev_name(const struct tdev *d);    /* full name, with the prefix */
const char *tdev_devnode(const struct tdev *d); /* /dev/input/eventN */
const char *tdev_syspath(const struct tdev *d); /* /sys/devices/virtual/input/inputN */
int tdev_fd(const struct tdev *d);              /* the uinput fd */

/* Writes evs[0..n) followed by SYN_REPORT in one write(). */
void tdev_write_frame(struct tdev *d, const struct itest_ev *evs, size_t n);
/* TDEV_FRAME(d, {EV_KEY, KEY_A, 1}, {EV_REL, REL_X, 3}) */
#define TDEV_FRAME(d_, ...)                                                         \
	tdev_write_frame((d_), (const struct itest_ev[]){__VA_ARGS__},              \
			 sizeof((const struct itest_ev[]){__VA_ARGS__}) / sizeof(struct itest_ev))
/* One frame with a single key/button event. */
void tdev_key(struct tdev *d, unsigned code, int value);
/* Key down frame then key up frame. */
void tdev_tap(struct tdev *d, unsigned code);

/* Reads one event a consumer wrote back to the device (EV_LED, EV_SND, ...)
 * from the uinput fd. Returns 1, or 0 if none arrived within timeout_ms. */
int tdev_read(struct tdev *d, struct itest_ev *ev, int timeout_ms);
/* Reads back-written events until one equals {type, code, value}, skipping
 * others. Returns true if it arrived within timeout_ms. */
bool tdev_wait_event(struct tdev *d, unsigned type, unsigned code, int value, int timeout_ms);

/* ------------------------------------------------------------------------ */
/* Readers of event nodes (reader.c)                                        */

struct treader;

/* The /dev/input/eventN node of the input device with this exact name, udev
 * processing included, waiting up to timeout_ms (0: look once). malloc'd, or
 * NULL if none. With several, the first found. */
char *treader_find_node(const char *name, int timeout_ms);
/* Opens devnode non-blocking; grab: EVIOCGRAB it. Fails the case on error. */
struct treader *treader_open(const char *devnode, bool grab);
/* treader_find_node + treader_open; fails the case if it does not appear. */
struct treader *treader_open_name(const char *name, bool grab, int timeout_ms);
void treader_close(struct treader *r);
int treader_fd(const struct treader *r);
const char *treader_devnode(const struct treader *r);

/* One event: 1, or 0 if none within timeout_ms (0: only what is queued) or
 * the device was removed (treader_gone; events not yet read are lost with
 * it: the kernel returns ENODEV). */
int treader_read(struct treader *r, struct itest_ev *ev, int timeout_ms);
bool treader_gone(const struct treader *r);
/* Events up to and including the next SYN_REPORT (at most max). Returns the
 * count, or 0 if no complete frame arrived within timeout_ms. */
size_t treader_read_frame(struct treader *r, struct itest_ev *evs, size_t max, int timeout_ms);
/* Asserts that exactly want[0..n) arrives next (timestamps ignored), within
 * timeout_ms in all; a mismatch fails the case with a diff. */
void treader_expect_at(const char *file, int line, struct treader *r,
		       const struct itest_ev *want, size_t n, int timeout_ms);
#define treader_expect(r_, want_, n_, timeout_ms_) \
	treader_expect_at(__FILE__, __LINE__, (r_), (want_), (n_), (timeout_ms_))
/* TREADER_EXPECT(r, 1000, {EV_KEY, KEY_A, 1}, {EV_SYN, SYN_REPORT, 0}) */
#define TREADER_EXPECT(r_, timeout_ms_, ...)                                        \
	treader_expect_at(__FILE__, __LINE__, (r_), (const struct itest_ev[]){__VA_ARGS__}, \
			  sizeof((const struct itest_ev[]){__VA_ARGS__}) / sizeof(struct itest_ev), \
			  (timeout_ms_))
/* Asserts that nothing arrives within ms. */
void treader_expect_silence_at(const char *file, int line, struct treader *r, int ms);
#define treader_expect_silence(r_, ms_) treader_expect_silence_at(__FILE__, __LINE__, (r_), (ms_))
/* Reads until {type, code, value} arrives, discarding others; true if it did
 * within timeout_ms. */
bool treader_wait_event(struct treader *r, unsigned type, unsigned code, int value, int timeout_ms);
/* Discards everything queued. */
void treader_drain(struct treader *r);
/* Sets the device's autorepeat (EVIOCSREP) and consumes the EV_REP echo that
 * the kernel holds back until the next SYN_REPORT (one is written here).
 * 60000/60000 keeps autorepeat out of exact sequences: a held key would
 * otherwise repeat on a virtual keyboard after 250 ms. */
void treader_set_repeat(struct treader *r, unsigned delay, unsigned period);
/* Writes evs[0..n) + SYN_REPORT to the node in one write() (e.g. EV_LED, as a
 * consumer sets a keyboard's LEDs). */
void treader_write_frame(struct treader *r, const struct itest_ev *evs, size_t n);

/* ------------------------------------------------------------------------ */
/* Child processes (proc.c)                                                 */

struct tproc;

/* Starts argv[0] (searched in PATH) with argv, the environment plus env_add
 * ("KEY=VALUE" entries, NULL-terminated; may be NULL), stdin from /dev/null,
 * stdout and stderr into files in the case's tmpdir, in its own process
 * group, killed if the case process dies. Stopped (if still running) when the
 * case ends, and freed then. Fails the case if it cannot be started. */
struct tproc *tproc_spawn(const char *const argv[], const char *const env_add[]);
/* tproc_spawn, then waits for it to finish: its exit status as tproc_wait,
 * its stdout and stderr (malloc'd) where out and err are given. Fails the
 * case if it runs longer than timeout_ms. */
int tproc_run(const char *const argv[], const char *const env_add[], char **out, char **err, int timeout_ms);
/* Waits for it to exit. Returns its exit status (0..255), 128+N if killed by
 * signal N, or -1 if still running after timeout_ms. */
int tproc_wait(struct tproc *p, int timeout_ms);
/* Sends sig to its process group. */
void tproc_kill(struct tproc *p, int sig);
/* SIGTERM, wait up to timeout_ms, then SIGKILL; returns as tproc_wait. */
int tproc_stop(struct tproc *p, int timeout_ms);
bool tproc_running(struct tproc *p);
pid_t tproc_pid(const struct tproc *p);
const char *tproc_stdout_path(const struct tproc *p);
const char *tproc_stderr_path(const struct tproc *p);
/* Prints the last lines of its stdout and stderr as diagnostics. */
void tproc_dump(const struct tproc *p);
/* The open file descriptors of process pid (any process, not only ours). */
int tproc_fd_count(pid_t pid);

/* ------------------------------------------------------------------------ */
/* Sockets (sock.c)                                                         */

/* Connects to a Unix stream socket / to 127.0.0.1:port (blocking); fails the
 * case on error. */
int tsock_unix_connect(const char *path);
int tsock_tcp_connect(int port);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int tsock_free_tcp_port(void);
/* Sends everything, waiting (20 s at most) while the peer does not read. */
void tsock_send_all(int fd, const void *buf, size_t n);
void tsock_send_str(int fd, const char *s);
/* One line from fd (malloc'd, without newline), or NULL at EOF/timeout.
 * Reads a byte at a time: the rest stays for the next call. */
char *tsock_recv_line(int fd, int timeout_ms);
/* True when the peer has closed (EOF or reset) within timeout_ms. */
bool tsock_wait_closed(int fd, int timeout_ms);
/* Closes with SO_LINGER {1, 0}: a TCP peer gets a reset. */
void tsock_reset(int fd);
/* The network listener's protocol (docs/protocol.md), computed here with
 * libsodium: the challenge line read from fd (asserted well-formed), and the
 * response line "MAC COMMAND\n" to it. Both malloc'd. */
char *tsock_auth_challenge(int fd, int timeout_ms);
char *tsock_auth_response(const char *challenge, const char *secret, const char *cmd);

/* ------------------------------------------------------------------------ */
/* QMP client (qmp.c)                                                       */

/* The outer QEMU's monitor as seen inside the test VM (tests/vm/run --usb). */
#define QMP_VIRTIO_PORT "/dev/virtio-ports/org.kvmswitch.qmp"
#define QMP_TIMEOUT_MS 20000

struct qmp;

struct qmp_reply {
	bool ok;           /* "return" (true) or "error" (false) */
	char *raw;         /* the whole reply line */
	char *error_class; /* e.g. "CommandNotFound", or NULL */
	char *error_desc;
};

/* Opens a character device (NULL: QMP_VIRTIO_PORT), drains what is pending
 * (a greeting or the leftovers of an earlier user) and negotiates
 * capabilities, accepting "already negotiated". Fails the case on error. */
struct qmp *qmp_open(const char *path);
/* Connects to a QMP unix socket, retrying until timeout_ms while it does not
 * exist yet, and negotiates capabilities. Fails the case on error. */
struct qmp *qmp_connect_unix(const char *path, int timeout_ms);
void qmp_close(struct qmp *q);

/* Sends {"execute": command, "arguments": {ARGS}} where ARGS is the printf
 * expansion of args_fmt (NULL: no arguments), and waits for its reply, keeping
 * asynchronous events for qmp_wait_event. Returns 0 for "return", -1 for
 * "error" (details in *reply if given). Fails the case on I/O error/timeout. */
__attribute__((format(printf, 4, 5))) int qmp_execute(struct qmp *q, struct qmp_reply *reply,
							const char *command, const char *args_fmt, ...);
/* As qmp_execute, failing the case on an "error" reply. */
#define QMP_EXECUTE_OK(q_, ...)                                                     \
	do {                                                                        \
		struct qmp_reply itest_r_;                                          \
		int itest_rc_ = qmp_execute((q_), &itest_r_, __VA_ARGS__);          \
		ITEST_ASSERT_MSG(itest_rc_ == 0, "QMP command failed: %s", itest_r_.raw); \
		qmp_reply_finish(&itest_r_);                                        \
	} while (0)
void qmp_reply_finish(struct qmp_reply *reply);
/* Waits for the event named event whose line contains data_substr (may be
 * NULL), including events already received. Returns a malloc'd copy of the
 * event line, or NULL on timeout. */
char *qmp_wait_event(struct qmp *q, const char *event, const char *data_substr, int timeout_ms);

/* input-send-event: one key (a QEMU qcode name such as "a", "shift",
 * "ctrl") down or up. Fails the case on error. */
void qmp_type_key(struct qmp *q, const char *qcode, bool down);
/* input-send-event: relative motion dx, dy. */
void qmp_mouse_move(struct qmp *q, int dx, int dy);
/* device_del id, then waits for its DEVICE_DELETED. */
void qmp_device_del(struct qmp *q, const char *id);
/* device_add driver=driver,id=id[,bus=bus]. */
void qmp_device_add(struct qmp *q, const char *driver, const char *id, const char *bus);

/* ------------------------------------------------------------------------ */
/* A QEMU consuming event nodes through input-linux (qemu_consumer.c)      */

struct qemu_consumer_opts {
	bool repeat;              /* repeat=on on every node */
	bool grab_all;            /* grab_all=on on the first node */
	const char *const *extra; /* more QEMU arguments, NULL-terminated, or NULL */
};

enum qemu_input_kind { QEMU_INPUT_KEY, QEMU_INPUT_BTN, QEMU_INPUT_REL, QEMU_INPUT_ABS };

/* One event QEMU accepted, from its input_event_* trace. */
struct qemu_input_event {
	enum qemu_input_kind kind;
	char name[32]; /* key: qcode ("a", "shift"); btn: "left"; rel/abs: axis "x" */
	int value;     /* key/btn: down (1/0); rel/abs: value */
};

struct qemu_consumer;

/* Starts qemu-system-x86_64 (TCG, q35, virtio keyboard and mouse, no disk)
 * with one input-linux object per node, tracing input_event_* into a file in
 * the tmpdir, and waits until it runs and has grabbed every node (asserted:
 * a second EVIOCGRAB gets EBUSY). opts may be NULL. Fails the case on error. */
struct qemu_consumer *qemu_consumer_start(const char *const nodes[], size_t n,
					  const struct qemu_consumer_opts *opts);
/* Parses trace lines that arrived since the last call; returns the total. */
size_t qemu_consumer_poll(struct qemu_consumer *c);
/* Waits until at least count events were parsed; true if so within timeout_ms. */
bool qemu_consumer_wait_count(struct qemu_consumer *c, size_t count, int timeout_ms);
const struct qemu_input_event *qemu_consumer_events(struct qemu_consumer *c, size_t *n);
/* "key a 1", "btn left 0", "rel x -5", "abs y 1234" */
const char *qemu_input_event_format(const struct qemu_input_event *ev, char *buf, size_t size);
/* Asserts that the events from index `from` on are exactly want[0..n) (in
 * the format above), waiting up to timeout_ms for them; diff on mismatch. */
void qemu_consumer_expect_at(const char *file, int line, struct qemu_consumer *c, size_t from,
			     const char *const want[], size_t n, int timeout_ms);
/* QEMU_CONSUMER_EXPECT(c, from, timeout_ms, "key a 1", "key a 0") */
#define QEMU_CONSUMER_EXPECT(c_, from_, timeout_ms_, ...)                           \
	qemu_consumer_expect_at(__FILE__, __LINE__, (c_), (from_),                  \
				(const char *const[]){__VA_ARGS__},                 \
				sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), \
				(timeout_ms_))
const char *qemu_consumer_trace_path(const struct qemu_consumer *c);
struct tproc *qemu_consumer_proc(const struct qemu_consumer *c);
/* Stops QEMU (quit over QMP, then signals) and frees c. Returns its status. */
int qemu_consumer_stop(struct qemu_consumer *c);

#endif
