/* Event lists without timestamps: formatting and comparison with a diff. */
#include <errno.h>
#include <libevdev/libevdev.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "itest.h"

const char *itest_ev_format(const struct itest_ev *ev, char *buf, size_t size)
{
	const char *type = libevdev_event_type_get_name(ev->type);
	const char *code = libevdev_event_code_get_name(ev->type, ev->code);
	char tbuf[16], cbuf[16];
	if (!type) {
		snprintf(tbuf, sizeof(tbuf), "type%u", ev->type);
		type = tbuf;
	}
	if (!code) {
		snprintf(cbuf, sizeof(cbuf), "code%u", ev->code);
		code = cbuf;
	}
	snprintf(buf, size, "%s %s %d", type, code, ev->value);
	return buf;
}

void itest_ev_assert_equal_at(const char *file, int line, const struct itest_ev *want,
			      size_t n_want, const struct itest_ev *got, size_t n_got,
			      const char *what)
{
	size_t first_diff = SIZE_MAX;
	size_t n = n_want > n_got ? n_want : n_got;
	for (size_t i = 0; i < n; i++) {
		if (i >= n_want || i >= n_got || want[i].type != got[i].type ||
		    want[i].code != got[i].code || want[i].value != got[i].value) {
			first_diff = i;
			break;
		}
	}
	if (first_diff == SIZE_MAX) {
		itest_count_assertion();
		return;
	}
	itest_log("%s: events differ at #%zu (want | got, '!' marks a difference):", what,
		  first_diff);
	for (size_t i = 0; i < n; i++) {
		char a[64] = "-", b[64] = "-";
		if (i < n_want)
			itest_ev_format(&want[i], a, sizeof(a));
		if (i < n_got)
			itest_ev_format(&got[i], b, sizeof(b));
		bool same = i < n_want && i < n_got && strcmp(a, b) == 0;
		itest_log("%c %-32s | %s", same ? ' ' : '!', a, b);
	}
	char a[64] = "nothing", b[64] = "nothing";
	if (first_diff < n_want)
		itest_ev_format(&want[first_diff], a, sizeof(a));
	if (first_diff < n_got)
		itest_ev_format(&got[first_diff], b, sizeof(b));
	itest_fail_at(file, line, "%s: event #%zu: want %s, got %s (%zu wanted, %zu got)", what,
		      first_diff, a, b, n_want, n_got);
}

void itest_write_frame(int fd, const char *what, const struct itest_ev *evs, size_t n)
{
	struct input_event buf[64];
	if (n + 1 > sizeof(buf) / sizeof(buf[0]))
		ITEST_FAIL("%s: %zu events in one frame is too many", what, n);
	memset(buf, 0, sizeof(buf));
	for (size_t i = 0; i < n; i++) {
		buf[i].type = evs[i].type;
		buf[i].code = evs[i].code;
		buf[i].value = evs[i].value;
	}
	buf[n].type = EV_SYN;
	buf[n].code = SYN_REPORT;
	size_t size = (n + 1) * sizeof(buf[0]);
	ssize_t w;
	do
		w = write(fd, buf, size);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		ITEST_FAIL("write to %s: %s", what, strerror(errno));
	if ((size_t)w != size)
		ITEST_FAIL("short write to %s: %zd of %zu bytes", what, w, size);
}
