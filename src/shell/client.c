#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

#define REPLY_TIMEOUT_MS 10000

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

/* Prints JSON as indented "key: value" lines for people. */
static void print_human(const char *s)
{
	int depth = 0;
	bool in_str = false, line_start = true;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (in_str) {
			if (c == '\\' && p[1]) {
				putchar(*++p == 'n' ? ' ' : *p);
				continue;
			}
			if (c == '"') {
				in_str = false;
				continue;
			}
			putchar(c);
			continue;
		}
		if (line_start && c != '}' && c != ']') {
			printf("%*s", depth * 2, "");
			line_start = false;
		}
		switch (c) {
		case '"':
			in_str = true;
			break;
		case '{':
		case '[':
			if (depth > 0)
				putchar('\n');
			depth++;
			line_start = true;
			break;
		case '}':
		case ']':
			depth--;
			if (!line_start)
				putchar('\n');
			line_start = true;
			break;
		case ',':
			if (!line_start)
				putchar('\n');
			line_start = true;
			break;
		case ':':
			fputs(": ", stdout);
			break;
		default:
			putchar(c);
		}
	}
	if (!line_start)
		putchar('\n');
}

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
		fprintf(stderr, "kvmswitch: cannot reach the daemon at %s: %s%s\n", path, strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED ? " (is `kvmswitch run` running?)" : "");
		return EXIT_NO_DAEMON;
	}
	int n = proto_format(req, line, sizeof(line));
	if (n < 0 || write(fd, line, (size_t)n) != n) {
		fprintf(stderr, "kvmswitch: cannot send the request: %s\n", strerror(errno));
		close(fd);
		return EXIT_NO_DAEMON;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char *reply = read_line(fd, &buf, &len, &cap, REPLY_TIMEOUT_MS);
	int rc;
	if (!reply) {
		fprintf(stderr, "kvmswitch: no reply from the daemon at %s\n", path);
		rc = EXIT_NO_DAEMON;
	} else if (strncmp(reply, "error", 5) == 0 && (reply[5] == ' ' || reply[5] == '\0')) {
		fprintf(stderr, "kvmswitch: %s\n", reply[5] ? reply + 6 : "error");
		rc = EXIT_REFUSED;
	} else if (strncmp(reply, "ok", 2) == 0 && (reply[2] == ' ' || reply[2] == '\0')) {
		const char *text = reply[2] ? reply + 3 : "";
		rc = EXIT_OK;
		if (req->cmd == PROTO_STATUS || req->cmd == PROTO_LIST) {
			if (json)
				printf("%s\n", text);
			else
				print_human(text);
		} else if (req->cmd == PROTO_SUBSCRIBE) {
			setvbuf(stdout, NULL, _IOLBF, 0);
			printf("active %s\n", strncmp(text, "subscribed ", 11) == 0 ? text + 11 : text);
			consume_line(buf, &len);
			while ((reply = read_line(fd, &buf, &len, &cap, -1))) {
				printf("%s\n", strncmp(reply, "event ", 6) == 0 ? reply + 6 : reply);
				consume_line(buf, &len);
			}
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
