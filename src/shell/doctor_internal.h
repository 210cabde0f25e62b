/* What the files of kvmswitch doctor share: the findings, and what the
 * checks learn for the checks after them. Private to doctor*.c. */
#ifndef KVMSWITCH_DOCTOR_INTERNAL_H
#define KVMSWITCH_DOCTOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/config.h"

enum doctor_status {
	DOCTOR_OK,
	DOCTOR_WARN,
	DOCTOR_FAIL,
};

/* One finding: a status, what was found, what to do about it (NULL for
 * nothing), and lines below it (the nodes of one physical device). */
struct finding {
	enum doctor_status status;
	char *check;
	char *message;
	char *fix;
	char **detail;
	size_t n_detail;
};

/* How a guest reads a target's devices. */
enum guest_path {
	PATH_UNKNOWN,
	PATH_INPUT_LINUX,       /* QEMU input-linux, libvirt <input type='evdev'> */
	PATH_VIRTIO_INPUT_HOST, /* virtio-input-host, libvirt <input type='passthrough'> */
};

#define DOCTOR_MAX_HOLDERS 8

/* A process that has a guest device open. */
struct holder {
	pid_t pid;
	char comm[32];
	enum guest_path path; /* what its command line says, if it says */
};

/* A VM target's virtual device ("kvmswitch NAME KIND", phys kvmswitch/vm). */
struct guest_dev {
	char target[TARGET_NAME_MAX];
	char kind[16];
	char node[64];
	char link[128]; /* /dev/input/by-id/kvmswitch-NAME-KIND, "" without the rules */
	dev_t rdev;
	bool rules_applied; /* LIBINPUT_IGNORE_DEVICE=1 */
	struct holder holder[DOCTOR_MAX_HOLDERS];
	size_t n_holder;
	/* The libvirt domain whose XML names it, and how. */
	char domain[128];
	enum guest_path domain_path;
};

#define DOCTOR_MAX_GUESTS (CONFIG_MAX_TARGETS * 3)

struct doctor {
	const struct config *cfg;
	struct finding *f;
	size_t n_f, cap_f;
	bool daemon_answers;
	struct guest_dev guest[DOCTOR_MAX_GUESTS];
	size_t n_guest;
	unsigned hidden_procs; /* processes whose fds this user may not look into */
};

/* Adds a finding; fix may be NULL (printf-style message). */
void doctor_add(struct doctor *d, enum doctor_status st, const char *check, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Adds a line below the last finding. */
void doctor_detail(struct doctor *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* doctor_devices.c: kvmswitch's guest devices (who may read them, who
 * holds them) and the physical devices (what each path loses). */
void doctor_find_guests(struct doctor *d);
void doctor_check_guests(struct doctor *d);
void doctor_check_inputs(struct doctor *d);

/* doctor_libvirt.c: which libvirt domains name the guest devices. */
void doctor_check_libvirt(struct doctor *d);

/* The path a target's guest uses: what its QEMU's command line or its
 * domain's XML says, else the target's libvirt-input. */
enum guest_path doctor_target_path(const struct doctor *d, const struct target_conf *t);

#endif
