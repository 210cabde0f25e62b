/* The CLI side of the control socket (client.h): one request, its reply
 * printed or handed back. */
#include "client.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "jsonget.h"
#include "lineread.h"
#include "parseonly.h"
#include "views.h"

#define REPLY_TIMEOUT_MS 10000
/* A switch to a usb target is answered once libvirt has attached the
 * devices, which can take seconds on a slow host. */
#define SWITCH_REPLY_TIMEOUT_MS 60000

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* A status or list reply: the JSON as it is, or the human view. */
static int print_reply(const struct proto_request *req, const char *text, bool json, bool stats)
{
	if (json) {
		printf("%s\n", text);
		return EXIT_OK;
	}
	return views_print_reply(req, text, stats) == 0 ? EXIT_OK : EXIT_REFUSED;
}

/* ---- the control socket ---- */

/* When `path` is not the system unit's socket but that one exists (its
 * directory is root's only, so a user sees EACCES, not ENOENT): where the
 * daemon probably is, and how to reach it. */
static bool system_socket_hint(const char *path, char *buf, size_t len)
{
	struct stat st;
	if (!strcmp(path, CTL_ROOT_PATH) || (stat(CTL_ROOT_PATH, &st) < 0 && errno != EACCES))
		return false;
	if (geteuid() == 0)
		snprintf(buf, len, " (the system unit's socket is " CTL_ROOT_PATH ": KVMSWITCH_SOCKET=" CTL_ROOT_PATH
				   " kvmswitch ...)");
	else
		snprintf(buf, len, " (the system unit's socket is " CTL_ROOT_PATH ", root's only: sudo kvmswitch ...)");
	return true;
}

/* One request on its way: the connection and what has been read of it. */
struct exchange {
	char path[4096];
	int fd;
	struct lineread lr;
};

/* Connects to the daemon (socket_path, or the default path), sends req and
 * reads the first reply line. Returns the line (in ex->buf), or NULL with a
 * message in err, the exit status in *rc and errno set (ENOENT,
 * ECONNREFUSED, EACCES: no connection; ETIMEDOUT: no reply). */
static char *exchange_start(struct exchange *ex, const char *socket_path, const struct proto_request *req,
			    char *err, size_t errlen, int *rc)
{
	char line[PROTO_LINE_MAX + 8];
	memset(ex, 0, sizeof(*ex));
	ex->fd = -1;
	*rc = EXIT_NO_DAEMON;
	if (socket_path)
		snprintf(ex->path, sizeof(ex->path), "%s", socket_path);
	else if (ctl_default_path(ex->path, sizeof(ex->path), err, errlen) < 0) {
		errno = ENOENT;
		return NULL;
	}
	ex->fd = connect_to(ex->path);
	if (ex->fd < 0) {
		int e = errno;
		char hint[256];
		snprintf(err, errlen, "cannot reach the daemon at %s: %s%s", ex->path, strerror(e),
			 system_socket_hint(ex->path, hint, sizeof(hint)) ? hint :
			 e == ENOENT || e == ECONNREFUSED ? " (is `kvmswitch run` running?)" :
			 e == EACCES ? " (the control socket belongs to another user: sudo kvmswitch ...)" : "");
		errno = e;
		return NULL;
	}
	int n = proto_format(req, line, sizeof(line));
	if (n < 0) {
		snprintf(err, errlen, "request too long");
		*rc = EXIT_USAGE;
		errno = EINVAL;
		return NULL;
	}
	/* A daemon that refuses us has answered and closed already: read its
	 * reply even if the request cannot be sent (and never die of SIGPIPE). */
	ssize_t w = send(ex->fd, line, (size_t)n, MSG_NOSIGNAL);
	int send_errno = w == n ? 0 : w < 0 ? errno : EIO;
	bool switching = req->cmd == PROTO_SWITCH || req->cmd == PROTO_TOGGLE || req->cmd == PROTO_NEXT ||
			 req->cmd == PROTO_PREV || req->cmd == PROTO_RELOAD;
	char *reply = lineread_line(&ex->lr, ex->fd, switching ? SWITCH_REPLY_TIMEOUT_MS : REPLY_TIMEOUT_MS);
	if (!reply) {
		if (send_errno)
			snprintf(err, errlen, "cannot send the request to %s: %s", ex->path, strerror(send_errno));
		else
			snprintf(err, errlen, "no reply from the daemon at %s", ex->path);
		errno = send_errno ? send_errno : ETIMEDOUT;
	}
	return reply;
}

static void exchange_finish(struct exchange *ex)
{
	lineread_free(&ex->lr);
	if (ex->fd >= 0)
		close(ex->fd);
}

/* "error TEXT" or "ok TEXT" (the TEXT, maybe ""), else NULL. */
static const char *reply_text(const char *reply, const char *word)
{
	size_t n = strlen(word);
	if (strncmp(reply, word, n) != 0 || (reply[n] != ' ' && reply[n] != '\0'))
		return NULL;
	return reply[n] ? reply + n + 1 : "";
}

/* One request and its reply printed; `stats`: a status reply as `kvmswitch
 * stats` shows it. */
static int request(const char *socket_path, const struct proto_request *req, bool json, bool stats)
{
	if (parse_only())
		return EXIT_OK;
	char err[4400];
	struct exchange ex;
	int rc;
	char *reply = exchange_start(&ex, socket_path, req, err, sizeof(err), &rc);
	const char *text;
	if (!reply) {
		fprintf(stderr, "kvmswitch: %s\n", err);
	} else if ((text = reply_text(reply, "error"))) {
		fprintf(stderr, "kvmswitch: %s\n", *text ? text : "error");
		rc = EXIT_REFUSED;
	} else if ((text = reply_text(reply, "ok"))) {
		rc = EXIT_OK;
		if (req->cmd == PROTO_STATUS || req->cmd == PROTO_LIST) {
			rc = print_reply(req, text, json, stats);
		} else if (req->cmd == PROTO_MONITOR) {
			setvbuf(stdout, NULL, _IOLBF, 0);
			if (!json)
				printf("# DEVICE (NODE), KEY NAME (as kvmswitch.conf takes it), down or up, where it went\n");
			lineread_consume(&ex.lr);
			while ((reply = lineread_line(&ex.lr, ex.fd, -1))) {
				const char *ev = strncmp(reply, "event input ", 12) == 0 ? reply + 12 : NULL;
				if (ev && json)
					printf("%s\n", ev);
				else if (ev)
					views_print_monitor_event(ev);
				lineread_consume(&ex.lr);
			}
			fprintf(stderr, "kvmswitch: the daemon at %s went away\n", ex.path);
			rc = EXIT_NO_DAEMON;
		} else if (req->cmd == PROTO_SUBSCRIBE) {
			setvbuf(stdout, NULL, _IOLBF, 0);
			printf("active %s\n", strncmp(text, "subscribed ", 11) == 0 ? text + 11 : text);
			lineread_consume(&ex.lr);
			while ((reply = lineread_line(&ex.lr, ex.fd, -1))) {
				printf("%s\n", strncmp(reply, "event ", 6) == 0 ? reply + 6 : reply);
				lineread_consume(&ex.lr);
			}
			/* The stream ends only when the daemon goes away. */
			fprintf(stderr, "kvmswitch: the daemon at %s went away\n", ex.path);
			rc = EXIT_NO_DAEMON;
		} else if (*text) {
			printf("%s\n", text);
		}
	} else {
		fprintf(stderr, "kvmswitch: unexpected reply: %.200s\n", reply);
		rc = EXIT_REFUSED;
	}
	exchange_finish(&ex);
	return rc;
}

int client_request(const char *socket_path, const struct proto_request *req, bool json)
{
	return request(socket_path, req, json, false);
}

int client_fetch(const char *socket_path, const struct proto_request *req, char **text, char *err, size_t errlen)
{
	struct exchange ex;
	int rc;
	*text = NULL;
	char *reply = exchange_start(&ex, socket_path, req, err, errlen, &rc);
	int e = reply ? 0 : errno;
	if (reply) {
		const char *t = reply_text(reply, "ok");
		rc = t ? EXIT_OK : EXIT_REFUSED;
		if (!t && !(t = reply_text(reply, "error"))) {
			snprintf(err, errlen, "unexpected reply from %s: %.200s", ex.path, reply);
		} else if (!(*text = strdup(t))) {
			snprintf(err, errlen, "out of memory");
			rc = EXIT_REFUSED;
		}
	}
	exchange_finish(&ex);
	errno = e;
	return rc;
}

int client_targets(const char *socket_path, struct buf *names)
{
	char err[4400], *text;
	struct proto_request req = { .cmd = PROTO_STATUS };
	int rc = client_fetch(socket_path, &req, &text, err, sizeof(err));
	if (rc != EXIT_OK) {
		free(text);
		return rc;
	}
	struct json_object *st = views_parse_json(text, err, sizeof(err));
	struct json_object *ts = st ? jsonget_member(st, "targets", json_type_array) : NULL;
	for (size_t i = 0; ts && i < json_object_array_length(ts); i++) {
		const char *name = jsonget_str(json_object_array_get_idx(ts, i), "name", NULL);
		if (name)
			buf_printf(names, "%s\n", name);
	}
	rc = ts ? EXIT_OK : EXIT_REFUSED;
	json_object_put(st);
	free(text);
	return rc;
}

int client_stats(const char *socket_path, bool watch)
{
	const struct proto_request req = { .cmd = PROTO_STATUS };
	bool tty = isatty(STDOUT_FILENO);
	for (;;) {
		if (watch && tty)
			fputs("\033[H\033[2J", stdout); /* home, clear the screen */
		int rc = request(socket_path, &req, false, true);
		if (rc != EXIT_OK || !watch)
			return rc;
		if (!tty)
			putchar('\n');
		fflush(stdout);
		sleep(1);
	}
}
