/* `kvmswitch run`: the event loop that wires the router to the devices. */
#ifndef KVMSWITCH_DAEMON_H
#define KVMSWITCH_DAEMON_H

struct daemon_options {
	const char *config_path; /* -c FILE, or NULL to search */
	const char *socket_path; /* NULL: ctl_default_path */
};

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int daemon_run(const struct daemon_options *opt);

#endif
