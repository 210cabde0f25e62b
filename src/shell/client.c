#include "client.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/auth.h"
#include "ctl.h"
#include "jsonget.h"
#include "netauth.h"
#include "parseonly.h"
#include "stats.h"

#define REPLY_TIMEOUT_MS 10000
/* A switch to a usb target is answered once libvirt has attached the
 * devices, which can take seconds on a slow host. */
#define SWITCH_REPLY_TIMEOUT_MS 60000
#define REMOTE_TIMEOUT_MS 5000

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

/* Reads one line into a growing buffer; timeout_ms < 0 waits forever. */
static char *read_line(int fd, char **buf, size_t *len, size_t *cap, int timeout_ms)
{
	for (;;) {
		char *nl = *len ? memchr(*buf, '\n', *len) : NULL;
		if (nl) {
			*nl = '\0';
			return *buf;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		int rc = poll(&p, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return NULL;
		if (*len + 4096 > *cap) {
			size_t ncap = *cap ? *cap * 2 : 8192;
			char *nb = realloc(*buf, ncap);
			if (!nb)
				return NULL;
			*buf = nb;
			*cap = ncap;
		}
		ssize_t r = read(fd, *buf + *len, *cap - *len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		*len += (size_t)r;
	}
}

static void consume_line(char *buf, size_t *len)
{
	size_t n = strlen(buf) + 1;
	memmove(buf, buf + n, *len - n);
	*len -= n;
}

/* ---- human views of status and list (the JSON read with json-c) ---- */

/* Member `key` of object o if it has that type, else NULL. */
static void print_scalar(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		fputs("-", stdout);
		break;
	case json_type_boolean:
		fputs(json_object_get_boolean(v) ? "yes" : "no", stdout);
		break;
	case json_type_int:
		printf("%" PRId64, json_object_get_int64(v));
		break;
	case json_type_string:
		fputs(json_object_get_string(v), stdout);
		break;
	default:
		fputs("...", stdout);
	}
}

static bool is_one_of(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (!strcmp(key, *keys))
			return true;
	return false;
}

/* Scalar members not in `known`, as " key=value". */
static void print_extras(struct json_object *obj, const char *const *known)
{
	json_object_object_foreach(obj, key, val)
	{
		if (is_one_of(key, known) || json_object_is_type(val, json_type_object) ||
		    json_object_is_type(val, json_type_array))
			continue;
		printf("  %s=", key);
		print_scalar(val);
	}
}

/* An input's state: pending, grabbed or released. */
static const char *input_state(struct json_object *in)
{
	return jsonget_bool(in, "pending", false) ? "pending" : jsonget_bool(in, "grabbed", false) ? "grabbed" : "released";
}

/* "num lock, caps lock" for an LED bit mask (bit N: LED code N), or "off". */
static const char *leds_text(int64_t leds, char *buf, size_t len)
{
	static const char *const names[] = { "num lock", "caps lock", "scroll lock", "compose", "kana" };
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < 16 && off < len; i++) {
		if (!(leds & (1 << i)))
			continue;
		int n = i < 5 ? snprintf(buf + off, len - off, "%s%s", off ? ", " : "", names[i])
			      : snprintf(buf + off, len - off, "%sled %d", off ? ", " : "", i);
		off += n > 0 ? (size_t)n : 0;
	}
	if (!off)
		snprintf(buf, len, "off");
	return buf;
}

/* The second line of a target: its LEDs, its domain's state, and what is
 * worth knowing only when it is not zero. */
static void print_target_details(struct json_object *t)
{
	char leds[96];
	printf("%21sleds %s", "", leds_text(jsonget_int(t, "leds", 0), leds, sizeof(leds)));
	struct json_object *d = jsonget_member(t, "domain", json_type_object);
	if (d) {
		printf("; domain %s at %s: %s", jsonget_str(d, "name", "?"), jsonget_str(d, "uri", "?"), jsonget_str(d, "state", "?"));
		const char *why = jsonget_str(d, "reason", NULL);
		if (why)
			printf(" (%s)", why);
		int64_t attached = jsonget_int(d, "attached", -1);
		if (attached >= 0)
			printf(", %" PRId64 " USB/PCI device%s attached", attached, attached == 1 ? "" : "s");
	}
	int64_t held = jsonget_int(t, "held", 0), failed = jsonget_int(t, "failed_writes", 0), owed = jsonget_int(t, "owed_keys", 0);
	if (held)
		printf("; held %" PRId64, held);
	if (failed)
		printf("; failed writes %" PRId64, failed);
	if (owed)
		printf("; keys owed %" PRId64, owed);
	putchar('\n');
}

static void print_status(struct json_object *st)
{
	static const char *const top_known[] = { "version", "pid", "config", "active", "released", "locked",
						 "targets", "inputs", "counters", "latency", "realtime", NULL };
	static const char *const target_known[] = { "name", "type", "mode", "active", "held", "leds", "devices",
						    "failed_writes", "owed_keys", NULL };
	printf("active: %s%s%s\n", jsonget_str(st, "active", "?"),
	       jsonget_bool(st, "released", false) ? " (released: devices ungrabbed)" : "",
	       jsonget_bool(st, "locked", false) ? " (locked: the hotkeys do not switch)" : "");
	printf("targets:\n");
	struct json_object *ts = jsonget_member(st, "targets", json_type_array);
	for (size_t i = 0; ts && i < json_object_array_length(ts); i++) {
		struct json_object *t = json_object_array_get_idx(ts, i);
		const char *type = jsonget_str(t, "type", "?");
		const char *mode = jsonget_str(t, "mode", NULL);
		char kind[48];
		snprintf(kind, sizeof(kind), "%s%s%s%s", type, mode ? " (" : "", mode ? mode : "", mode ? ")" : "");
		struct json_object *devs = jsonget_member(t, "devices", json_type_object);
		bool any = devs && json_object_object_length(devs) > 0;
		printf("  %c %-16s %-*s", jsonget_bool(t, "active", false) ? '*' : ' ', jsonget_str(t, "name", "?"), any ? 16 : 0,
		       kind);
		if (any) {
			json_object_object_foreach(devs, dkind, dnode)
			{
				bool named = json_object_is_type(dnode, json_type_string);
				printf("  %s %s", dkind, named ? json_object_get_string(dnode) : "?");
			}
		}
		print_extras(t, target_known);
		putchar('\n');
		print_target_details(t);
	}
	struct json_object *in = jsonget_member(st, "inputs", json_type_array);
	size_t n_in = in ? json_object_array_length(in) : 0;
	printf("inputs:%s\n", n_in ? "" : " none");
	for (size_t i = 0; i < n_in; i++) {
		struct json_object *dev = json_object_array_get_idx(in, i);
		printf("    %-20s %-9s %s\n", jsonget_str(dev, "node", "?"), input_state(dev), jsonget_str(dev, "name", "?"));
	}
	struct json_object *c = jsonget_member(st, "counters", json_type_object);
	if (c && json_object_object_length(c)) {
		printf("counters:");
		int col = 9;
		size_t left = (size_t)json_object_object_length(c);
		json_object_object_foreach(c, name, val)
		{
			char item[96];
			int n = snprintf(item, sizeof(item), " %s %" PRId64 "%s", name,
					 json_object_is_type(val, json_type_int) ? json_object_get_int64(val) : 0,
					 --left ? "," : "");
			if (col + n > 78) {
				printf("\n         ");
				col = 9;
			}
			fputs(item, stdout);
			col += n;
		}
		putchar('\n');
	}
	stats_status_lines(stdout, st);
	printf("daemon: kvmswitch %s, pid %" PRId64 ", config %s", jsonget_str(st, "version", "?"), jsonget_int(st, "pid", 0),
	       jsonget_str(st, "config", "(built-in defaults)"));
	print_extras(st, top_known);
	putchar('\n');
}

static void print_list(struct json_object *l)
{
	struct json_object *outs = jsonget_member(l, "outputs", json_type_array);
	struct json_object *ins = jsonget_member(l, "inputs", json_type_array);
	printf("%-16s %-9s %-20s %s\n", "TARGET", "KIND", "NODE", "NAME");
	for (size_t i = 0; outs && i < json_object_array_length(outs); i++) {
		struct json_object *o = json_object_array_get_idx(outs, i);
		printf("%-16s %-9s %-20s %s\n", jsonget_str(o, "target", "?"), jsonget_str(o, "kind", "?"), jsonget_str(o, "node", "?"),
		       jsonget_str(o, "name", ""));
	}
	printf("\n%-26s %-20s %s\n", "INPUT", "NODE", "NAME");
	for (size_t i = 0; ins && i < json_object_array_length(ins); i++) {
		struct json_object *dev = json_object_array_get_idx(ins, i);
		printf("%-26s %-20s %s\n", input_state(dev), jsonget_str(dev, "node", "?"), jsonget_str(dev, "name", "?"));
	}
}

/* The whole text as one JSON value (NULL with a message if it is not). */
static struct json_object *parse_json(const char *text, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	size_t len = strlen(text);
	struct json_object *v = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	if (e == json_tokener_success && json_tokener_get_parse_end(tok) < len) {
		snprintf(err, errlen, "text after the JSON value");
		json_object_put(v);
		v = NULL;
	} else if (e != json_tokener_success) {
		snprintf(err, errlen, "%s", e == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(e));
		json_object_put(v);
		v = NULL;
	} else if (!v) {
		snprintf(err, errlen, "not an object");
	}
	json_tokener_free(tok);
	return v;
}

/* `kvmswitch stats` shows the status reply its own way. */
static bool stats_view;

static int print_structured(const struct proto_request *req, const char *text, bool json)
{
	if (json) {
		printf("%s\n", text);
		return EXIT_OK;
	}
	char err[128];
	struct json_object *v = parse_json(text, err, sizeof(err));
	if (!v || !json_object_is_type(v, json_type_object)) {
		fprintf(stderr, "kvmswitch: cannot read the daemon's reply (%s): %.200s\n", v ? "not an object" : err,
			text);
		json_object_put(v);
		return EXIT_REFUSED;
	}
	if (req->cmd == PROTO_STATUS && stats_view)
		stats_print(stdout, v);
	else if (req->cmd == PROTO_STATUS)
		print_status(v);
	else
		print_list(v);
	json_object_put(v);
	return EXIT_OK;
}

/* One line of `kvmswitch monitor`: DEVICE (NODE)  KEY down|up  -> WHERE. */
static void print_monitor_event(const char *text)
{
	char err[128];
	struct json_object *e = parse_json(text, err, sizeof(err));
	if (!e || !json_object_is_type(e, json_type_object)) {
		printf("? %s\n", text);
		json_object_put(e);
		return;
	}
	char dev[160], where[160];
	snprintf(dev, sizeof(dev), "%s (%s)", jsonget_str(e, "device", "?"), jsonget_str(e, "node", "?"));
	const char *route = jsonget_str(e, "route", "?"), *target = jsonget_str(e, "target", "?");
	if (!strcmp(route, "target") && jsonget_bool(e, "shared_key", false) && strcmp(target, "host"))
		snprintf(where, sizeof(where), "host + %s (shared key)", target);
	else if (!strcmp(route, "target"))
		snprintf(where, sizeof(where), "%s%s", target,
			 jsonget_bool(e, "host_key", false)    ? " (host key)"
			 : jsonget_bool(e, "shared_key", false) ? " (shared key)"
			 : jsonget_bool(e, "host_only", false)  ? " (host-only device)"
							   : "");
	else if (!strcmp(route, "host-read"))
		snprintf(where, sizeof(where), "host (it reads the device itself)%s",
			 jsonget_bool(e, "hotkey", false) ? ", and a hotkey" : "");
	else if (!strcmp(route, "hotkey"))
		snprintf(where, sizeof(where), "nowhere: a hotkey");
	else
		snprintf(where, sizeof(where), "%s", route);
	if (!strcmp(jsonget_str(e, "type", ""), "key"))
		printf("%-40s %-20s %-4s -> %s\n", dev, jsonget_str(e, "key", "?"), jsonget_str(e, "value", "?"), where);
	else
		printf("%-40s %-25s -> %s\n", dev, "motion", where);
	json_object_put(e);
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
	char *buf;
	size_t len, cap;
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
	char *reply = read_line(ex->fd, &ex->buf, &ex->len, &ex->cap, switching ? SWITCH_REPLY_TIMEOUT_MS : REPLY_TIMEOUT_MS);
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
	free(ex->buf);
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

int client_request(const char *socket_path, const struct proto_request *req, bool json)
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
			rc = print_structured(req, text, json);
		} else if (req->cmd == PROTO_MONITOR) {
			setvbuf(stdout, NULL, _IOLBF, 0);
			if (!json)
				printf("# DEVICE (NODE), KEY NAME (as kvmswitch.conf takes it), down or up, where it went\n");
			consume_line(ex.buf, &ex.len);
			while ((reply = read_line(ex.fd, &ex.buf, &ex.len, &ex.cap, -1))) {
				const char *ev = strncmp(reply, "event input ", 12) == 0 ? reply + 12 : NULL;
				if (ev && json)
					printf("%s\n", ev);
				else if (ev)
					print_monitor_event(ev);
				consume_line(ex.buf, &ex.len);
			}
			fprintf(stderr, "kvmswitch: the daemon at %s went away\n", ex.path);
			rc = EXIT_NO_DAEMON;
		} else if (req->cmd == PROTO_SUBSCRIBE) {
			setvbuf(stdout, NULL, _IOLBF, 0);
			printf("active %s\n", strncmp(text, "subscribed ", 11) == 0 ? text + 11 : text);
			consume_line(ex.buf, &ex.len);
			while ((reply = read_line(ex.fd, &ex.buf, &ex.len, &ex.cap, -1))) {
				printf("%s\n", strncmp(reply, "event ", 6) == 0 ? reply + 6 : reply);
				consume_line(ex.buf, &ex.len);
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
	struct json_object *st = parse_json(text, err, sizeof(err));
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
	stats_view = true;
	for (;;) {
		if (watch && tty)
			fputs("\033[H\033[2J", stdout); /* home, clear the screen */
		int rc = client_request(socket_path, &req, false);
		if (rc != EXIT_OK || !watch)
			return rc;
		if (!tty)
			putchar('\n');
		fflush(stdout);
		sleep(1);
	}
}

/* ---- kvmswitch remote ---- */

const char client_remote_help[] =
	"usage: kvmswitch remote [--secret-file FILE] ADDRESS COMMAND [TARGET]\n"
	"Send a switch command to a kvmswitch listener ([listener] in kvmswitch.conf),\n"
	"e.g. from inside a guest. ADDRESS is tcp:HOST:PORT or vsock:CID:PORT (CID 2 is\n"
	"the host); COMMAND is switch TARGET, toggle, next or prev.\n"
	"  -s, --secret-file FILE   the shared secret (default: $KVMSWITCH_SECRET_FILE,\n"
	"                           else $XDG_CONFIG_HOME/kvmswitch/secret); mode 600\n"
	"Prints the active target. Exit status: 0 ok, 1 refused, 2 usage or unusable\n"
	"secret file, 3 no listener answers.\n";

static int default_secret_path(char *buf, size_t len)
{
	const char *env = getenv("KVMSWITCH_SECRET_FILE");
	if (env && *env)
		return snprintf(buf, len, "%s", env) < (int)len ? 0 : -1;
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg && *xdg)
		return snprintf(buf, len, "%s/kvmswitch/secret", xdg) < (int)len ? 0 : -1;
	const char *home = getenv("HOME");
	if (home && *home)
		return snprintf(buf, len, "%s/.config/kvmswitch/secret", home) < (int)len ? 0 : -1;
	return -1;
}

/* Connects with a timeout. Returns the fd or -1 with errno. */
static int connect_remote(const struct sockaddr_storage *sa, socklen_t salen)
{
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, salen) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		struct pollfd p = { fd, POLLOUT, 0 };
		int rc;
		while ((rc = poll(&p, 1, REMOTE_TIMEOUT_MS)) < 0 && errno == EINTR)
			;
		int soerr = 0;
		socklen_t l = sizeof(soerr);
		if (rc <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 || soerr) {
			close(fd);
			errno = rc == 0 ? ETIMEDOUT : soerr ? soerr : errno;
			return -1;
		}
	}
	return fd;
}

int client_remote(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "secret-file", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char secret_path[4096] = "";
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(secret_path, sizeof(secret_path), "%s", optarg);
			break;
		case 'h':
			fputs(client_remote_help, stdout);
			return EXIT_OK;
		default:
			fputs(client_remote_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 2) {
		fputs(client_remote_help, stderr);
		return EXIT_USAGE;
	}
	const char *address = argv[optind];
	/* The command: the remaining words, checked here so a typo is a usage
	 * error, not a failed attempt counted against us. */
	char cmd[PROTO_LINE_MAX] = "", err[512];
	size_t off = 0;
	for (int i = optind + 1; i < argc; i++) {
		int n = snprintf(cmd + off, sizeof(cmd) - off, "%s%s", off ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(cmd) - off) {
			fprintf(stderr, "kvmswitch: command too long\n");
			return EXIT_USAGE;
		}
		off += (size_t)n;
	}
	struct proto_request req;
	if (proto_parse(cmd, off, &req, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmswitch: %s\n", err);
		return EXIT_USAGE;
	}
	if (!auth_command_allowed(req.cmd)) {
		fprintf(stderr, "kvmswitch: '%s' is not allowed over the network (switch, toggle, next, prev)\n",
			proto_cmd_name(req.cmd));
		return EXIT_USAGE;
	}
	if (parse_only())
		return EXIT_OK;
	if (!secret_path[0] && default_secret_path(secret_path, sizeof(secret_path)) < 0) {
		fprintf(stderr, "kvmswitch: no secret file: use --secret-file FILE\n");
		return EXIT_USAGE;
	}
	struct sockaddr_storage sa;
	socklen_t salen;
	if (netauth_parse_address(address, false, &sa, &salen, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmswitch: %s\n", err);
		return EXIT_USAGE;
	}
	unsigned char *secret;
	size_t secret_len;
	if (netauth_read_secret(secret_path, &secret, &secret_len, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmswitch: %s\n", err);
		return EXIT_USAGE;
	}
	int rc = EXIT_NO_DAEMON;
	char *buf = NULL, *msg = NULL;
	size_t len = 0, cap = 0, msg_len;
	int fd = connect_remote(&sa, salen);
	if (fd < 0) {
		fprintf(stderr, "kvmswitch: cannot connect to %s: %s\n", address, strerror(errno));
		goto out;
	}
	char *line = read_line(fd, &buf, &len, &cap, REMOTE_TIMEOUT_MS);
	if (!line) {
		fprintf(stderr, "kvmswitch: no challenge from %s\n", address);
		goto out;
	}
	if (strncmp(line, "error ", 6) == 0) { /* rate limited, busy */
		fprintf(stderr, "kvmswitch: %s: %s\n", address, line + 6);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (auth_challenge_check(line, strlen(line), err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmswitch: %s: %s\n", address, err);
		goto out;
	}
	uint8_t mac[AUTH_MAC_BYTES];
	char resp[AUTH_RESPONSE_MAX + 1];
	int n;
	if (auth_message(line, cmd, off, &msg, &msg_len) < 0 ||
	    netauth_mac(secret, secret_len, msg, msg_len, mac) < 0 ||
	    (n = auth_response_format(mac, cmd, resp, sizeof(resp))) < 0) {
		fprintf(stderr, "kvmswitch: cannot compute the response\n");
		rc = EXIT_REFUSED;
		goto out;
	}
	consume_line(buf, &len);
	if (send(fd, resp, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "kvmswitch: cannot send to %s: %s\n", address, strerror(errno));
		goto out;
	}
	line = read_line(fd, &buf, &len, &cap, REPLY_TIMEOUT_MS);
	if (!line) {
		fprintf(stderr, "kvmswitch: no reply from %s\n", address);
	} else if (strncmp(line, "ok", 2) == 0 && (line[2] == ' ' || !line[2])) {
		if (line[2])
			printf("%s\n", line + 3);
		rc = EXIT_OK;
	} else {
		fprintf(stderr, "kvmswitch: %s\n", strncmp(line, "error ", 6) == 0 ? line + 6 : line);
		rc = EXIT_REFUSED;
	}
out:
	if (fd >= 0)
		close(fd);
	free(msg);
	free(buf);
	netauth_secret_free(secret, secret_len);
	return rc;
}
