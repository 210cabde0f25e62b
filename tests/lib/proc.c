/* Child processes of a case: spawn with output captured in the tmpdir, wait
 * with a timeout, signal the process group, stop at the end of the case. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "itest.h"

struct tproc {
	pid_t pid;
	bool reaped;
	int status; /* as tproc_wait returns */
	char *name;
	char *out, *err;
};

static unsigned spawn_count;

static void child_exec(const char *const argv[], const char *const env_add[], const char *out,
		       const char *err, pid_t parent, int errfd)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int in = open("/dev/null", O_RDONLY);
	int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
		goto fail;
	for (size_t i = 0; env_add && env_add[i]; i++)
		if (putenv((char *)env_add[i]) != 0)
			goto fail;
	execvp(argv[0], (char *const *)argv);
fail:;
	int err_no = errno;
	if (write(errfd, &err_no, sizeof(err_no)) < 0)
		_exit(127);
	_exit(127);
}

static void cleanup(void *data)
{
	struct tproc *p = data;
	if (!p->reaped) {
		tproc_kill(p, SIGKILL);
		tproc_wait(p, 10000);
	}
	free(p->name);
	free(p->out);
	free(p->err);
	free(p);
}

struct tproc *tproc_spawn(const char *const argv[], const char *const env_add[])
{
	struct tproc *p = calloc(1, sizeof(*p));
	if (!p)
		ITEST_FAIL("out of memory");
	char *a0 = strdup(argv[0]);
	p->name = strdup(basename(a0));
	free(a0);
	unsigned n = ++spawn_count;
	if (asprintf(&p->out, "%s/%s.%u.stdout", itest_tmpdir(), p->name, n) < 0 ||
	    asprintf(&p->err, "%s/%s.%u.stderr", itest_tmpdir(), p->name, n) < 0)
		ITEST_FAIL("out of memory");
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		ITEST_FAIL("pipe2: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		ITEST_FAIL("fork: %s", strerror(errno));
	if (pid == 0)
		child_exec(argv, env_add, p->out, p->err, parent, fds[1]);
	setpgid(pid, pid);
	close(fds[1]);
	p->pid = pid;
	itest_defer(cleanup, p);
	int err_no = 0;
	ssize_t r;
	do
		r = read(fds[0], &err_no, sizeof(err_no));
	while (r < 0 && errno == EINTR);
	close(fds[0]);
	if (r == (ssize_t)sizeof(err_no)) {
		tproc_wait(p, 5000);
		ITEST_FAIL("cannot run %s: %s", argv[0], strerror(err_no));
	}
	return p;
}

static int decode(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

int tproc_wait(struct tproc *p, int timeout_ms)
{
	if (p->reaped)
		return p->status;
	int64_t deadline = itest_now_ms() + timeout_ms;
	int pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	for (;;) {
		int status;
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ITEST_FAIL("waitpid %d (%s): %s", p->pid, p->name, strerror(errno));
		if (r == p->pid) {
			p->reaped = true;
			p->status = decode(status);
			break;
		}
		int left = itest_ms_left(deadline);
		if (left == 0)
			break;
		if (pidfd >= 0) {
			struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
			poll(&pfd, 1, left);
		} else {
			usleep(10000); /* no pidfd: poll the exit every 10 ms */
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return p->reaped ? p->status : -1;
}

int tproc_run(const char *const argv[], const char *const env_add[], char **out, char **err, int timeout_ms)
{
	struct tproc *p = tproc_spawn(argv, env_add);
	int status = tproc_wait(p, timeout_ms);
	if (status < 0) {
		tproc_dump(p);
		ITEST_FAIL("%s did not finish within %d ms", argv[0], timeout_ms);
	}
	if (out)
		*out = itest_read_file(tproc_stdout_path(p), NULL);
	if (err)
		*err = itest_read_file(tproc_stderr_path(p), NULL);
	if ((out && !*out) || (err && !*err))
		ITEST_FAIL("cannot read the output of %s", argv[0]);
	return status;
}

void tproc_kill(struct tproc *p, int sig)
{
	if (!p->reaped)
		kill(-p->pid, sig);
}

int tproc_stop(struct tproc *p, int timeout_ms)
{
	if (p->reaped)
		return p->status;
	tproc_kill(p, SIGTERM);
	int rc = tproc_wait(p, timeout_ms);
	if (rc < 0) {
		itest_log("%s (pid %d) ignored SIGTERM for %d ms; killing it", p->name, p->pid,
			  timeout_ms);
		tproc_kill(p, SIGKILL);
		rc = tproc_wait(p, 10000);
	}
	return rc;
}

bool tproc_running(struct tproc *p)
{
	return tproc_wait(p, 0) < 0;
}

pid_t tproc_pid(const struct tproc *p) { return p->pid; }
const char *tproc_stdout_path(const struct tproc *p) { return p->out; }
const char *tproc_stderr_path(const struct tproc *p) { return p->err; }

static void dump_file(const char *label, const char *path)
{
	/* Tell the runner this one was shown (it shows the others on failure). */
	char *mark;
	if (asprintf(&mark, "%s.shown", path) >= 0) {
		int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
		free(mark);
	}
	char *text = itest_read_file(path, NULL);
	if (!text || !*text) {
		itest_log("%s: (empty)", label);
		free(text);
		return;
	}
	size_t len = strlen(text);
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	const char *start = text + len;
	for (int lines = 0; start > text && lines < 30; start--)
		if (start[-1] == '\n')
			lines++;
	if (*start == '\n')
		start++; /* stopped on the newline before the first line shown */
	itest_log("%s%s:\n%s", label, start > text ? " (last lines)" : "", start);
	free(text);
}

void tproc_dump(const struct tproc *p)
{
	char label[256];
	snprintf(label, sizeof(label), "%s (pid %d) stdout", p->name, p->pid);
	dump_file(label, p->out);
	snprintf(label, sizeof(label), "%s (pid %d) stderr", p->name, p->pid);
	dump_file(label, p->err);
}

int tproc_fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	ITEST_ASSERT_MSG(d != NULL, "cannot list %s: %s", path, strerror(errno));
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}
