#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level max_level = LOG_INFO;
static int with_time = -1;

/* stderr connected to the journal (systemd sets JOURNAL_STREAM=dev:ino). */
static int getenv_journal(void)
{
	return getenv("JOURNAL_STREAM") != NULL;
}

void log_init(enum log_level level)
{
	max_level = level;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = { "error", "warning", "info", "debug" };
	/* Under systemd the journal adds its own time stamp and takes <N> levels. */
	static const char *const sd[] = { "<3>", "<4>", "<6>", "<7>" };
	char buf[1024];
	size_t off = 0;
	va_list ap;

	if (level > max_level)
		return;
	if (with_time < 0)
		with_time = getenv_journal() ? 0 : 1;
	if (with_time) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		off = strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, ".%03ld kvmswitch %s: ",
					ts.tv_nsec / 1000000, prefix[level]);
	} else {
		off = (size_t)snprintf(buf, sizeof(buf), "%s%s: ", sd[level], prefix[level]);
	}
	va_start(ap, fmt);
	int n = vsnprintf(buf + off, sizeof(buf) - off, fmt, ap);
	va_end(ap);
	off = n < 0 ? off : off + (size_t)n;
	if (off >= sizeof(buf) - 1)
		off = sizeof(buf) - 2;
	buf[off++] = '\n';
	/* One write per line, so lines from concurrent writers do not mix. */
	ssize_t w = write(STDERR_FILENO, buf, off);
	(void)w;
}
