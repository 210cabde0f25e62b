/* `kvmswitch remote`: a switch command to a kvmswitch listener over the
 * network (remote.h), answered with the shared secret (netauth.c, core/auth.c). */
#include "remote.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "core/auth.h"
#include "core/proto.h"
#include "lineread.h"
#include "netauth.h"
#include "parseonly.h"

#define REMOTE_TIMEOUT_MS 5000
#define REPLY_TIMEOUT_MS 10000

const char remote_help[] =
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

int remote_run(int argc, char **argv)
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
			fputs(remote_help, stdout);
			return EXIT_OK;
		default:
			fputs(remote_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 2) {
		fputs(remote_help, stderr);
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
	struct lineread lr = { 0 };
	char *msg = NULL;
	size_t msg_len;
	int fd = connect_remote(&sa, salen);
	if (fd < 0) {
		fprintf(stderr, "kvmswitch: cannot connect to %s: %s\n", address, strerror(errno));
		goto out;
	}
	char *line = lineread_line(&lr, fd, REMOTE_TIMEOUT_MS);
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
	lineread_consume(&lr);
	if (send(fd, resp, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "kvmswitch: cannot send to %s: %s\n", address, strerror(errno));
		goto out;
	}
	line = lineread_line(&lr, fd, REPLY_TIMEOUT_MS);
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
	lineread_free(&lr);
	netauth_secret_free(secret, secret_len);
	return rc;
}
