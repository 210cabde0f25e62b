#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

struct hook {
	char *target;  /* whose hook */
	const char *which; /* "on-enter" / "on-leave" */
	char *command;
	char *active, *previous, *reason;
};

struct hooks {
	int epfd;
	uint64_t timeout_ms;
	/* The running hook. */
	struct hook run;
	pid_t pid;          /* 0: none running */
	int out;            /* its stdout/stderr pipe, or -1 */
	uint64_t deadline;
	int kill_stage;     /* 0 none, 1 SIGTERM sent, 2 SIGKILL sent */
	size_t logged;      /* output bytes so far */
	size_t line_len;
	char line[HOOKS_LINE_MAX + 1];
	/* Waiting their turn. */
	struct hook queue[HOOKS_QUEUE_MAX];
	size_t q_head, q_len;
	unsigned long runs, failures;
};

static void hook_free(struct hook *k)
{
	free(k->target);
	free(k->command);
	free(k->active);
	free(k->previous);
	free(k->reason);
	memset(k, 0, sizeof(*k));
}

struct hooks *hooks_create(void)
{
	struct hooks *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->out = -1;
	h->timeout_ms = HOOKS_TIMEOUT_MS;
	const char *t = getenv("KVMSWITCH_HOOK_TIMEOUT");
	if (t && *t) {
		char *end;
		long s = strtol(t, &end, 10);
		if (*end == '\0' && s > 0 && s <= 24 * 3600)
			h->timeout_ms = (uint64_t)s * 1000;
		else
			log_warn("ignoring KVMSWITCH_HOOK_TIMEOUT='%s' (expected seconds, 1..86400)", t);
	}
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		free(h);
		return NULL;
	}
	return h;
}

int hooks_fd(const struct hooks *h)
{
	return h->epfd;
}

unsigned long hooks_runs(const struct hooks *h)
{
	return h->runs;
}

unsigned long hooks_failures(const struct hooks *h)
{
	return h->failures;
}

/* ---- output ---- */

static void flush_line(struct hooks *h)
{
	if (!h->line_len)
		return;
	h->line[h->line_len] = '\0';
	log_info("hook %s of '%s': %s", h->run.which, h->run.target, h->line);
	h->line_len = 0;
}

static void take_output(struct hooks *h, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (h->logged >= HOOKS_OUTPUT_MAX) {
			if (h->logged == HOOKS_OUTPUT_MAX) {
				flush_line(h);
				log_info("hook %s of '%s': (more output not logged)", h->run.which, h->run.target);
				h->logged++;
			}
			return;
		}
		h->logged++;
		unsigned char c = (unsigned char)buf[i];
		if (c == '\n') {
			flush_line(h);
			continue;
		}
		if (h->line_len < HOOKS_LINE_MAX)
			h->line[h->line_len++] = c == '\t' || (c >= 0x20 && c != 0x7f) ? (char)c : '?';
	}
}

/* Reads what the pipe has. Closes it at EOF or when `final` (the hook is
 * gone; a background child of it may hold the pipe forever). */
static void read_output(struct hooks *h, bool final)
{
	char buf[4096];
	if (h->out < 0)
		return;
	for (int i = 0; i < 64; i++) {
		ssize_t r = read(h->out, buf, sizeof(buf));
		if (r > 0) {
			take_output(h, buf, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN && !final)
			return;
		break; /* EOF, error, or final and drained */
	}
	if (!final)
		return; /* more than 256 KiB at once: the rest next time */
	flush_line(h);
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->out, NULL);
	close(h->out);
	h->out = -1;
}

void hooks_dispatch(struct hooks *h, uint64_t now_ms)
{
	struct epoll_event ev[4];
	int n = epoll_wait(h->epfd, ev, 4, 0);
	if (n <= 0 || h->out < 0)
		return;
	char buf[4096];
	ssize_t r = read(h->out, buf, sizeof(buf));
	if (r > 0) {
		take_output(h, buf, (size_t)r);
	} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
		/* EOF: the hook (and whatever it started) closed its output. */
		flush_line(h);
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->out, NULL);
		close(h->out);
		h->out = -1;
	}
}

/* ---- running ---- */

/* The daemon's environment without our variables, plus them. */
static char **make_env(const struct hook *k)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + 5, sizeof(*env));
	if (!env)
		return NULL;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strncmp(environ[i], "KVMSWITCH_TARGET=", 17) || !strncmp(environ[i], "KVMSWITCH_PREVIOUS=", 19) ||
		    !strncmp(environ[i], "KVMSWITCH_REASON=", 17) || !strncmp(environ[i], "KVMSWITCH_HOOK=", 15))
			continue;
		env[m++] = environ[i];
	}
	char *own[4] = { NULL };
	if (asprintf(&own[0], "KVMSWITCH_TARGET=%s", k->active) < 0 ||
	    asprintf(&own[1], "KVMSWITCH_PREVIOUS=%s", k->previous) < 0 ||
	    asprintf(&own[2], "KVMSWITCH_REASON=%s", k->reason) < 0 ||
	    asprintf(&own[3], "KVMSWITCH_HOOK=%s", k->which) < 0) {
		for (int i = 0; i < 4; i++)
			free(own[i]);
		free(env);
		return NULL;
	}
	for (int i = 0; i < 4; i++)
		env[m++] = own[i];
	env[m] = NULL;
	return env;
}

static void free_env(char **env)
{
	if (!env)
		return;
	/* Ours are the last four. */
	size_t n = 0;
	while (env[n])
		n++;
	for (size_t i = n >= 4 ? n - 4 : 0; i < n; i++)
		free(env[i]);
	free(env);
}

static int spawn(struct hooks *h, const struct hook *k, pid_t *pid, int *out)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	char **env = make_env(k);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
	/* Its own process group, so a timeout reaches whatever it started; the
	 * daemon's blocked signals and ignored SIGPIPE are not its business. */
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	char *argv[] = { "/bin/sh", "-c", k->command, NULL };
	int rc = env ? posix_spawn(pid, "/bin/sh", &fa, &at, argv, env) : ENOMEM;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free_env(env);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return -rc;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN };
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, p[0], &ev) < 0)
		log_warn("hook %s of '%s': its output will not be logged: %s", k->which, k->target, strerror(errno));
	*out = p[0];
	return 0;
}

/* Starts queued hooks until one runs or the queue is empty. */
static void start_next(struct hooks *h, uint64_t now)
{
	while (!h->pid && h->q_len) {
		h->run = h->queue[h->q_head];
		memset(&h->queue[h->q_head], 0, sizeof(h->queue[0]));
		h->q_head = (h->q_head + 1) % HOOKS_QUEUE_MAX;
		h->q_len--;
		h->runs++;
		pid_t pid;
		int out = -1;
		int rc = spawn(h, &h->run, &pid, &out);
		if (rc < 0) {
			h->failures++;
			log_warn("hook %s of target '%s' cannot start: %s (command: %s)", h->run.which, h->run.target,
				 strerror(-rc), h->run.command);
			hook_free(&h->run);
			continue;
		}
		log_debug("hook %s of target '%s' started (pid %d): %s", h->run.which, h->run.target, (int)pid,
			  h->run.command);
		h->pid = pid;
		h->out = out;
		h->deadline = now + h->timeout_ms;
		h->kill_stage = 0;
		h->logged = 0;
		h->line_len = 0;
	}
}

static void finished(struct hooks *h, int status, uint64_t now)
{
	struct hook *k = &h->run;
	read_output(h, true);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_debug("hook %s of target '%s' done", k->which, k->target);
	} else {
		h->failures++;
		if (WIFEXITED(status))
			log_warn("hook %s of target '%s' failed: exit status %d%s (command: %s)", k->which, k->target,
				 WEXITSTATUS(status),
				 WEXITSTATUS(status) == 127 ? ", command not found" :
				 WEXITSTATUS(status) == 126 ? ", cannot execute" : "",
				 k->command);
		else
			log_warn("hook %s of target '%s' failed: killed by signal %d (%s)%s (command: %s)", k->which,
				 k->target, WTERMSIG(status), strsignal(WTERMSIG(status)),
				 h->kill_stage ? " after its timeout" : "", k->command);
	}
	hook_free(k);
	h->pid = 0;
	start_next(h, now);
}

void hooks_reap(struct hooks *h, uint64_t now_ms)
{
	while (h->pid) {
		int status;
		pid_t r = waitpid(h->pid, &status, WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR))
			return;
		if (r < 0) {
			/* Not ours any more (someone reaped it): do not wait forever. */
			log_warn("hook %s of target '%s': lost track of pid %d: %s", h->run.which, h->run.target,
				 (int)h->pid, strerror(errno));
			read_output(h, true);
			hook_free(&h->run);
			h->pid = 0;
			start_next(h, now_ms);
			continue;
		}
		finished(h, status, now_ms);
	}
}

void hooks_tick(struct hooks *h, uint64_t now_ms)
{
	if (!h->pid || now_ms < h->deadline)
		return;
	if (h->kill_stage == 0) {
		log_warn("hook %s of target '%s' still running after %llu s: stopping it (command: %s)", h->run.which,
			 h->run.target, (unsigned long long)(h->timeout_ms / 1000), h->run.command);
		kill(-h->pid, SIGTERM);
		h->kill_stage = 1;
		h->deadline = now_ms + HOOKS_KILL_GRACE_MS;
	} else {
		kill(-h->pid, SIGKILL);
		h->kill_stage = 2;
		h->deadline = UINT64_MAX; /* the kernel will not refuse a SIGKILL */
	}
}

uint64_t hooks_next_deadline(const struct hooks *h)
{
	return h->pid ? h->deadline : UINT64_MAX;
}

static void enqueue(struct hooks *h, const char *target, const char *which, const char *command,
		    const char *active, const char *previous, const char *reason)
{
	if (h->q_len == HOOKS_QUEUE_MAX) {
		struct hook *old = &h->queue[h->q_head];
		log_warn("too many hooks waiting: dropping %s of target '%s'", old->which, old->target);
		hook_free(old);
		h->q_head = (h->q_head + 1) % HOOKS_QUEUE_MAX;
		h->q_len--;
		h->failures++;
	}
	struct hook *k = &h->queue[(h->q_head + h->q_len) % HOOKS_QUEUE_MAX];
	k->which = which;
	k->target = strdup(target);
	k->command = strdup(command);
	k->active = strdup(active);
	k->previous = strdup(previous);
	k->reason = strdup(reason);
	if (!k->target || !k->command || !k->active || !k->previous || !k->reason) {
		log_warn("hook %s of target '%s' not run: out of memory", which, target);
		hook_free(k);
		return;
	}
	h->q_len++;
}

void hooks_switched(struct hooks *h, const struct config *cfg, int from, int to, const char *reason,
		    uint64_t now_ms)
{
	const struct target_conf *f = from >= 0 && (size_t)from < cfg->n_target ? &cfg->target[from] : NULL;
	const struct target_conf *t = &cfg->target[to];
	const char *prev = f ? f->name : "";
	if (f && f->on_leave)
		enqueue(h, f->name, "on-leave", f->on_leave, t->name, prev, reason);
	if (t->on_enter)
		enqueue(h, t->name, "on-enter", t->on_enter, t->name, prev, reason);
	start_next(h, now_ms);
}

void hooks_destroy(struct hooks *h)
{
	if (!h)
		return;
	if (h->pid) {
		log_info("stopping hook %s of target '%s' (the daemon exits)", h->run.which, h->run.target);
		kill(-h->pid, SIGTERM);
		read_output(h, true);
		hook_free(&h->run);
	}
	if (h->out >= 0)
		close(h->out);
	for (size_t i = 0; i < HOOKS_QUEUE_MAX; i++)
		hook_free(&h->queue[i]);
	close(h->epfd);
	free(h);
}
