/* The CLI side of the control socket (`kvmswitch remote` is remote.h's). */
#ifndef KVMSWITCH_CLIENT_H
#define KVMSWITCH_CLIENT_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/proto.h"

/* Exit statuses scripts can rely on (kvmswitch(1), EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,     /* the daemon answered "error ..." (or check found errors) */
	EXIT_USAGE = 2,       /* bad command line (or an unusable secret file) */
	EXIT_NO_DAEMON = 3,   /* no daemon answers on the socket / at the address */
};

/* Sends one request and prints the reply (JSON raw with `json`, else as
 * text). For subscribe, prints events until the daemon goes away. */
int client_request(const char *socket_path, const struct proto_request *req, bool json);

/* One request, nothing printed: EXIT_OK with the text of the "ok" reply
 * in *text (malloc'd), EXIT_REFUSED with the daemon's "error" text (or
 * NULL), EXIT_NO_DAEMON with errno set (ENOENT, ECONNREFUSED, EACCES: no
 * connection; ETIMEDOUT: no reply) and a message in err. */
int client_fetch(const char *socket_path, const struct proto_request *req, char **text, char *err, size_t errlen);

/* The daemon's target names, one a line, appended to names. Returns
 * EXIT_OK or what client_fetch returned. */
int client_targets(const char *socket_path, struct buf *names);

/* `kvmswitch stats [--watch]`: the daemon's hop figures and scheduling
 * (stats.c), once or every second until the daemon goes away. */
int client_stats(const char *socket_path, bool watch);

#endif
