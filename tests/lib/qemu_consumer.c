/* A QEMU that consumes event nodes through input-linux, as a VM does, and
 * reports what it accepted through its input_event_* trace (log backend,
 * written to the -D file):
 *   input_event_key_qcode con -1, key qcode a, down 1
 *   input_event_btn con -1, button left, down 1
 *   input_event_rel con -1, axis x, value 5
 *   input_event_abs con -1, axis x, value 0x3fff
 * (with -msg timestamp=on a "PID@SECONDS:" prefix precedes the name). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"
#include "itest.h"

#define QEMU_BINARY "qemu-system-x86_64"
#define START_TIMEOUT_MS 60000

struct qemu_consumer {
	struct tproc *proc;
	char *trace, *qmp_path;
	struct qmp *qmp;
	off_t offset;
	char partial[512];
	size_t partial_len;
	struct qemu_input_event *events;
	size_t n, cap;
};

static unsigned consumer_count;

static void add_event(struct qemu_consumer *c, enum qemu_input_kind kind, const char *name, int value)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void *p = realloc(c->events, cap * sizeof(*c->events));
		if (!p)
			ITEST_FAIL("out of memory");
		c->events = p;
		c->cap = cap;
	}
	struct qemu_input_event *e = &c->events[c->n++];
	e->kind = kind;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->value = value;
}

static void parse_line(struct qemu_consumer *c, const char *line)
{
	const char *p = strstr(line, "input_event_");
	if (!p)
		return;
	char name[32];
	int con, value;
	unsigned uvalue, number;
	if (sscanf(p, "input_event_key_qcode con %d, key qcode %31[^,], down %d", &con, name, &value) == 3)
		add_event(c, QEMU_INPUT_KEY, name, value);
	else if (sscanf(p, "input_event_key_number con %d, key number 0x%x [%31[^]]], down %d", &con,
			&number, name, &value) == 4)
		add_event(c, QEMU_INPUT_KEY, name, value);
	else if (sscanf(p, "input_event_btn con %d, button %31[^,], down %d", &con, name, &value) == 3)
		add_event(c, QEMU_INPUT_BTN, name, value);
	else if (sscanf(p, "input_event_rel con %d, axis %31[^,], value %d", &con, name, &value) == 3)
		add_event(c, QEMU_INPUT_REL, name, value);
	else if (sscanf(p, "input_event_abs con %d, axis %31[^,], value 0x%x", &con, name, &uvalue) == 3)
		add_event(c, QEMU_INPUT_ABS, name, (int)uvalue);
	/* input_event_sync and anything else: not an event of its own */
}

size_t qemu_consumer_poll(struct qemu_consumer *c)
{
	int fd = open(c->trace, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return c->n;
		ITEST_FAIL("cannot open the QEMU trace %s: %s", c->trace, strerror(errno));
	}
	char buf[8192];
	ssize_t r;
	while ((r = pread(fd, buf, sizeof(buf), c->offset)) > 0) {
		c->offset += r;
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] == '\n') {
				c->partial[c->partial_len] = '\0';
				parse_line(c, c->partial);
				c->partial_len = 0;
			} else if (c->partial_len + 1 < sizeof(c->partial)) {
				c->partial[c->partial_len++] = buf[i];
			}
		}
	}
	close(fd);
	return c->n;
}

const char *qemu_input_event_format(const struct qemu_input_event *ev, char *buf, size_t size)
{
	static const char *const kinds[] = {"key", "btn", "rel", "abs"};
	snprintf(buf, size, "%s %s %d", kinds[ev->kind], ev->name, ev->value);
	return buf;
}

bool qemu_consumer_wait_count(struct qemu_consumer *c, size_t count, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	while (qemu_consumer_poll(c) < count) {
		if (!tproc_running(c->proc)) {
			tproc_dump(c->proc);
			ITEST_FAIL("the QEMU consumer exited (status %d) while waiting for events",
				   tproc_wait(c->proc, 0));
		}
		if (itest_ms_left(deadline) == 0)
			return false;
		usleep(10000); /* QEMU appends to a plain file: look again in 10 ms */
	}
	return true;
}

const struct qemu_input_event *qemu_consumer_events(struct qemu_consumer *c, size_t *n)
{
	qemu_consumer_poll(c);
	*n = c->n;
	return c->events;
}

void qemu_consumer_expect_at(const char *file, int line, struct qemu_consumer *c, size_t from,
			     const char *const want[], size_t n, int timeout_ms)
{
	qemu_consumer_wait_count(c, from + n, timeout_ms);
	size_t got = c->n > from ? c->n - from : 0;
	bool same = got == n;
	for (size_t i = 0; same && i < n; i++) {
		char buf[64];
		same = strcmp(qemu_input_event_format(&c->events[from + i], buf, sizeof(buf)), want[i]) == 0;
	}
	if (same) {
		itest_count_assertion();
		return;
	}
	itest_log("QEMU consumer (%s): events from #%zu differ (want | got):", c->trace, from);
	size_t max = got > n ? got : n;
	for (size_t i = 0; i < max; i++) {
		char buf[64] = "-";
		if (i < got)
			qemu_input_event_format(&c->events[from + i], buf, sizeof(buf));
		const char *w = i < n ? want[i] : "-";
		itest_log("%c %-24s | %s", strcmp(w, buf) == 0 ? ' ' : '!', w, buf);
	}
	itest_fail_at(file, line, "the QEMU consumer accepted %zu events from #%zu, want %zu (see diff)",
		      got, from, n);
}

const char *qemu_consumer_trace_path(const struct qemu_consumer *c) { return c->trace; }
struct tproc *qemu_consumer_proc(const struct qemu_consumer *c) { return c->proc; }

struct qemu_consumer *qemu_consumer_start(const char *const nodes[], size_t n,
					  const struct qemu_consumer_opts *opts)
{
	struct qemu_consumer_opts defaults = {0};
	if (!opts)
		opts = &defaults;
	struct qemu_consumer *c = calloc(1, sizeof(*c));
	if (!c)
		ITEST_FAIL("out of memory");
	unsigned k = ++consumer_count;
	char name[64];
	snprintf(name, sizeof(name), "qemu-consumer-%u.trace", k);
	c->trace = itest_tmpfile(name);
	snprintf(name, sizeof(name), "qc%u.qmp", k); /* short: sun_path has 108 bytes */
	c->qmp_path = itest_tmpfile(name);

	size_t n_extra = 0;
	while (opts->extra && opts->extra[n_extra])
		n_extra++;
	size_t max = 32 + 2 * n + n_extra;
	const char **argv = calloc(max, sizeof(*argv));
	char **objs = calloc(n + 1, sizeof(*objs));
	char *qmp_arg;
	if (!argv || !objs || asprintf(&qmp_arg, "unix:%s,server=on,wait=off", c->qmp_path) < 0)
		ITEST_FAIL("out of memory");
	size_t a = 0;
	static const char *const base[] = {
		QEMU_BINARY, "-accel", "tcg", "-m", "64", "-machine", "q35", "-display", "none",
		"-nodefaults", "-no-user-config", "-device", "virtio-keyboard-pci", "-device",
		"virtio-mouse-pci", "-trace", "input_event_*", "-D"};
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		argv[a++] = base[i];
	argv[a++] = c->trace;
	argv[a++] = "-qmp";
	argv[a++] = qmp_arg;
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&objs[i], "input-linux,id=il%zu,evdev=%s%s%s", i, nodes[i],
			     opts->repeat ? ",repeat=on" : "",
			     opts->grab_all && i == 0 ? ",grab_all=on" : "") < 0)
			ITEST_FAIL("out of memory");
		argv[a++] = "-object";
		argv[a++] = objs[i];
	}
	for (size_t i = 0; i < n_extra; i++)
		argv[a++] = opts->extra[i];
	argv[a] = NULL;

	c->proc = tproc_spawn(argv, NULL);
	for (size_t i = 0; i < n; i++)
		free(objs[i]);
	free(objs);
	free(argv);
	free(qmp_arg);

	/* QMP answers only from the main loop, after every -object (input-linux
	 * opens and grabs its node as it is created) and machine init. */
	c->qmp = qmp_connect_unix(c->qmp_path, START_TIMEOUT_MS);
	struct qmp_reply r;
	int rc = qmp_execute(c->qmp, &r, "query-status", NULL);
	ITEST_ASSERT_MSG(rc == 0 && strstr(r.raw, "\"running\": true"),
			 "the QEMU consumer is not running: %s", r.raw);
	qmp_reply_finish(&r);
	for (size_t i = 0; i < n; i++) {
		int fd = open(nodes[i], O_RDONLY | O_CLOEXEC);
		ITEST_ASSERT_MSG(fd >= 0, "cannot open %s: %s", nodes[i], strerror(errno));
		int g = ioctl(fd, EVIOCGRAB, (void *)1);
		int err = errno;
		if (g == 0)
			ioctl(fd, EVIOCGRAB, (void *)0);
		close(fd);
		if (g == 0)
			tproc_dump(c->proc);
		ITEST_ASSERT_MSG(g < 0 && err == EBUSY,
				 "QEMU has not grabbed %s (a second EVIOCGRAB %s)", nodes[i],
				 g == 0 ? "succeeded" : strerror(err));
	}
	return c;
}

int qemu_consumer_stop(struct qemu_consumer *c)
{
	qmp_close(c->qmp);
	int rc = tproc_stop(c->proc, 10000);
	free(c->trace);
	free(c->qmp_path);
	free(c->events);
	free(c);
	return rc;
}
