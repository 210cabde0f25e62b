/* `kvmswitch remote` (remote.c): a switch command to a kvmswitch listener
 * over the network, e.g. from inside a guest. */
#ifndef KVMSWITCH_REMOTE_H
#define KVMSWITCH_REMOTE_H

/* `kvmswitch remote [--secret-file F] ADDRESS COMMAND [ARG]`: argv[0] is
 * "remote". Returns the exit status (client.h's EXIT_*). */
int remote_run(int argc, char **argv);

extern const char remote_help[];

#endif
