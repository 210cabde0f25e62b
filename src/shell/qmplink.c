/* `qmp = PATH` (qmplink.h): per target, a non-blocking QMP connection in
 * the daemon's epoll loop that adds the target's devices as input-linux
 * objects (hotadd.h), one command at a time. */
#include "qmplink.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/virtxml.h"
#include "hotadd.h"
#include "log.h"
#include "monotime.h"

#define MAX_LINKS (2 * CONFIG_MAX_TARGETS) /* each target's, and those closing */
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 5000
#define REPLY_TIMEOUT_MS 10000
#define IN_MAX (64 * 1024)

enum lstate {
	L_IDLE,     /* not connected: retry at retry_at */
	L_GREETING, /* connected, waiting for {"QMP": ...} */
	L_CAPS,     /* qmp_capabilities sent */
	L_READY,    /* negotiated: commands go one at a time */
};

struct link {
	bool used;
	bool closing; /* its target went: delete the objects, then drop it */
	char target[TARGET_NAME_MAX];
	int tindex; /* its target's index in the configuration, -1 once gone */
	char path[CONFIG_QMP_PATH_MAX];
	int fd;
	enum lstate st;
	uint64_t retry_at, reply_due;
	int backoff_ms;
	bool want[VK_COUNT];
	struct hotadd obj[VK_COUNT];
	int cur;       /* the object whose command waits for its reply, -1 */
	unsigned seq;  /* tags "ks-N" */
	char in[IN_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	uint32_t watching;
	char why[HOTADD_TEXT_MAX]; /* why it is not connected, for status and the log */
	bool said;                 /* why was logged (once per reason) */
	uint64_t connects;
};

struct qmplink {
	struct qmplink_env env;
	struct link link[MAX_LINKS];
	unsigned n_used; /* links in use: none, and the loop's deadline scan is skipped */
	uint64_t now;
};

static void watch(struct qmplink *l, int i, uint32_t events)
{
	struct link *k = &l->link[i];
	if (k->fd < 0 || k->watching == events)
		return;
	k->watching = events;
	l->env.watch(l->env.data, k->fd, i, events);
}

static void retry_later(struct link *k, uint64_t now)
{
	k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : RETRY_MIN_MS;
	if (k->backoff_ms > RETRY_MAX_MS)
		k->backoff_ms = RETRY_MAX_MS;
	k->retry_at = now + (uint64_t)k->backoff_ms;
}

/* Not connected, with the reason (logged once per reason). */
static void set_why(struct link *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_why(struct link *k, const char *fmt, ...)
{
	char buf[HOTADD_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(buf, k->why) != 0)
		k->said = false;
	snprintf(k->why, sizeof(k->why), "%s", buf);
}

static void disconnect(struct qmplink *l, int i)
{
	struct link *k = &l->link[i];
	if (k->fd >= 0) {
		watch(l, i, 0);
		close(k->fd);
	}
	k->fd = -1;
	k->watching = 0;
	k->st = L_IDLE;
	k->cur = -1;
	k->in_len = 0;
	free(k->out);
	k->out = NULL;
	k->out_len = k->out_off = 0;
	k->reply_due = UINT64_MAX;
	/* A QEMU that comes back (restarted) gets every object again. */
	for (int t = 0; t < VK_COUNT; t++)
		if (k->want[t] && !k->closing)
			k->obj[t].state = HA_ADD;
		else
			k->obj[t].state = HA_REMOVED;
	if (k->closing && k->used) {
		k->used = false;
		l->n_used--;
	}
}

static void flush_out(struct qmplink *l, int i)
{
	struct link *k = &l->link[i];
	while (k->out && k->out_off < k->out_len) {
		ssize_t n = write(k->fd, k->out + k->out_off, k->out_len - k->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			log_warn("target '%s': QMP %s: %s", k->target, k->path, strerror(errno));
			disconnect(l, i);
			retry_later(k, l->now);
			return;
		}
		k->out_off += (size_t)n;
	}
	if (k->out && k->out_off == k->out_len) {
		free(k->out);
		k->out = NULL;
		k->out_len = k->out_off = 0;
	}
	watch(l, i, EPOLLIN | (k->out ? EPOLLOUT : 0));
}

static void send_line(struct qmplink *l, int i, char *line)
{
	struct link *k = &l->link[i];
	if (!line) {
		log_error("target '%s': QMP %s: out of memory", k->target, k->path);
		disconnect(l, i);
		retry_later(k, l->now);
		return;
	}
	free(k->out); /* one command at a time: nothing else is queued */
	k->out = line;
	k->out_len = strlen(line);
	k->out_off = 0;
	k->reply_due = l->now + REPLY_TIMEOUT_MS;
	flush_out(l, i);
}

/* Sends the next command of the first object that has one; none: ready. */
static void next_command(struct qmplink *l, int i)
{
	struct link *k = &l->link[i];
	if (k->st != L_READY || k->cur >= 0)
		return;
	for (int t = 0; t < VK_COUNT; t++) {
		if (hotadd_settled(&k->obj[t]))
			continue;
		char tag[16];
		snprintf(tag, sizeof(tag), "ks-%u", ++k->seq);
		k->cur = t;
		send_line(l, i, hotadd_command(&k->obj[t], tag));
		return;
	}
	k->reply_due = UINT64_MAX;
	if (k->closing) {
		log_info("target '%s': deleted its input-linux objects from the QEMU at %s", k->target, k->path);
		disconnect(l, i);
	}
}

static void on_reply(struct qmplink *l, int i, const struct qmp_msg *m)
{
	struct link *k = &l->link[i];
	char want[16];
	snprintf(want, sizeof(want), "ks-%u", k->seq);
	if (k->cur < 0 || strcmp(m->tag, want) != 0)
		return; /* not the reply we wait for */
	struct hotadd *h = &k->obj[k->cur];
	k->cur = -1;
	hotadd_reply(h, m);
	if (h->state == HA_DONE)
		log_info("target '%s': the QEMU at %s reads its %s (%s, input-linux object %s)", k->target, k->path,
			 vkind_name(h->kind), h->node, h->id);
	else if (h->state == HA_FAILED)
		log_warn("target '%s': the QEMU at %s cannot take its %s (%s): %s", k->target, k->path,
			 vkind_name(h->kind), h->node, h->error);
	else if (h->state == HA_REMOVED && h->error[0])
		log_warn("target '%s': the QEMU at %s did not delete %s: %s", k->target, k->path, h->id, h->error);
	next_command(l, i);
}

static void on_line(struct qmplink *l, int i, const char *line, size_t len)
{
	struct link *k = &l->link[i];
	struct qmp_msg m;
	qmp_msg_parse(line, len, &m);
	switch (k->st) {
	case L_GREETING:
		if (m.kind != QMP_GREETING)
			return;
		k->st = L_CAPS;
		send_line(l, i, qmp_msg_capabilities("ks-caps"));
		break;
	case L_CAPS:
		if (strcmp(m.tag, "ks-caps") != 0)
			return;
		if (m.kind != QMP_RETURN) {
			set_why(k, "qmp_capabilities failed: %s", m.kind == QMP_ERROR ? m.error : "no answer");
			log_warn("target '%s': QMP %s: %s", k->target, k->path, k->why);
			k->said = true;
			disconnect(l, i);
			retry_later(k, l->now);
			return;
		}
		k->st = L_READY;
		k->backoff_ms = 0;
		k->why[0] = '\0';
		k->connects++;
		log_info("target '%s': connected to the QEMU at %s", k->target, k->path);
		next_command(l, i);
		break;
	case L_READY:
		if (m.kind == QMP_RETURN || m.kind == QMP_ERROR)
			on_reply(l, i, &m);
		break;
	case L_IDLE:
		break;
	}
}

static void readable(struct qmplink *l, int i)
{
	struct link *k = &l->link[i];
	for (;;) {
		ssize_t n = read(k->fd, k->in + k->in_len, sizeof(k->in) - k->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			bool was = k->st == L_READY;
			set_why(k, "%s", n == 0 ? "QEMU closed the connection" : strerror(errno));
			if (was && !k->closing)
				log_info("target '%s': the QEMU at %s went away; its devices are added again when it is back",
					 k->target, k->path);
			k->said = was;
			disconnect(l, i);
			k->backoff_ms = 0; /* a restart is likely: look again soon */
			retry_later(k, l->now);
			return;
		}
		k->in_len += (size_t)n;
		size_t start = 0;
		for (size_t p = 0; p < k->in_len && k->fd >= 0; p++) {
			if (k->in[p] != '\n')
				continue;
			on_line(l, i, k->in + start, p - start);
			start = p + 1;
		}
		if (k->fd < 0)
			return;
		memmove(k->in, k->in + start, k->in_len - start);
		k->in_len -= start;
		if (k->in_len == sizeof(k->in)) {
			set_why(k, "a line longer than %d bytes", IN_MAX);
			log_warn("target '%s': QMP %s: %s; reconnecting", k->target, k->path, k->why);
			k->said = true;
			disconnect(l, i);
			retry_later(k, l->now);
			return;
		}
	}
}

/* Whom kvmswitch talks QMP to: see qmplink.h. */
static bool trusted_uid(uid_t u)
{
	return u == 0 || u == geteuid();
}

static void try_connect(struct qmplink *l, int i)
{
	struct link *k = &l->link[i];
	struct stat st;
	k->retry_at = 0;
	if (lstat(k->path, &st) < 0) {
		set_why(k, "no socket %s yet (%s); waiting for QEMU", k->path, strerror(errno));
		retry_later(k, l->now);
		return;
	}
	/* Its directory: nobody else may swap the file between this check and
	 * the connect (writable by others only with the sticky bit). */
	char dir[CONFIG_QMP_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", k->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	struct stat ds;
	if (stat(dir, &ds) < 0 || !trusted_uid(ds.st_uid) || ((ds.st_mode & 022) && !(ds.st_mode & S_ISVTX))) {
		set_why(k, "the directory %s may be written by other users; kvmswitch talks QMP only to a socket "
			   "nobody else can swap", dir);
		if (!k->said)
			log_warn("target '%s': %s", k->target, k->why);
		k->said = true;
		retry_later(k, l->now);
		return;
	}
	if (!S_ISSOCK(st.st_mode) || !trusted_uid(st.st_uid)) {
		set_why(k, "%s is %s; kvmswitch talks QMP only to a socket of root or of its own user", k->path,
			!S_ISSOCK(st.st_mode) ? "not a socket (a symlink is not followed)" : "owned by another user");
		if (!k->said)
			log_warn("target '%s': %s", k->target, k->why);
		k->said = true;
		retry_later(k, l->now);
		return;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", k->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		set_why(k, "cannot connect to %s: %s", k->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		retry_later(k, l->now);
		return;
	}
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || !trusted_uid(cred.uid)) {
		set_why(k, "the process listening on %s is not root or kvmswitch's user: not talking to it", k->path);
		if (!k->said)
			log_warn("target '%s': %s", k->target, k->why);
		k->said = true;
		close(fd);
		retry_later(k, l->now);
		return;
	}
	k->fd = fd;
	k->st = L_GREETING;
	k->reply_due = l->now + REPLY_TIMEOUT_MS;
	watch(l, i, EPOLLIN);
}

/* ---- configuration ---- */

struct qmplink *qmplink_create(const struct qmplink_env *env)
{
	struct qmplink *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->env = *env;
	for (int i = 0; i < MAX_LINKS; i++)
		l->link[i].fd = -1;
	return l;
}

static int find_link(struct qmplink *l, const char *target, const char *path)
{
	for (int i = 0; i < MAX_LINKS; i++)
		if (l->link[i].used && !l->link[i].closing && !strcmp(l->link[i].target, target) &&
		    !strcmp(l->link[i].path, path))
			return i;
	return -1;
}

/* Deletes the link's objects (those in QEMU), then drops it. */
static void close_link(struct qmplink *l, int i)
{
	struct link *k = &l->link[i];
	k->closing = true;
	memset(k->want, 0, sizeof(k->want));
	if (k->st != L_READY) {
		disconnect(l, i);
		return;
	}
	for (int t = 0; t < VK_COUNT; t++)
		if (k->obj[t].state == HA_DONE || k->obj[t].state == HA_FAILED)
			hotadd_remove(&k->obj[t]);
		else if (k->obj[t].state != HA_REMOVED && !(k->cur == t))
			k->obj[t].state = HA_REMOVED;
	next_command(l, i);
}

void qmplink_configure(struct qmplink *l, const struct config *cfg, struct vdev *(*vd)[VK_COUNT], uint64_t now)
{
	l->now = now;
	bool keep[MAX_LINKS] = { false };
	for (size_t t = 0; t < cfg->n_target; t++) {
		const struct target_conf *tc = &cfg->target[t];
		if (!tc->qmp)
			continue;
		int i = find_link(l, tc->name, tc->qmp);
		if (i < 0) {
			for (int j = 0; j < MAX_LINKS && i < 0; j++)
				if (!l->link[j].used)
					i = j;
			if (i < 0) {
				log_error("target '%s': too many QMP links", tc->name);
				continue;
			}
			struct link *k = &l->link[i];
			memset(k, 0, sizeof(*k));
			k->used = true;
			l->n_used++;
			k->fd = -1;
			k->cur = -1;
			k->reply_due = UINT64_MAX;
			snprintf(k->target, sizeof(k->target), "%s", tc->name);
			snprintf(k->path, sizeof(k->path), "%s", tc->qmp);
			for (int kind = 0; kind < VK_COUNT; kind++)
				k->obj[kind].state = HA_REMOVED;
		}
		keep[i] = true;
		struct link *k = &l->link[i];
		k->tindex = (int)t;
		const char *toggle = virtxml_grab_toggle(cfg, (int)t);
		for (int kind = 0; kind < VK_COUNT; kind++) {
			struct vdev *v = vd[t][kind];
			struct hotadd *h = &k->obj[kind];
			if (!v) {
				k->want[kind] = false;
				continue;
			}
			/* A new device, or one at another node (the target was
			 * made anew): added again. */
			if (k->want[kind] && !strcmp(h->node, vdev_devnode(v)) &&
			    !strcmp(h->toggle, toggle ? toggle : VIRTXML_FALLBACK_TOGGLE))
				continue;
			if (k->cur == kind)
				k->cur = -1; /* its reply is for the object we replace */
			k->want[kind] = true;
			hotadd_init(h, tc->name, (enum vkind)kind, vdev_devnode(v), toggle, vdev_adopted(v));
		}
		if (k->st == L_IDLE && !k->retry_at)
			k->retry_at = now; /* connect at the next tick */
		next_command(l, i);
	}
	for (int i = 0; i < MAX_LINKS; i++)
		if (l->link[i].used && !keep[i] && !l->link[i].closing) {
			log_info("target '%s': no longer adds its devices to the QEMU at %s", l->link[i].target,
				 l->link[i].path);
			l->link[i].tindex = -1;
			close_link(l, i);
		}
}

void qmplink_dispatch(struct qmplink *l, int i, uint32_t events, uint64_t now)
{
	if (i < 0 || i >= MAX_LINKS || !l->link[i].used || l->link[i].fd < 0)
		return;
	l->now = now;
	if (events & EPOLLOUT)
		flush_out(l, i);
	if (l->link[i].fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		readable(l, i);
}

uint64_t qmplink_deadline(const struct qmplink *l)
{
	uint64_t when = UINT64_MAX;
	if (!l->n_used)
		return when;
	for (int i = 0; i < MAX_LINKS; i++) {
		const struct link *k = &l->link[i];
		if (!k->used)
			continue;
		if (k->st == L_IDLE && k->retry_at && k->retry_at < when)
			when = k->retry_at;
		if (k->st != L_IDLE && k->reply_due < when)
			when = k->reply_due;
	}
	return when;
}

void qmplink_tick(struct qmplink *l, uint64_t now)
{
	if (!l)
		return;
	l->now = now;
	for (int i = 0; l->n_used && i < MAX_LINKS; i++) { /* none left: nothing to tick */
		struct link *k = &l->link[i];
		if (!k->used)
			continue;
		if (k->st == L_IDLE && k->closing) {
			k->used = false;
			l->n_used--;
		} else if (k->st == L_IDLE && k->retry_at && now >= k->retry_at) {
			try_connect(l, i);
		} else if (k->st != L_IDLE && now >= k->reply_due) {
			set_why(k, "QEMU did not answer within %d s", REPLY_TIMEOUT_MS / 1000);
			log_warn("target '%s': QMP %s: %s; reconnecting", k->target, k->path, k->why);
			k->said = true;
			disconnect(l, i);
			retry_later(k, now);
		}
	}
}

void qmplink_destroy(struct qmplink *l, int timeout_ms)
{
	if (!l)
		return;
	/* Objects of devices that die with us go; those systemd keeps for our
	 * next start stay, so that QEMU keeps reading them (the next kvmswitch
	 * finds them by id and keeps them). */
	for (int i = 0; i < MAX_LINKS; i++) {
		struct link *k = &l->link[i];
		if (!k->used || k->closing)
			continue;
		k->closing = true;
		memset(k->want, 0, sizeof(k->want));
		if (k->st != L_READY) {
			disconnect(l, i);
			continue;
		}
		for (int kind = 0; kind < VK_COUNT; kind++) {
			struct hotadd *h = &k->obj[kind];
			bool kept = l->env.kept && k->tindex >= 0 && l->env.kept(l->env.data, k->tindex, (enum vkind)kind);
			if (h->state == HA_DONE && !kept)
				hotadd_remove(h);
			else if (k->cur != kind)
				h->state = HA_REMOVED;
		}
		next_command(l, i);
	}
	uint64_t end = monotime_ms() + (uint64_t)timeout_ms;
	for (;;) {
		struct pollfd p[MAX_LINKS];
		int n = 0, idx[MAX_LINKS];
		for (int i = 0; i < MAX_LINKS; i++) {
			struct link *k = &l->link[i];
			if (!k->used || k->fd < 0)
				continue;
			p[n] = (struct pollfd){ k->fd, (short)(POLLIN | (k->out ? POLLOUT : 0)), 0 };
			idx[n++] = i;
		}
		uint64_t now = monotime_ms();
		if (n == 0 || now >= end || poll(p, (nfds_t)n, (int)(end - now)) <= 0)
			break;
		for (int q = 0; q < n; q++)
			if (p[q].revents)
				qmplink_dispatch(l, idx[q],
						 (p[q].revents & POLLOUT ? EPOLLOUT : 0) |
							 (p[q].revents & (POLLIN | POLLHUP | POLLERR) ? EPOLLIN : 0),
						 monotime_ms());
	}
	for (int i = 0; i < MAX_LINKS; i++)
		if (l->link[i].used) {
			l->link[i].closing = true;
			disconnect(l, i);
		}
	free(l);
}

void qmplink_status_json(const struct qmplink *l, const struct config *cfg, int t, struct json *j)
{
	const struct target_conf *tc = &cfg->target[t];
	if (!tc->qmp)
		return;
	json_key(j, "qmp");
	json_object_begin(j);
	json_key(j, "path");
	json_string(j, tc->qmp);
	const struct link *k = NULL;
	for (int i = 0; i < MAX_LINKS && !k; i++)
		if (l->link[i].used && !l->link[i].closing && !strcmp(l->link[i].target, tc->name) &&
		    !strcmp(l->link[i].path, tc->qmp))
			k = &l->link[i];
	json_key(j, "connected");
	json_bool(j, k && k->st == L_READY);
	unsigned added = 0;
	const char *error = NULL;
	for (int kind = 0; k && kind < VK_COUNT; kind++) {
		added += k->want[kind] && k->obj[kind].state == HA_DONE;
		if (k->want[kind] && k->obj[kind].state == HA_FAILED)
			error = k->obj[kind].error;
	}
	json_key(j, "objects");
	json_uint(j, added);
	json_key(j, "connects");
	json_uint(j, k ? k->connects : 0);
	if (k && k->st != L_READY && k->why[0]) {
		json_key(j, "reason");
		json_string(j, k->why);
	}
	if (error) {
		json_key(j, "error");
		json_string(j, error);
	}
	json_object_end(j);
}
