/* A growable byte buffer: the JSON writer's output, a connection's queue of
 * replies. Pure. The bytes are always followed by a NUL (not counted), so a
 * buffer of text is a C string. */
#ifndef KVMSWITCH_CORE_BUF_H
#define KVMSWITCH_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data; /* NULL until something is appended */
	size_t len, cap;
	bool failed; /* an append ran out of memory (what it held is kept) */
};

void buf_init(struct buf *b);
void buf_finish(struct buf *b); /* frees the bytes */

/* Appends n bytes. Returns 0, or -1 (and sets failed) out of memory. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends printf-formatted text. Returns 0, or -1 (and sets failed). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

#endif
