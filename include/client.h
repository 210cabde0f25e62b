/* The CLI side of the control socket, and `kvmswitch remote`. */
#ifndef KVMSWITCH_CLIENT_H
#define KVMSWITCH_CLIENT_H

#include <stdbool.h>

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

/* `kvmswitch stats [--watch]`: the daemon's hop figures and scheduling
 * (stats.c), once or every second until the daemon goes away. */
int client_stats(const char *socket_path, bool watch);

/* `kvmswitch remote [--secret-file F] ADDRESS COMMAND [ARG]`: argv[0] is
 * "remote". Returns the exit status. */
int client_remote(int argc, char **argv);

extern const char client_remote_help[];

#endif
