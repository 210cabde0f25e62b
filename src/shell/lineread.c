/* A client's line reader (lineread.h). */
#include "lineread.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *lineread_line(struct lineread *lr, int fd, int timeout_ms)
{
	for (;;) {
		char *nl = lr->len ? memchr(lr->buf, '\n', lr->len) : NULL;
		if (nl) {
			*nl = '\0';
			return lr->buf;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		int rc = poll(&p, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return NULL;
		if (lr->len + 4096 > lr->cap) {
			size_t ncap = lr->cap ? lr->cap * 2 : 8192;
			char *nb = realloc(lr->buf, ncap);
			if (!nb)
				return NULL;
			lr->buf = nb;
			lr->cap = ncap;
		}
		ssize_t r = read(fd, lr->buf + lr->len, lr->cap - lr->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		lr->len += (size_t)r;
	}
}

void lineread_consume(struct lineread *lr)
{
	size_t n = strlen(lr->buf) + 1;
	memmove(lr->buf, lr->buf + n, lr->len - n);
	lr->len -= n;
}

void lineread_free(struct lineread *lr)
{
	free(lr->buf);
	*lr = (struct lineread){ 0 };
}
