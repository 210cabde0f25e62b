/* The libvirt worker's insides, shared by its files and by no one else:
 *
 *   virt.c         the daemon's side (virt.h) and the mailbox between the two
 *                  threads: the newest wish one way, results the other
 *   virt_worker.c  the worker thread: libvirt's event loop, the "work" step,
 *                  reports of each domain's state
 *   virt_conn.c    connections to libvirt: (re)connecting with backoff,
 *                  close and lifecycle callbacks, the domains' states
 *   virt_attach.c  the devices: attach, detach, rollback, taking over what
 *                  an earlier run left attached, giving USB devices back,
 *                  attaching what is plugged in while its target is active
 *   virt_follow.c  follow = start: a domain that starts becomes active once
 *                  its QEMU holds the target's keyboard
 *   virt_hotplug.c libvirt-hotplug: kvmswitch's devices added to a running
 *                  domain's QEMU through libvirt's monitor passthrough
 *
 * The daemon's thread (v->...) and the worker (v->w) share only the mailbox
 * and the result queue, under v->lock; the daemon's side never calls
 * libvirt. */
#ifndef KVMSWITCH_VIRT_INTERNAL_H
#define KVMSWITCH_VIRT_INTERNAL_H

#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/virtxml.h"
#include "hostdevs.h"
#include "hotadd.h"
#include "monotime.h"
#include "virt.h"

#define MAX_ATTACHED 64
#define TEXT_MAX 600

enum dstate {
	DS_UNKNOWN,  /* not asked yet */
	DS_RUNNING,  /* running, paused or suspended: it has its devices */
	DS_STOPPED,  /* defined but shut off */
	DS_CRASHED,  /* crashed (its QEMU may still hold devices) */
	DS_MISSING,  /* no such domain */
	DS_NOCONN,   /* libvirt cannot be reached */
};

static inline bool dstate_gone(int s)
{
	return s == DS_STOPPED || s == DS_CRASHED || s == DS_MISSING;
}

/* A target as the worker sees it: a copy, the daemon may free its config. */
struct wtarget {
	char name[TARGET_NAME_MAX];
	enum target_type type;
	char *uri, *domain;
	struct usb_match *usb;
	size_t n_usb;
	struct pci_addr *pci;
	size_t n_pci;
	enum follow follow;
	bool libvirt_hotplug;
	char toggle[24]; /* the keyboard's grab toggle (virtxml_grab_toggle), "" */
};

/* Does the target move devices to its domain (a usb target, or an evdev
 * target with usb/pci devices)? */
static inline bool wtarget_moves(const struct wtarget *t)
{
	return t->domain && (t->n_usb || t->n_pci);
}

struct wcfg {
	uint64_t gen;
	size_t n;
	struct wtarget t[CONFIG_MAX_TARGETS];
};

/* The targets' virtual devices, by index in the newest configuration. */
struct wdevs {
	char node[CONFIG_MAX_TARGETS][VK_COUNT][HOTADD_NODE_MAX]; /* "": none */
	bool adopted[CONFIG_MAX_TARGETS][VK_COUNT];
	bool kept[CONFIG_MAX_TARGETS][VK_COUNT];
};

/* What the daemon wants now. */
struct wish {
	struct wcfg *cfg; /* a new configuration (the worker takes it), or NULL */
	int target;       /* the active target in the newest configuration, -1: none */
	bool attach;      /* a usb target's devices may be attached now */
	uint64_t seq;     /* the switch this belongs to */
	bool quit;
	struct wdevs devs;
	bool devs_new;    /* devs changed since the worker took it */
};

/* MSG_TOPUP: a device plugged in (or found missing) while the target is
 * active, attached or not (rc, text); never a reason to switch back.
 * MSG_FOLLOW: the target's domain started and holds its devices. */
enum msg_type { MSG_STATE, MSG_APPLIED, MSG_TOPUP, MSG_FOLLOW };

struct msg {
	enum msg_type type;
	uint64_t gen, seq;
	int target;
	int state, attached, rc;
	char text[TEXT_MAX];
	struct msg *next;
};

struct wconn {
	struct virt *v;
	char *uri;
	virConnectPtr conn;
	int lifecycle_id;
	bool closed;    /* the close callback came: reconnect */
	bool resync;    /* a lifecycle event came: ask the domains' states */
	int backoff_ms;
	uint64_t retry_at;
	char error[TEXT_MAX];
};

struct attachment {
	char target[TARGET_NAME_MAX];
	struct wconn *c;
	char domain[256];
	bool pci;
	struct usb_dev usb;
	char serial[128];
	char sysname[64]; /* USB: the device's sysfs name, to rebind its drivers */
	struct pci_addr addr;
	char xml[512];
	char what[96]; /* "USB device 0627:0001 (bus 1 device 2)", for messages */
	bool unplugged; /* gone from the host: detach what is left of it */
};

struct worker {
	struct wcfg *cfg;
	int target;
	bool attach;
	uint64_t seq, applied_seq;
	bool quit, finished;
	struct wconn conn[CONFIG_MAX_TARGETS];
	size_t n_conn;
	struct attachment att[MAX_ATTACHED];
	size_t n_att;
	int state[CONFIG_MAX_TARGETS];
	char state_text[CONFIG_MAX_TARGETS][TEXT_MAX];
	int sent_state[CONFIG_MAX_TARGETS], sent_attached[CONFIG_MAX_TARGETS];
	char sent_text[CONFIG_MAX_TARGETS][TEXT_MAX];
	int work_timer, rebind_timer;
	char rebind[MAX_ATTACHED][64];
	size_t n_rebind;
	struct hostdevs_monitor *usb_mon; /* USB devices plugged in and out */
	bool topup; /* attach what the active target lists and lacks (plugged in) */
	struct wdevs devs;
	/* follow = start: until when to wait for the domain's QEMU to hold the
	 * target's keyboard (0: not waiting). */
	uint64_t follow_until[CONFIG_MAX_TARGETS];
	/* libvirt-hotplug: per target name, what its domain's QEMU was given. */
	struct hotplug {
		bool used;
		char target[TARGET_NAME_MAX];
		char domain[256];
		struct wconn *c;
		int domid;     /* the run it was given to (virDomainGetID), -1 */
		struct hotadd obj[VK_COUNT];
		bool want[VK_COUNT];
	} hp[CONFIG_MAX_TARGETS * 2];
	bool hp_dirty; /* a domain changed state, devices or configuration: look */
};

struct virt {
	/* The daemon's side. */
	const struct config *cfg;
	struct virt_hooks h;
	uint64_t gen;
	int active, previous;
	bool waiting;   /* the active usb target's attach waits for the ungrab */
	bool attaching; /* ... or for its result */
	uint64_t seq, ticket;
	struct {
		int state, attached;
		char text[TEXT_MAX];
		char error[TEXT_MAX]; /* why a device could not be attached, "" */
	} st[CONFIG_MAX_TARGETS];
	char refusal[TEXT_MAX + 64];

	/* Shared, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wish wish;
	bool wish_new;
	struct msg *head, **tail;
	bool done;

	int to_worker, to_main; /* eventfds */
	pthread_t thread;
	bool started;

	struct worker w; /* the worker's own */
};

/* ---- virt.c: configuration snapshots and the worker's end of the mailbox */

void wcfg_free(struct wcfg *c);
/* The newest wish, if one came since the last call (and clears to_worker):
 * true, and *out is it; the worker then owns out->cfg (NULL: the
 * configuration did not change). */
bool mailbox_take_wish(struct virt *v, struct wish *out);
/* Queues m (heap, the daemon frees it) for virt_dispatch. */
void mailbox_post(struct virt *v, struct msg *m);
/* The worker has let go of every libvirt object: virt_destroy may join. */
void mailbox_worker_done(struct virt *v);

/* ---- virt_worker.c */

void *worker_main(void *v);
/* Runs the work step soon, from libvirt's event loop. */
void worker_kick(struct virt *v);
void worker_set_state(struct worker *w, int t, int s, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- virt_conn.c */

/* libvirt's last error on this thread: its message, its code. */
const char *conn_last_error(void);
int conn_last_code(void);
/* The connection to uri, (re)connecting if allowed now. NULL with c->error
 * set if libvirt cannot be reached (a retry is scheduled). */
struct wconn *conn_get(struct virt *v, const char *uri);
struct wconn *conn_find(struct worker *w, const char *uri);
bool conn_usable(const struct wconn *c);
void conn_drop(struct wconn *c);
/* A domain by name, or by UUID. */
virDomainPtr conn_lookup(virConnectPtr conn, const char *domain);
/* libvirt's domain state as a dstate. */
int conn_map_state(int s);
/* Asks libvirt for the state of every target's domain on connection c. */
void conn_sync_states(struct virt *v, struct wconn *c);

/* ---- virt_follow.c */

/* A lifecycle event said domain dom started on connection c. */
void follow_started(struct virt *v, struct wconn *c, virDomainPtr dom);
/* Posts MSG_FOLLOW for domains whose QEMU now holds their target's
 * keyboard; returns when to look again (UINT64_MAX: nothing waits). */
uint64_t follow_check(struct virt *v);

/* ---- virt_hotplug.c */

/* Brings every libvirt-hotplug target's domain to having the target's
 * devices (and deletes them where no target wants them any more; at quit,
 * those that die with kvmswitch). */
void hotplug_reconcile(struct virt *v);

/* ---- virt_attach.c */

/* After (re)connecting: forgets what is no longer attached through c, and
 * takes over what our targets list and is attached live. */
void attach_sync(struct virt *v, struct wconn *c);
/* Forgets what was attached to a domain whose QEMU is gone. */
void attach_drop_domain(struct virt *v, struct wconn *c, const char *domain);
/* Detaches what the active target does not want, then attaches what it
 * does (once per switch), posting the result. */
void attach_reconcile(struct virt *v);
/* Gives the USB devices that left a domain their host drivers back. */
void attach_rebind(struct worker *w);
/* A USB device was plugged in (added) or unplugged: attach it if the
 * active target wants it, forget (and detach) what it was. */
void attach_hotplug(struct virt *v, const struct hostdev_event *ev);

#endif
