#include "ksd.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* $KSD_START_TIMEOUT_MS overrides it (e.g. a case that runs it under valgrind). */
#define KSD_START_TIMEOUT_MS \
	(getenv("KSD_START_TIMEOUT_MS") ? atoi(getenv("KSD_START_TIMEOUT_MS")) : 20000)

struct ksd {
	struct tproc *proc;
	char *config;
	char *socket;
	bool stopped;
};

const char *ksd_binary(void)
{
	static char path[PATH_MAX];
	if (!path[0]) {
		const char *b = getenv("KVMSWITCH_BUILD");
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "%s/kvmswitch", b && *b ? b : "build");
		if (!realpath(rel, path))
			ITEST_FAIL("cannot find the kvmswitch binary at %s (run make first)", rel);
	}
	return path;
}

static int connect_sock(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request, one reply line; NULL if the daemon does not answer. */
static char *request(const char *sock, const char *line, int timeout_ms)
{
	int fd = connect_sock(sock);
	if (fd < 0)
		return NULL;
	size_t n = strlen(line);
	if (write(fd, line, n) != (ssize_t)n || write(fd, "\n", 1) != 1) {
		close(fd);
		return NULL;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	int64_t deadline = itest_now_ms() + timeout_ms;
	while (buf) {
		char *nl = len ? memchr(buf, '\n', len) : NULL;
		if (nl) {
			*nl = '\0';
			close(fd);
			return buf;
		}
		int left = (int)(deadline - itest_now_ms());
		struct pollfd p = { fd, POLLIN, 0 };
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				break;
			buf = nb;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	free(buf);
	close(fd);
	return NULL;
}

static void ksd_cleanup(void *data)
{
	struct ksd *k = data;
	if (!k->stopped && tproc_running(k->proc))
		tproc_stop(k->proc, 5000);
	if (itest_case_failed())
		tproc_dump(k->proc);
	free(k->config);
	free(k->socket);
	free(k);
}

struct ksd *ksd_start_env(const char *config, const char *const env_add[])
{
	return ksd_start_as(config, env_add, NULL);
}

struct ksd *ksd_start_as(const char *config, const char *const env_add[], const char *const wrapper[])
{
	struct ksd *k = calloc(1, sizeof(*k));
	ITEST_ASSERT_NOT_NULL(k);
	k->config = itest_tmpfile("kvmswitch.conf");
	k->socket = itest_tmpfile("kvmswitch.sock");
	FILE *f = fopen(k->config, "w");
	ITEST_ASSERT_NOT_NULL(f);
	fputs(config ? config : KSD_MATCH_TEST_DEVICES, f);
	fclose(f);
	char sockenv[PATH_MAX + 32];
	snprintf(sockenv, sizeof(sockenv), "KVMSWITCH_SOCKET=%s", k->socket);
	const char *env[16] = { sockenv };
	size_t ne = 1;
	for (size_t i = 0; env_add && env_add[i] && ne < 15; i++)
		env[ne++] = env_add[i];
	env[ne] = NULL;
	const char *argv[24];
	size_t na = 0;
	for (size_t i = 0; wrapper && wrapper[i] && na < 16; i++)
		argv[na++] = wrapper[i];
	argv[na++] = ksd_binary();
	argv[na++] = "run";
	argv[na++] = "-v";
	argv[na++] = "-c";
	argv[na++] = k->config;
	argv[na] = NULL;
	k->proc = tproc_spawn(argv, env);
	itest_defer(ksd_cleanup, k);
	int64_t deadline = itest_now_ms() + KSD_START_TIMEOUT_MS;
	while (itest_now_ms() < deadline) {
		char *r = request(k->socket, "ping", 1000);
		if (r && strcmp(r, "ok pong") == 0) {
			free(r);
			return k;
		}
		free(r);
		if (!tproc_running(k->proc)) {
			tproc_dump(k->proc);
			ITEST_FAIL("kvmswitch exited during start-up (status %d)", tproc_wait(k->proc, 0));
		}
		usleep(20000);
	}
	tproc_dump(k->proc);
	ITEST_FAIL("kvmswitch did not answer on %s within %d ms", k->socket, KSD_START_TIMEOUT_MS);
}

struct ksd *ksd_start(const char *config)
{
	return ksd_start_as(config, NULL, NULL);
}

int ksd_stop(struct ksd *k)
{
	k->stopped = true;
	return tproc_stop(k->proc, 10000);
}

struct tproc *ksd_proc(struct ksd *k)
{
	return k->proc;
}

const char *ksd_socket(const struct ksd *k)
{
	return k->socket;
}

const char *ksd_config_path(const struct ksd *k)
{
	return k->config;
}

char *ksd_request(struct ksd *k, const char *line)
{
	char *r = request(k->socket, line, 10000);
	ITEST_ASSERT_MSG(r != NULL, "no reply from kvmswitch to '%s'", line);
	return r;
}

int ksd_cli_env(const char *const env_add[], char **out, char **err, const char *const args[])
{
	const char *argv[32] = { ksd_binary() };
	size_t n = 1;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	struct tproc *p = tproc_spawn(argv, env_add);
	int status = tproc_wait(p, 60000);
	ITEST_ASSERT_MSG(status >= 0, "kvmswitch %s did not finish", args[0]);
	if (out) {
		*out = itest_read_file(tproc_stdout_path(p), NULL);
		ITEST_ASSERT_NOT_NULL(*out);
	}
	if (err) {
		*err = itest_read_file(tproc_stderr_path(p), NULL);
		ITEST_ASSERT_NOT_NULL(*err);
	}
	return status;
}

int ksd_cli(struct ksd *k, char **out, const char *const args[])
{
	char sockenv[PATH_MAX + 32];
	snprintf(sockenv, sizeof(sockenv), "KVMSWITCH_SOCKET=%s", k->socket);
	const char *env[] = { sockenv, NULL };
	return ksd_cli_env(env, out, NULL, args);
}

/* The value after "key": in a JSON text, from `from` on. */
static const char *json_after(const char *from, const char *key)
{
	char pat[128];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(from, pat);
	return p ? p + strlen(pat) : NULL;
}

static char *status(struct ksd *k)
{
	char *r = ksd_request(k, "status");
	ITEST_ASSERT_MSG(strncmp(r, "ok {", 4) == 0, "bad status reply: %.200s", r);
	return r;
}

char *ksd_active(struct ksd *k)
{
	char *s = status(k);
	const char *v = json_after(s, "active");
	ITEST_ASSERT_MSG(v && *v == '"', "no active target in status: %.300s", s);
	const char *end = strchr(v + 1, '"');
	char *name = strndup(v + 1, (size_t)(end - v - 1));
	free(s);
	return name;
}

void ksd_switch(struct ksd *k, const char *target)
{
	char line[128], want[128];
	snprintf(line, sizeof(line), "switch %s", target);
	snprintf(want, sizeof(want), "ok %s", target);
	char *r = ksd_request(k, line);
	ITEST_ASSERT_STR_EQ(r, want);
	free(r);
}

/* The status object of input `node`, or NULL. */
static const char *input_obj(const char *s, const char *node)
{
	char pat[160];
	snprintf(pat, sizeof(pat), "{\"node\":\"%s\"", node);
	return strstr(s, pat);
}

bool ksd_wait_input(struct ksd *k, const char *node, bool grabbed, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	do {
		char *s = status(k);
		const char *o = input_obj(s, node);
		const char *g = o ? json_after(o, "grabbed") : NULL;
		bool ok = g && strncmp(g, grabbed ? "true" : "false", grabbed ? 4 : 5) == 0;
		free(s);
		if (ok)
			return true;
		usleep(20000);
	} while (itest_now_ms() < deadline);
	return false;
}

bool ksd_wait_input_gone(struct ksd *k, const char *node, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	do {
		char *s = status(k);
		bool gone = input_obj(s, node) == NULL;
		free(s);
		if (gone)
			return true;
		usleep(20000);
	} while (itest_now_ms() < deadline);
	return false;
}

int ksd_held(struct ksd *k, const char *target)
{
	char *s = status(k), pat[96];
	snprintf(pat, sizeof(pat), "{\"name\":\"%s\"", target);
	const char *o = strstr(s, pat);
	const char *h = o ? json_after(o, "held") : NULL;
	ITEST_ASSERT_MSG(h != NULL, "no target %s in status: %.300s", target, s);
	int n = atoi(h);
	free(s);
	return n;
}

long long ksd_counter(struct ksd *k, const char *name)
{
	char *s = status(k);
	const char *c = json_after(s, "counters");
	const char *v = c ? json_after(c, name) : NULL;
	ITEST_ASSERT_MSG(v != NULL, "no counter %s in status", name);
	long long n = atoll(v);
	free(s);
	return n;
}

char *ksd_vdev_node(struct ksd *k, const char *target, const char *kind)
{
	char name[128];
	snprintf(name, sizeof(name), "kvmswitch %s %s", target, kind);
	char *node = treader_find_node(name, 10000);
	ITEST_ASSERT_MSG(node != NULL, "no device named '%s'", name);
	return node;
}

struct treader *ksd_open_vdev(struct ksd *k, const char *target, const char *kind)
{
	char *node = ksd_vdev_node(k, target, kind);
	struct treader *r = treader_open(node, false);
	free(node);
	if (strcmp(kind, "keyboard") == 0)
		treader_set_repeat(r, 60000, 60000);
	return r;
}
