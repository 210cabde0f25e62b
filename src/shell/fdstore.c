#include "fdstore.h"

#include <errno.h>
#include <linux/uinput.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "log.h"

/* At most 16 targets of 3 devices; the unit allows 64 (FileDescriptorStoreMax). */
#define FDSTORE_SLOTS 64
#define NAME_PREFIX "vdev/"

struct entry {
	int fd; /* -1 once taken (passed) or removed (held) */
	char name[FDSTORE_NAME_MAX];
};

struct fdstore {
	bool active;
	struct entry passed[FDSTORE_SLOTS];
	size_t n_passed;
	struct entry held[FDSTORE_SLOTS]; /* what the manager keeps for us */
	size_t n_held;
};

static void make_name(char *buf, const char *target, enum vkind kind)
{
	snprintf(buf, FDSTORE_NAME_MAX, NAME_PREFIX "%s/%s", target, vkind_name(kind));
}

struct fdstore *fdstore_create(void)
{
	struct fdstore *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	const char *sock = getenv("NOTIFY_SOCKET");
	s->active = sock && *sock;
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);
	if (n < 0)
		log_warn("ignoring the file descriptors passed by the service manager: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "unknown";
		if ((size_t)i >= FDSTORE_SLOTS || strlen(name) >= FDSTORE_NAME_MAX) {
			log_warn("closing passed file descriptor %d (%s): not one of ours", fd, name);
			close(fd);
			continue;
		}
		struct entry *e = &s->passed[s->n_passed++];
		e->fd = fd;
		snprintf(e->name, sizeof(e->name), "%s", name);
	}
	if (names)
		for (int i = 0; i < n; i++)
			free(names[i]);
	free(names);
	if (s->n_passed)
		log_info("the service manager passed %zu stored file descriptor%s", s->n_passed,
			 s->n_passed == 1 ? "" : "s");
	return s;
}

void fdstore_destroy(struct fdstore *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_passed; i++)
		if (s->passed[i].fd >= 0)
			close(s->passed[i].fd);
	free(s);
}

bool fdstore_active(const struct fdstore *s)
{
	return s && s->active;
}

size_t fdstore_passed(const struct fdstore *s)
{
	return s ? s->n_passed : 0;
}

static struct entry *held_find(struct fdstore *s, const char *name)
{
	for (size_t i = 0; i < s->n_held; i++)
		if (s->held[i].fd >= 0 && strcmp(s->held[i].name, name) == 0)
			return &s->held[i];
	return NULL;
}

static void held_add(struct fdstore *s, int fd, const char *name)
{
	struct entry *e = held_find(s, name);
	for (size_t i = 0; !e && i < s->n_held; i++)
		if (s->held[i].fd < 0)
			e = &s->held[i];
	if (!e && s->n_held < FDSTORE_SLOTS)
		e = &s->held[s->n_held++];
	if (!e)
		return;
	e->fd = fd;
	snprintf(e->name, sizeof(e->name), "%s", name);
}

bool fdstore_has_passed(const struct fdstore *s, const char *target, enum vkind kind)
{
	char name[FDSTORE_NAME_MAX];
	make_name(name, target, kind);
	for (size_t i = 0; s && i < s->n_passed; i++)
		if (s->passed[i].fd >= 0 && strcmp(s->passed[i].name, name) == 0)
			return true;
	return false;
}

int fdstore_take(struct fdstore *s, const char *target, enum vkind kind)
{
	char name[FDSTORE_NAME_MAX];
	make_name(name, target, kind);
	for (size_t i = 0; s && i < s->n_passed; i++) {
		struct entry *e = &s->passed[i];
		if (e->fd < 0 || strcmp(e->name, name) != 0)
			continue;
		int fd = e->fd;
		e->fd = -1;
		held_add(s, fd, name);
		return fd;
	}
	return -1;
}

static int send_fd(const char *name, int fd)
{
	char msg[FDSTORE_NAME_MAX + 32];
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	int rc = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
	return rc > 0 ? 0 : rc == 0 ? -ENOTCONN : rc;
}

int fdstore_put(struct fdstore *s, int fd, const char *target, enum vkind kind)
{
	if (!fdstore_active(s))
		return -ENOTCONN;
	char name[FDSTORE_NAME_MAX];
	make_name(name, target, kind);
	int rc = send_fd(name, fd);
	if (rc < 0)
		return rc;
	held_add(s, fd, name);
	return 0;
}

bool fdstore_holds(const struct fdstore *s, const char *target, enum vkind kind)
{
	char name[FDSTORE_NAME_MAX];
	if (!fdstore_active(s))
		return false;
	make_name(name, target, kind);
	return held_find((struct fdstore *)s, name) != NULL;
}

static void send_remove(const char *name)
{
	char msg[FDSTORE_NAME_MAX + 32];
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	int rc = sd_pid_notify(0, 0, msg);
	if (rc <= 0)
		log_debug("cannot remove %s from the service manager's store: %s", name,
			  rc == 0 ? "no manager" : strerror(-rc));
}

void fdstore_remove(struct fdstore *s, const char *target, enum vkind kind)
{
	char name[FDSTORE_NAME_MAX];
	if (!fdstore_active(s))
		return;
	make_name(name, target, kind);
	struct entry *e = held_find(s, name);
	if (!e)
		return;
	e->fd = -1;
	send_remove(name);
}

size_t fdstore_drop_untaken(struct fdstore *s)
{
	size_t dropped = 0;
	for (size_t i = 0; s && i < s->n_passed; i++) {
		struct entry *e = &s->passed[i];
		if (e->fd < 0)
			continue;
		/* UI_DEV_DESTROY only on what we named: the same ioctl number
		 * means something else to other drivers. */
		if (strncmp(e->name, NAME_PREFIX, strlen(NAME_PREFIX)) == 0)
			ioctl(e->fd, UI_DEV_DESTROY);
		close(e->fd);
		e->fd = -1;
		if (s->active) {
			send_remove(e->name);
			/* A second fd of a name we adopted: the removal took both
			 * out of the store, so put ours back. */
			struct entry *h = held_find(s, e->name);
			if (h && send_fd(h->name, h->fd) < 0)
				h->fd = -1;
		}
		log_info("dropped stored device %s: no configured VM target wants it", e->name);
		dropped++;
	}
	return dropped;
}
