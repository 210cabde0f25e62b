#include "client.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/auth.h"
#include "core/jsonread.h"
#include "ctl.h"
#include "listener.h"
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

/* ---- human views of status and list ---- */

static void print_scalar(const struct jval *v)
{
	switch (v->type) {
	case JNULL:
		fputs("-", stdout);
		break;
	case JBOOL:
		fputs(v->b ? "yes" : "no", stdout);
		break;
	case JINT:
		printf("%" PRId64, v->i);
		break;
	case JSTRING:
		fputs(v->s, stdout);
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
static void print_extras(const struct jval *obj, const char *const *known)
{
	for (const struct jval *e = obj ? obj->child : NULL; e; e = e->next) {
		if (!e->key || is_one_of(e->key, known) || e->type == JOBJECT || e->type == JARRAY)
			continue;
		printf("  %s=", e->key);
		print_scalar(e);
	}
}

static void print_status(const struct jval *st)
{
	static const char *const top_known[] = { "version", "pid", "config", "active", "released", "targets",
						 "inputs", "counters", NULL };
	static const char *const target_known[] = { "name", "type", "mode", "active", "held", "leds", "devices",
						    NULL };
	printf("active: %s%s\n", jsonread_str(st, "active", "?"),
	       jsonread_bool(st, "released", false) ? " (released: devices ungrabbed)" : "");
	printf("targets:\n");
	const struct jval *ts = jsonread_get(st, "targets");
	for (const struct jval *t = ts ? ts->child : NULL; t; t = t->next) {
		const char *type = jsonread_str(t, "type", "?");
		const char *mode = jsonread_str(t, "mode", NULL);
		char kind[48];
		snprintf(kind, sizeof(kind), "%s%s%s%s", type, mode ? " (" : "", mode ? mode : "", mode ? ")" : "");
		printf("  %c %-16s %-16s", jsonread_bool(t, "active", false) ? '*' : ' ', jsonread_str(t, "name", "?"),
		       kind);
		const struct jval *devs = jsonread_get(t, "devices");
		for (const struct jval *d = devs ? devs->child : NULL; d; d = d->next)
			printf("  %s %s", d->key, d->type == JSTRING ? d->s : "?");
		int64_t held = jsonread_int(t, "held", 0);
		if (held)
			printf("  held %" PRId64, held);
		print_extras(t, target_known);
		putchar('\n');
	}
	const struct jval *in = jsonread_get(st, "inputs");
	printf("inputs:%s\n", in && in->child ? "" : " none");
	for (const struct jval *i = in ? in->child : NULL; i; i = i->next) {
		const char *state = jsonread_bool(i, "pending", false) ? "pending" :
				    jsonread_bool(i, "grabbed", false) ? "grabbed" : "released";
		printf("    %-20s %-9s %s\n", jsonread_str(i, "node", "?"), state, jsonread_str(i, "name", "?"));
	}
	const struct jval *c = jsonread_get(st, "counters");
	if (c && c->child) {
		printf("counters:");
		int col = 9;
		for (const struct jval *e = c->child; e; e = e->next) {
			char item[96];
			int n = snprintf(item, sizeof(item), " %s %" PRId64 "%s", e->key, e->type == JINT ? e->i : 0,
					 e->next ? "," : "");
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
	printf("daemon: kvmswitch %s, pid %" PRId64 ", config %s", jsonread_str(st, "version", "?"),
	       jsonread_int(st, "pid", 0), jsonread_str(st, "config", "(built-in defaults)"));
	print_extras(st, top_known);
	putchar('\n');
}

static void print_list(const struct jval *l)
{
	const struct jval *outs = jsonread_get(l, "outputs");
	const struct jval *ins = jsonread_get(l, "inputs");
	printf("%-16s %-9s %-20s %s\n", "TARGET", "KIND", "NODE", "NAME");
	for (const struct jval *o = outs ? outs->child : NULL; o; o = o->next)
		printf("%-16s %-9s %-20s %s\n", jsonread_str(o, "target", "?"), jsonread_str(o, "kind", "?"),
		       jsonread_str(o, "node", "?"), jsonread_str(o, "name", ""));
	printf("\n%-26s %-20s %s\n", "INPUT", "NODE", "NAME");
	for (const struct jval *i = ins ? ins->child : NULL; i; i = i->next) {
		const char *state = jsonread_bool(i, "pending", false) ? "pending" :
				    jsonread_bool(i, "grabbed", false) ? "grabbed" : "released";
		printf("%-26s %-20s %s\n", state, jsonread_str(i, "node", "?"), jsonread_str(i, "name", "?"));
	}
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
	struct jval *v = jsonread_parse(text, err, sizeof(err));
	if (!v || v->type != JOBJECT) {
		fprintf(stderr, "kvmswitch: cannot read the daemon's reply (%s): %.200s\n", v ? "not an object" : err,
			text);
		jsonread_free(v);
		return EXIT_REFUSED;
	}
	if (req->cmd == PROTO_STATUS && stats_view)
		stats_print(stdout, v);
	else if (req->cmd == PROTO_STATUS)
		print_status(v);
	else
		print_list(v);
	jsonread_free(v);
	return EXIT_OK;
}

/* ---- the control socket ---- */

int client_request(const char *socket_path, const struct proto_request *req, bool json)
{
	char path[4096], err[256], line[PROTO_LINE_MAX + 8];
	if (socket_path)
		snprintf(path, sizeof(path), "%s", socket_path);
	else if (ctl_default_path(path, sizeof(path), err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmswitch: %s\n", err);
		return EXIT_NO_DAEMON;
	}
	int fd = connect_to(path);
	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "kvmswitch: cannot reach the daemon at %s: %s%s\n", path, strerror(e),
			e == ENOENT || e == ECONNREFUSED ? " (is `kvmswitch run` running?)" :
			e == EACCES ? " (the control socket belongs to another user)" : "");
		return EXIT_NO_DAEMON;
	}
	int n = proto_format(req, line, sizeof(line));
	if (n < 0) {
		fprintf(stderr, "kvmswitch: request too long\n");
		close(fd);
		return EXIT_USAGE;
	}
	/* A daemon that refuses us has answered and closed already: read its
	 * reply even if the request cannot be sent (and never die of SIGPIPE). */
	ssize_t w = send(fd, line, (size_t)n, MSG_NOSIGNAL);
	int send_errno = w == n ? 0 : w < 0 ? errno : EIO;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool switching = req->cmd == PROTO_SWITCH || req->cmd == PROTO_TOGGLE || req->cmd == PROTO_NEXT ||
			 req->cmd == PROTO_PREV || req->cmd == PROTO_RELOAD;
	char *reply = read_line(fd, &buf, &len, &cap, switching ? SWITCH_REPLY_TIMEOUT_MS : REPLY_TIMEOUT_MS);
	int rc;
	if (!reply) {
		if (send_errno)
			fprintf(stderr, "kvmswitch: cannot send the request to %s: %s\n", path, strerror(send_errno));
		else
			fprintf(stderr, "kvmswitch: no reply from the daemon at %s\n", path);
		rc = EXIT_NO_DAEMON;
	} else if (strncmp(reply, "error", 5) == 0 && (reply[5] == ' ' || reply[5] == '\0')) {
		fprintf(stderr, "kvmswitch: %s\n", reply[5] ? reply + 6 : "error");
		rc = EXIT_REFUSED;
	} else if (strncmp(reply, "ok", 2) == 0 && (reply[2] == ' ' || reply[2] == '\0')) {
		const char *text = reply[2] ? reply + 3 : "";
		rc = EXIT_OK;
		if (req->cmd == PROTO_STATUS || req->cmd == PROTO_LIST) {
			rc = print_structured(req, text, json);
		} else if (req->cmd == PROTO_SUBSCRIBE) {
			setvbuf(stdout, NULL, _IOLBF, 0);
			printf("active %s\n", strncmp(text, "subscribed ", 11) == 0 ? text + 11 : text);
			consume_line(buf, &len);
			while ((reply = read_line(fd, &buf, &len, &cap, -1))) {
				printf("%s\n", strncmp(reply, "event ", 6) == 0 ? reply + 6 : reply);
				consume_line(buf, &len);
			}
			/* The stream ends only when the daemon goes away. */
			fprintf(stderr, "kvmswitch: the daemon at %s went away\n", path);
			rc = EXIT_NO_DAEMON;
		} else if (*text) {
			printf("%s\n", text);
		}
	} else {
		fprintf(stderr, "kvmswitch: unexpected reply: %.200s\n", reply);
		rc = EXIT_REFUSED;
	}
	free(buf);
	close(fd);
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
	if (!secret_path[0] && default_secret_path(secret_path, sizeof(secret_path)) < 0) {
		fprintf(stderr, "kvmswitch: no secret file: use --secret-file FILE\n");
		return EXIT_USAGE;
	}
	struct sockaddr_storage sa;
	socklen_t salen;
	if (listener_parse_address(address, false, &sa, &salen, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmswitch: %s\n", err);
		return EXIT_USAGE;
	}
	unsigned char *secret;
	size_t secret_len;
	if (listener_read_secret(secret_path, &secret, &secret_len, err, sizeof(err)) < 0) {
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
	    listener_mac(secret, secret_len, msg, msg_len, mac) < 0 ||
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
	listener_secret_free(secret, secret_len);
	return rc;
}
