/* The runner: case registration, main(), one forked child per case with a
 * timeout, result lines, assertions, deferred cleanup and the case tmpdir. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define REASON_MAX 1024

static struct itest_case *cases;
static size_t n_cases;

/* State of the running case, in its child. */
static struct {
	const struct itest_case *c;
	int status_fd;
	const char *tmpdir;
	unsigned long assertions;
	char result; /* 0: none yet, 'F' failed, 'S' skipped */
	char reason[REASON_MAX];
	struct {
		void (*fn)(void *);
		void *data;
	} *cleanups;
	size_t n_cleanups, cap_cleanups;
	bool in_cleanup;
	jmp_buf cleanup_jmp;
} cur = {.status_fd = -1};

void itest_register(struct itest_case *c)
{
	c->next = cases;
	cases = c;
	n_cases++;
}

int64_t itest_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void itest_log(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One "# " per line so nothing can look like a result line. */
	for (char *line = buf, *nl; line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		fprintf(stderr, "# %s\n", line);
	}
}

const char *itest_tmpdir(void)
{
	if (!cur.tmpdir)
		ITEST_FAIL("itest_tmpdir() called outside a case");
	return cur.tmpdir;
}

char *itest_tmpfile(const char *name)
{
	char *path;
	if (asprintf(&path, "%s/%s", itest_tmpdir(), name) < 0)
		ITEST_FAIL("out of memory");
	return path;
}

char *itest_tmpfile_with(const char *name, const char *text, mode_t mode)
{
	char *path = itest_tmpfile(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ITEST_ASSERT_SYSCALL(fd);
	ITEST_ASSERT_SYSCALL(fchmod(fd, mode));
	ITEST_ASSERT_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	return path;
}

char *itest_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		if (cap - n < 2) {
			char *nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nbuf;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			free(buf);
			close(fd);
			errno = err;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!buf) {
		errno = ENOMEM;
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

bool itest_binary_has_asan(const char *path)
{
	size_t len = 0;
	char *bin = itest_read_file(path, &len);
	ITEST_ASSERT_MSG(bin != NULL, "cannot read %s", path);
	bool asan = memmem(bin, len, "__asan_init", 11) != NULL;
	free(bin);
	return asan;
}

bool itest_case_failed(void)
{
	return cur.result == 'F';
}

void itest_count_assertion(void)
{
	cur.assertions++;
}

void itest_defer(void (*fn)(void *), void *data)
{
	if (cur.n_cleanups == cur.cap_cleanups) {
		size_t cap = cur.cap_cleanups ? cur.cap_cleanups * 2 : 16;
		void *n = realloc(cur.cleanups, cap * sizeof(*cur.cleanups));
		if (!n)
			ITEST_FAIL("out of memory");
		cur.cleanups = n;
		cur.cap_cleanups = cap;
	}
	cur.cleanups[cur.n_cleanups].fn = fn;
	cur.cleanups[cur.n_cleanups].data = data;
	cur.n_cleanups++;
}

static void run_cleanups(void)
{
	cur.in_cleanup = true;
	while (cur.n_cleanups > 0) {
		cur.n_cleanups--;
		if (setjmp(cur.cleanup_jmp) == 0)
			cur.cleanups[cur.n_cleanups].fn(cur.cleanups[cur.n_cleanups].data);
	}
	cur.in_cleanup = false;
}

/* Reports the result to the parent and ends the child. */
__attribute__((noreturn)) static void case_finish(void)
{
	run_cleanups();
	if (!cur.result && cur.assertions == 0) {
		cur.result = 'F';
		snprintf(cur.reason, sizeof(cur.reason), "%s:%d: the case checked no assertion",
			 cur.c->file, cur.c->line);
	}
	char msg[REASON_MAX + 2];
	int len = snprintf(msg, sizeof(msg), "%c%s", cur.result ? cur.result : 'P', cur.reason);
	if (len > (int)sizeof(msg) - 1)
		len = (int)sizeof(msg) - 1;
	fflush(stdout);
	fflush(stderr);
	if (write(cur.status_fd, msg, (size_t)len) < 0)
		_exit(3);
	_exit(cur.result == 'F' ? 1 : 0);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void end_case(char result, const char *reason)
{
	if (!cur.c) {
		fprintf(stderr, "itest: %s outside a case: %s\n", result == 'F' ? "failure" : "skip",
			reason);
		exit(1);
	}
	if (cur.in_cleanup) {
		itest_log("during cleanup: %s", reason);
		if (!cur.result) {
			cur.result = result;
			copy_str(cur.reason, sizeof(cur.reason), reason);
		}
		longjmp(cur.cleanup_jmp, 1);
	}
	cur.result = result;
	copy_str(cur.reason, sizeof(cur.reason), reason);
	case_finish();
}

void itest_fail_at(const char *file, int line, const char *fmt, ...)
{
	char msg[REASON_MAX], reason[REASON_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(reason, sizeof(reason), "%s:%d: %s", file, line, msg);
	end_case('F', reason);
	abort(); /* not reached */
}

void itest_skip(const char *fmt, ...)
{
	char reason[REASON_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	end_case('S', reason);
	abort(); /* not reached */
}

void itest_assert_str_at(const char *file, int line, const char *ea, const char *eb,
			 const char *a, const char *b, bool want_equal)
{
	bool equal = (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
	if (equal != want_equal)
		itest_fail_at(file, line, "assertion failed: %s %s %s (\"%s\" %s \"%s\")", ea,
			      want_equal ? "==" : "!=", eb, a ? a : "(null)",
			      want_equal ? "!=" : "==", b ? b : "(null)");
	itest_count_assertion();
}

void itest_assert_contains_at(const char *file, int line, const char *eh, const char *en,
			      const char *haystack, const char *needle)
{
	if (!haystack || !needle || !strstr(haystack, needle)) {
		if (haystack && strlen(haystack) > 200)
			itest_log("%s is:\n%s", eh, haystack);
		itest_fail_at(file, line, "assertion failed: %s contains %s (\"%.200s\" lacks \"%s\")",
			      eh, en, haystack ? haystack : "(null)", needle ? needle : "(null)");
	}
	itest_count_assertion();
}

void itest_assert_syscall_at(const char *file, int line, const char *expr, long long rc, int err)
{
	if (rc < 0)
		itest_fail_at(file, line, "%s returned %lld: %s", expr, rc, strerror(err));
	itest_count_assertion();
}

/* ---- the parent side ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* After a failure: the tail of what spawned processes printed. */
static int dump_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_F || st->st_size == 0)
		return 0;
	if (!has_suffix(path, ".stdout") && !has_suffix(path, ".stderr"))
		return 0;
	char mark[4200];
	snprintf(mark, sizeof(mark), "%s.shown", path);
	if (access(mark, F_OK) == 0)
		return 0; /* tproc_dump showed it already */
	char *text = itest_read_file(path, NULL);
	if (!text)
		return 0;
	const char *start = text + strlen(text);
	for (int lines = 0; start > text && lines <= 25; start--)
		if (start[-1] == '\n')
			lines++;
	if (*start == '\n')
		start++; /* stopped on the newline before the first line shown */
	fprintf(stderr, "# --- %s%s:\n", path, start > text ? " (last lines)" : "");
	for (char *line = (char *)start, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		fprintf(stderr, "#   %s\n", line);
	}
	free(text);
	return 0;
}

static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

static double timeout_factor(void)
{
	const char *f = getenv("ITEST_TIMEOUT_FACTOR");
	double v = f ? strtod(f, NULL) : 1.0;
	return v > 0 ? v : 1.0;
}

/* Runs one case; returns 'P', 'F' or 'S'. */
static char run_case(const struct itest_case *c)
{
	const char *base = getenv("TMPDIR");
	char tmpdir[4096];
	/* Short enough for unix socket paths inside it. */
	snprintf(tmpdir, sizeof(tmpdir), "%s/itest-%.24s-XXXXXX", base && *base ? base : "/tmp",
		 c->name);
	if (!mkdtemp(tmpdir)) {
		printf("not ok %s - cannot create a tmpdir %s: %s\n", c->name, tmpdir,
		       strerror(errno));
		fflush(stdout);
		return 'F';
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		printf("not ok %s - pipe: %s\n", c->name, strerror(errno));
		fflush(stdout);
		return 'F';
	}
	int timeout_s = c->timeout_s > 0 ? c->timeout_s : ITEST_DEFAULT_TIMEOUT_S;
	int64_t timeout_ms = (int64_t)(timeout_s * 1000 * timeout_factor());

	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		printf("not ok %s - fork: %s\n", c->name, strerror(errno));
		fflush(stdout);
		return 'F';
	}
	if (pid == 0) {
		setpgid(0, 0);
		close(fds[0]);
		cur.c = c;
		cur.status_fd = fds[1];
		cur.tmpdir = tmpdir;
		c->fn();
		case_finish();
	}
	setpgid(pid, pid);
	close(fds[1]);

	char msg[REASON_MAX + 2] = "";
	size_t len = 0;
	bool timed_out = false;
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - itest_now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int r = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(fds[0], msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(msg) - 1)
			break;
	}
	msg[len] = '\0';
	close(fds[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL); /* anything the case left in its process group */

	char result;
	char reason[REASON_MAX + 64] = "";
	if (timed_out) {
		result = 'F';
		snprintf(reason, sizeof(reason), "timed out after %.1fs", timeout_ms / 1000.0);
	} else if (len > 0 && (msg[0] == 'P' || msg[0] == 'F' || msg[0] == 'S')) {
		result = msg[0];
		snprintf(reason, sizeof(reason), "%s", msg + 1);
	} else if (WIFSIGNALED(status)) {
		result = 'F';
		snprintf(reason, sizeof(reason), "crashed: killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else {
		result = 'F';
		snprintf(reason, sizeof(reason), "exited with status %d without a result",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	one_line(reason);

	if (result == 'F')
		nftw(tmpdir, dump_entry, 16, FTW_PHYS);
	const char *keep = getenv("ITEST_KEEP_TMP");
	if (keep && strcmp(keep, "1") == 0)
		fprintf(stderr, "# kept %s\n", tmpdir);
	else
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	if (result == 'P')
		printf("ok %s\n", c->name);
	else if (result == 'S')
		printf("ok %s # SKIP %s\n", c->name, reason);
	else
		printf("not ok %s - %s\n", c->name, reason);
	fflush(stdout);
	return result;
}

static int case_cmp(const void *a, const void *b)
{
	const struct itest_case *ca = *(const struct itest_case *const *)a;
	const struct itest_case *cb = *(const struct itest_case *const *)b;
	int r = strcmp(ca->file, cb->file);
	return r ? r : ca->line - cb->line;
}

/* A case runs if it matches any positive pattern (or there is none) and no
 * "!pattern". */
static bool selected(const char *name, int npat, char **pat)
{
	bool any_positive = false, match = false;
	for (int i = 0; i < npat; i++) {
		if (pat[i][0] == '!') {
			if (fnmatch(pat[i] + 1, name, 0) == 0)
				return false;
		} else {
			any_positive = true;
			if (fnmatch(pat[i], name, 0) == 0)
				match = true;
		}
	}
	return !any_positive || match;
}

static void usage(const char *prog, FILE *f)
{
	fprintf(f,
		"usage: %s [--list] [PATTERN...]\n"
		"Runs the test cases whose names match a glob PATTERN (all if none);\n"
		"a PATTERN starting with '!' excludes. Prints one line per case:\n"
		"  ok NAME | not ok NAME - REASON | ok NAME # SKIP REASON\n"
		"Environment: ITEST_TIMEOUT_FACTOR=N scales timeouts, ITEST_KEEP_TMP=1 keeps\n"
		"each case's tmpdir, TMPDIR sets where they go.\n",
		prog);
}

int main(int argc, char **argv)
{
	bool list = false;
	int npat = 0;
	char **pat = calloc((size_t)argc + 1, sizeof(*pat));
	if (!pat)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--list") == 0) {
			list = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(argv[0], stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			usage(argv[0], stderr);
			return 2;
		} else {
			pat[npat++] = argv[i];
		}
	}
	struct itest_case **sorted = calloc(n_cases ? n_cases : 1, sizeof(*sorted));
	if (!sorted)
		return 1;
	size_t n = 0;
	for (struct itest_case *c = cases; c; c = c->next)
		sorted[n++] = c;
	qsort(sorted, n, sizeof(*sorted), case_cmp);

	signal(SIGPIPE, SIG_IGN);
	unsigned passed = 0, failed = 0, skipped = 0;
	for (size_t i = 0; i < n; i++) {
		if (!selected(sorted[i]->name, npat, pat))
			continue;
		if (list) {
			printf("%s\n", sorted[i]->name);
			continue;
		}
		switch (run_case(sorted[i])) {
		case 'P': passed++; break;
		case 'S': skipped++; break;
		default: failed++; break;
		}
	}
	if (!list)
		fprintf(stderr, "# %s: %u passed, %u failed, %u skipped\n", argv[0], passed, failed,
			skipped);
	free(sorted);
	free(pat);
	return failed ? 1 : 0;
}

bool itest_in_vm(void)
{
	const char *v = getenv("KVMSWITCH_IN_VM");
	return v && strcmp(v, "1") == 0;
}

const char *itest_src_dir(void)
{
	static char dir[PATH_MAX];
	if (dir[0])
		return dir;
	const char *b = getenv("KVMSWITCH_BUILD");
	char build[PATH_MAX], parent[PATH_MAX] = "";
	if (realpath(b && *b ? b : "build", build))
		snprintf(parent, sizeof(parent), "%s", dirname(build));
	const char *cands[] = { getenv("KVMSWITCH_SRC"), ".", parent };
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char probe[PATH_MAX + 64];
		if (!cands[i] || !*cands[i])
			continue;
		snprintf(probe, sizeof(probe), "%s/tests/lib/itest.h", cands[i]);
		if (access(probe, R_OK) == 0 && realpath(cands[i], dir))
			return dir;
	}
	ITEST_FAIL("cannot find the source tree (tests/lib/itest.h); set KVMSWITCH_SRC");
}
