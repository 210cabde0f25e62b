/* Reading a peer's lines on the client side (kvmswitch's CLI to the
 * control socket, `kvmswitch remote` to a listener): one line at a time,
 * with a timeout, from a buffer that grows. */
#ifndef KVMSWITCH_LINEREAD_H
#define KVMSWITCH_LINEREAD_H

#include <stddef.h>

struct lineread {
	char *buf;
	size_t len, cap;
};

/* The next line (its newline replaced by '\0', in lr->buf), or NULL when the
 * peer closed, timeout_ms passed (< 0: no timeout) or memory ran out. The
 * line stays until lineread_consume. */
char *lineread_line(struct lineread *lr, int fd, int timeout_ms);

/* Drops the line lineread_line returned. */
void lineread_consume(struct lineread *lr);

void lineread_free(struct lineread *lr);

#endif
