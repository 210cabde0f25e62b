/* ksd: a kvmswitch daemon under test. Starts build/kvmswitch run with a
 * config written to the case's tmpdir and a private control socket, and
 * talks to it over the socket or through the CLI. */
#ifndef KVMSWITCH_KSD_H
#define KVMSWITCH_KSD_H

#include <stdbool.h>

#include "itest.h"

/* Only the test devices: a test never grabs the machine's real keyboard. */
#define KSD_MATCH_TEST_DEVICES "[input]\nmatch = name:\"" ITEST_DEVICE_PREFIX "*\"\n"

struct ksd;

/* The kvmswitch binary: $KVMSWITCH_BUILD/kvmswitch, else ./build/kvmswitch. */
const char *ksd_binary(void);

/* Starts the daemon with `config` (NULL: KSD_MATCH_TEST_DEVICES alone) and
 * waits until its socket answers. Stopped when the case ends. */
struct ksd *ksd_start(const char *config);
/* Same, with more environment ("KEY=VALUE", NULL-terminated). */
struct ksd *ksd_start_env(const char *config, const char *const env_add[]);
/* Same, run through a wrapper command (e.g. setpriv ... ) given as argv. */
struct ksd *ksd_start_as(const char *config, const char *const env_add[], const char *const wrapper[]);
/* SIGTERM and wait; returns the exit status. */
int ksd_stop(struct ksd *k);
struct tproc *ksd_proc(struct ksd *k);
const char *ksd_socket(const struct ksd *k);
const char *ksd_config_path(const struct ksd *k);

/* Sends one request line, returns the reply line (malloc'd). */
char *ksd_request(struct ksd *k, const char *line);
/* Runs `kvmswitch ARGS...` against this daemon; returns its exit status and
 * (if out) its stdout, malloc'd. */
int ksd_cli(struct ksd *k, char **out, const char *const args[]);
#define KSD_CLI(k_, out_, ...) ksd_cli((k_), (out_), (const char *const[]){__VA_ARGS__, NULL})
/* Runs `kvmswitch ARGS...` with the environment plus env_add ("KEY=VALUE",
 * NULL-terminated; may be NULL), no daemon of its own; returns its exit
 * status, and its stdout and stderr (malloc'd) where out and err are given. */
int ksd_cli_env(const char *const env_add[], char **out, char **err, const char *const args[]);

/* The active target's name (malloc'd), from status. */
char *ksd_active(struct ksd *k);
/* Switches through the socket and asserts the reply names `target`. */
void ksd_switch(struct ksd *k, const char *target);
/* Waits until status shows `node` taken and grabbed (or not): true if so. */
bool ksd_wait_input(struct ksd *k, const char *node, bool grabbed, int timeout_ms);
/* Waits until status no longer lists `node`. */
bool ksd_wait_input_gone(struct ksd *k, const char *node, int timeout_ms);
/* Keys held on a target, from status. */
int ksd_held(struct ksd *k, const char *target);
/* A counter from status ("syn_dropped", ...). */
long long ksd_counter(struct ksd *k, const char *name);
/* The node of "kvmswitch TARGET KIND" (malloc'd), waiting for it. */
char *ksd_vdev_node(struct ksd *k, const char *target, const char *kind);
/* Opens "kvmswitch TARGET KIND" for reading (not grabbed); a keyboard gets
 * autorepeat out of the way (treader_set_repeat 60000/60000). */
struct treader *ksd_open_vdev(struct ksd *k, const char *target, const char *kind);

#endif
