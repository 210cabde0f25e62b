/* A small QMP client: over the test VM's virtio port to the outer QEMU, or
 * over a unix socket to a QEMU a test started. Line-based: QEMU writes one
 * JSON object per line. Replies are matched by an "id" of our own, so the
 * greeting, stale replies of an earlier user and events are never mistaken
 * for the reply; events are kept for qmp_wait_event. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "itest.h"

#define EVENTS_MAX 256

struct qmp {
	int fd;
	char *path;
	char buf[1 << 16];
	size_t len;
	char *events[EVENTS_MAX];
	size_t n_events;
	unsigned next_id;
};

/* One line (without "\r\n"), malloc'd; NULL when deadline passes. */
static char *read_line(struct qmp *q, int64_t deadline)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			size_t n = (size_t)(nl - q->buf);
			char *line = strndup(q->buf, n);
			if (!line)
				ITEST_FAIL("out of memory");
			if (n > 0 && line[n - 1] == '\r')
				line[n - 1] = '\0';
			memmove(q->buf, nl + 1, q->len - n - 1);
			q->len -= n + 1;
			return line;
		}
		if (q->len == sizeof(q->buf))
			ITEST_FAIL("QMP %s: a line longer than %zu bytes", q->path, sizeof(q->buf));
		struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
		int r = poll(&pfd, 1, itest_ms_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ITEST_FAIL("QMP %s: poll: %s", q->path, strerror(errno));
		if (r == 0)
			return NULL;
		ssize_t n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			ITEST_FAIL("QMP %s: read: %s", q->path, strerror(errno));
		if (n == 0)
			ITEST_FAIL("QMP %s: the other end closed the connection", q->path);
		q->len += (size_t)n;
	}
}

static void write_all(struct qmp *q, const char *s)
{
	size_t len = strlen(s), off = 0;
	while (off < len) {
		ssize_t n = write(q->fd, s + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = q->fd, .events = POLLOUT};
			poll(&pfd, 1, 1000);
			continue;
		}
		if (n < 0)
			ITEST_FAIL("QMP %s: write: %s", q->path, strerror(errno));
		off += (size_t)n;
	}
}

/* The top-level object's first key ("QMP", "return", "error", "timestamp",
 * "event"), or "" if the line does not start like a JSON object. */
static void first_key(const char *line, char *key, size_t size)
{
	key[0] = '\0';
	const char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != '{')
		return;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != '"')
		return;
	size_t i = 0;
	while (*p && *p != '"' && i + 1 < size)
		key[i++] = *p++;
	key[i] = '\0';
}

/* The string value of the first "name": "..." in line, malloc'd, or NULL. */
static char *string_field(const char *line, const char *name)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\"", name);
	const char *p = strstr(line, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == ':')
		p++;
	if (*p++ != '"')
		return NULL;
	const char *end = p;
	while (*end && *end != '"') {
		if (*end == '\\' && end[1])
			end++;
		end++;
	}
	return strndup(p, (size_t)(end - p));
}

/* A reply's kind, "return" or "error": its first key, or the one after
 * "id" (QEMU writes a reply to a session that negotiated before, e.g. a
 * second qmp_capabilities, as {"id": ..., "error": ...}). */
static void reply_key(const char *line, char key[], size_t size)
{
	first_key(line, key, size);
	if (strcmp(key, "id") != 0)
		return;
	const char *p = strstr(line, "\"id\"") + 4;
	while (*p == ' ' || *p == ':')
		p++;
	if (*p++ != '"')
		return;
	while (*p && *p != '"')
		p += *p == '\\' && p[1] ? 2 : 1;
	if (*p == '"')
		p++;
	while (*p == ' ' || *p == ',')
		p++;
	char buf[256];
	snprintf(buf, sizeof(buf), "{%s", p);
	first_key(buf, key, size);
}

static bool is_event(const char *line)
{
	char key[32];
	first_key(line, key, sizeof(key));
	return strcmp(key, "timestamp") == 0 || strcmp(key, "event") == 0;
}

static void keep_event(struct qmp *q, char *line)
{
	if (q->n_events == EVENTS_MAX) {
		free(q->events[0]);
		memmove(q->events, q->events + 1, (EVENTS_MAX - 1) * sizeof(q->events[0]));
		q->n_events--;
	}
	q->events[q->n_events++] = line;
}

static bool event_matches(const char *line, const char *event, const char *data_substr)
{
	char *name = string_field(line, "event");
	bool match = name && strcmp(name, event) == 0 && (!data_substr || strstr(line, data_substr));
	free(name);
	return match;
}

void qmp_reply_finish(struct qmp_reply *reply)
{
	free(reply->raw);
	free(reply->error_class);
	free(reply->error_desc);
	memset(reply, 0, sizeof(*reply));
}

static int execute_v(struct qmp *q, struct qmp_reply *reply, const char *command,
		     const char *args_fmt, va_list ap)
{
	char id[64], quoted_id[80];
	snprintf(id, sizeof(id), "itest-%d-%u", (int)getpid(), ++q->next_id);
	snprintf(quoted_id, sizeof(quoted_id), "\"%s\"", id);
	char *args = NULL, *msg = NULL;
	if (args_fmt && vasprintf(&args, args_fmt, ap) < 0)
		ITEST_FAIL("out of memory");
	if (asprintf(&msg, "{\"execute\": \"%s\"%s%s%s, \"id\": \"%s\"}\n", command,
		     args ? ", \"arguments\": {" : "", args ? args : "", args ? "}" : "", id) < 0)
		ITEST_FAIL("out of memory");
	write_all(q, msg);
	int64_t deadline = itest_now_ms() + QMP_TIMEOUT_MS;
	for (;;) {
		char *line = read_line(q, deadline);
		if (!line)
			ITEST_FAIL("QMP %s: no reply to %s within %d ms", q->path, msg, QMP_TIMEOUT_MS);
		if (is_event(line)) {
			keep_event(q, line);
			continue;
		}
		char key[32];
		reply_key(line, key, sizeof(key));
		bool ours = strstr(line, quoted_id) != NULL;
		if (!ours || (strcmp(key, "return") != 0 && strcmp(key, "error") != 0)) {
			free(line); /* the greeting, or the reply to someone else */
			continue;
		}
		struct qmp_reply r = {.ok = strcmp(key, "return") == 0, .raw = line};
		if (!r.ok) {
			r.error_class = string_field(line, "class");
			r.error_desc = string_field(line, "desc");
		}
		free(args);
		free(msg);
		int rc = r.ok ? 0 : -1;
		if (reply)
			*reply = r;
		else
			qmp_reply_finish(&r);
		return rc;
	}
}

int qmp_execute(struct qmp *q, struct qmp_reply *reply, const char *command,
		const char *args_fmt, ...)
{
	va_list ap;
	va_start(ap, args_fmt);
	int rc = execute_v(q, reply, command, args_fmt, ap);
	va_end(ap);
	return rc;
}

static void negotiate(struct qmp *q)
{
	/* Whatever is pending (a greeting, leftovers) goes; replies are matched
	 * by id anyway. */
	char *line;
	while ((line = read_line(q, itest_now_ms() + 50)))
		free(line);
	struct qmp_reply r;
	if (qmp_execute(q, &r, "qmp_capabilities", NULL) < 0 &&
	    !(r.error_class && strcmp(r.error_class, "CommandNotFound") == 0))
		ITEST_FAIL("QMP %s: qmp_capabilities failed: %s", q->path, r.raw);
	qmp_reply_finish(&r);
}

static struct qmp *qmp_new(int fd, const char *path)
{
	struct qmp *q = calloc(1, sizeof(*q));
	if (!q)
		ITEST_FAIL("out of memory");
	q->fd = fd;
	q->path = strdup(path);
	negotiate(q);
	return q;
}

struct qmp *qmp_open(const char *path)
{
	if (!path)
		path = QMP_VIRTIO_PORT;
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		ITEST_FAIL("cannot open QMP port %s: %s (run in tests/vm/run --usb)", path,
			   strerror(errno));
	return qmp_new(fd, path);
}

struct qmp *qmp_connect_unix(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		ITEST_FAIL("QMP socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			ITEST_FAIL("socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return qmp_new(fd, path);
		int err = errno;
		close(fd);
		if (err != ENOENT && err != ECONNREFUSED)
			ITEST_FAIL("cannot connect to QMP socket %s: %s", path, strerror(err));
		if (itest_ms_left(deadline) == 0)
			ITEST_FAIL("QMP socket %s did not appear within %d ms", path, timeout_ms);
		usleep(20000); /* the socket appears while QEMU starts: look again */
	}
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	close(q->fd);
	for (size_t i = 0; i < q->n_events; i++)
		free(q->events[i]);
	free(q->path);
	free(q);
}

char *qmp_wait_event(struct qmp *q, const char *event, const char *data_substr, int timeout_ms)
{
	for (size_t i = 0; i < q->n_events; i++) {
		if (event_matches(q->events[i], event, data_substr)) {
			char *line = q->events[i];
			memmove(q->events + i, q->events + i + 1, (q->n_events - i - 1) * sizeof(char *));
			q->n_events--;
			return line;
		}
	}
	int64_t deadline = itest_now_ms() + timeout_ms;
	char *line;
	while ((line = read_line(q, deadline))) {
		if (is_event(line) && event_matches(line, event, data_substr))
			return line;
		if (is_event(line))
			keep_event(q, line);
		else
			free(line);
	}
	return NULL;
}

void qmp_type_key(struct qmp *q, const char *qcode, bool down)
{
	QMP_EXECUTE_OK(q, "input-send-event",
		       "\"events\": [{\"type\": \"key\", \"data\": {\"down\": %s, "
		       "\"key\": {\"type\": \"qcode\", \"data\": \"%s\"}}}]",
		       down ? "true" : "false", qcode);
}

void qmp_mouse_move(struct qmp *q, int dx, int dy)
{
	QMP_EXECUTE_OK(q, "input-send-event",
		       "\"events\": [{\"type\": \"rel\", \"data\": {\"axis\": \"x\", \"value\": %d}}, "
		       "{\"type\": \"rel\", \"data\": {\"axis\": \"y\", \"value\": %d}}]",
		       dx, dy);
}

void qmp_device_del(struct qmp *q, const char *id)
{
	QMP_EXECUTE_OK(q, "device_del", "\"id\": \"%s\"", id);
	char quoted[128];
	snprintf(quoted, sizeof(quoted), "\"%s\"", id);
	char *ev = qmp_wait_event(q, "DEVICE_DELETED", quoted, QMP_TIMEOUT_MS);
	ITEST_ASSERT_MSG(ev != NULL, "QMP: no DEVICE_DELETED for %s within %d ms", id,
			 QMP_TIMEOUT_MS);
	free(ev);
}

void qmp_device_add(struct qmp *q, const char *driver, const char *id, const char *bus)
{
	if (bus)
		QMP_EXECUTE_OK(q, "device_add", "\"driver\": \"%s\", \"id\": \"%s\", \"bus\": \"%s\"",
			       driver, id, bus);
	else
		QMP_EXECUTE_OK(q, "device_add", "\"driver\": \"%s\", \"id\": \"%s\"", driver, id);
}
