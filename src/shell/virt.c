/* libvirt for the daemon, on a worker thread (see virt.h).
 *
 * The daemon's thread (v->...) and the worker (v->w, worker_* functions)
 * share only the mailbox and the result queue, under v->lock. The daemon's
 * side never calls libvirt. The worker runs libvirt's default event loop:
 * an eventfd from the daemon, lifecycle events, close callbacks and retry
 * timers all end in one "work" step that brings libvirt to what the daemon
 * last asked for (declarative: the newest wish wins, so a quick series of
 * switches collapses into its end state).
 *
 * The worker tracks every device it attached (or found attached live from
 * an earlier run), so that switching away, a failed attach (rolled back)
 * and exiting detach exactly those. */
#include "virt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <limits.h>
#include <linux/input.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "conffile.h"
#include "core/virtxml.h"
#include "log.h"

#define MAX_ATTACHED 64
#define MAX_FOUND 32
#define TEXT_MAX 600
#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000
#define REBIND_DELAY_MS 3000
#define USB_SYSFS "/sys/bus/usb/devices"
#define PCI_SYSFS "/sys/bus/pci/devices"

enum dstate {
	DS_UNKNOWN,  /* not asked yet */
	DS_RUNNING,  /* running, paused or suspended: it has its devices */
	DS_STOPPED,  /* defined but shut off */
	DS_CRASHED,  /* crashed (its QEMU may still hold devices) */
	DS_MISSING,  /* no such domain */
	DS_NOCONN,   /* libvirt cannot be reached */
};

static const char *const dstate_names[] = { "unknown", "running", "shut off", "crashed", "not found", "no connection" };

static bool dstate_gone(int s)
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
};

struct wcfg {
	uint64_t gen;
	size_t n;
	struct wtarget t[CONFIG_MAX_TARGETS];
};

/* What the daemon wants now. */
struct wish {
	struct wcfg *cfg; /* a new configuration (the worker takes it), or NULL */
	int target;       /* the active target in the newest configuration, -1: none */
	bool attach;      /* a usb target's devices may be attached now */
	uint64_t seq;     /* the switch this belongs to */
	bool quit;
};

enum msg_type { MSG_STATE, MSG_APPLIED };

struct msg {
	enum msg_type type;
	uint64_t gen, seq;
	int target;
	int state, attached, rc;
	char text[TEXT_MAX];
	struct msg *next;
};

struct virt;

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

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t w = write(fd, &one, sizeof(one));
	(void)w;
}

static void drain_fd(int fd)
{
	uint64_t n;
	ssize_t r = read(fd, &n, sizeof(n));
	(void)r;
}

/* ---- configuration snapshots ---- */

static void wcfg_free(struct wcfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->t[i].uri);
		free(c->t[i].domain);
		free(c->t[i].usb);
		free(c->t[i].pci);
	}
	free(c);
}

static struct wcfg *wcfg_copy(const struct config *cfg, uint64_t gen)
{
	struct wcfg *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->gen = gen;
	c->n = cfg->n_target;
	for (size_t i = 0; i < cfg->n_target; i++) {
		const struct target_conf *s = &cfg->target[i];
		struct wtarget *d = &c->t[i];
		snprintf(d->name, sizeof(d->name), "%s", s->name);
		d->type = s->type;
		if (s->domain) {
			d->domain = strdup(s->domain);
			d->uri = strdup(s->uri ? s->uri : CONFIG_DEFAULT_URI);
			if (!d->domain || !d->uri)
				goto fail;
		}
		if (s->n_usb) {
			if (!(d->usb = calloc(s->n_usb, sizeof(*d->usb))))
				goto fail;
			memcpy(d->usb, s->usb, s->n_usb * sizeof(*d->usb));
			d->n_usb = s->n_usb;
		}
		if (s->n_pci) {
			if (!(d->pci = calloc(s->n_pci, sizeof(*d->pci))))
				goto fail;
			memcpy(d->pci, s->pci, s->n_pci * sizeof(*d->pci));
			d->n_pci = s->n_pci;
		}
	}
	return c;
fail:
	wcfg_free(c);
	return NULL;
}

/* ---- the daemon's side ---- */

static void post_wish(struct virt *v, struct wcfg *cfg, bool attach, bool quit)
{
	pthread_mutex_lock(&v->lock);
	if (cfg) {
		wcfg_free(v->wish.cfg);
		v->wish.cfg = cfg;
	}
	v->wish.target = v->active;
	v->wish.attach = attach;
	v->wish.seq = v->seq;
	v->wish.quit = quit;
	v->wish_new = true;
	pthread_mutex_unlock(&v->lock);
	signal_fd(v->to_worker);
}

static bool needs_libvirt(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_target; i++)
		if (cfg->target[i].domain)
			return true;
	return false;
}

static void *worker_main(void *arg);

static int start_worker(struct virt *v)
{
	sigset_t all, old;
	sigfillset(&all);
	/* The worker takes no signal: the daemon's signalfd gets them all. */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&v->thread, NULL, worker_main, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	v->started = true;
	return 0;
}

struct virt *virt_create(const struct config *cfg, const struct virt_hooks *h)
{
	struct virt *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->cfg = cfg;
	v->h = *h;
	v->active = v->previous = -1;
	v->gen = 1;
	v->tail = &v->head;
	v->to_worker = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	v->to_main = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	struct wcfg *snap = wcfg_copy(cfg, v->gen);
	if (v->to_worker < 0 || v->to_main < 0 || !snap) {
		int e = errno ? errno : ENOMEM;
		wcfg_free(snap);
		if (v->to_worker >= 0)
			close(v->to_worker);
		if (v->to_main >= 0)
			close(v->to_main);
		free(v);
		errno = e;
		return NULL;
	}
	v->wish.cfg = snap;
	v->wish.target = -1;
	v->wish_new = true;
	/* Without any domain in the configuration libvirt stays unloaded until
	 * a reload brings one. */
	if (needs_libvirt(cfg)) {
		int rc = start_worker(v);
		if (rc < 0) {
			wcfg_free(snap);
			close(v->to_worker);
			close(v->to_main);
			free(v);
			errno = -rc;
			return NULL;
		}
	}
	return v;
}

void virt_destroy(struct virt *v, int timeout_ms)
{
	if (!v)
		return;
	bool joined = true;
	if (v->started) {
		v->active = -1;
		post_wish(v, NULL, false, true);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&v->lock);
		while (!v->done)
			if (pthread_cond_timedwait(&v->cond, &v->lock, &ts) == ETIMEDOUT)
				break;
		joined = v->done;
		pthread_mutex_unlock(&v->lock);
		if (joined) {
			pthread_join(v->thread, NULL);
		} else {
			log_warn("libvirt did not finish within %d ms: devices of usb targets may still be attached "
				 "to their domains (virsh detach-device gives them back)",
				 timeout_ms);
			pthread_detach(v->thread);
		}
	}
	if (!joined)
		return; /* the worker still uses v; the process is exiting */
	for (struct msg *m = v->head, *n; m; m = n) {
		n = m->next;
		free(m);
	}
	wcfg_free(v->wish.cfg);
	close(v->to_worker);
	close(v->to_main);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	free(v);
}

int virt_fd(const struct virt *v)
{
	return v->to_main;
}

void virt_dispatch(struct virt *v)
{
	drain_fd(v->to_main);
	pthread_mutex_lock(&v->lock);
	struct msg *list = v->head;
	v->head = NULL;
	v->tail = &v->head;
	pthread_mutex_unlock(&v->lock);
	for (struct msg *m = list, *next; m; m = next) {
		next = m->next;
		if (m->type == MSG_STATE && m->gen == v->gen && m->target >= 0 && (size_t)m->target < v->cfg->n_target) {
			int t = m->target;
			v->st[t].state = m->state;
			v->st[t].attached = m->attached;
			snprintf(v->st[t].text, sizeof(v->st[t].text), "%s", m->text);
			if (t == v->active && dstate_gone(m->state) && v->h.domain_gone) {
				/* A switch still waiting for its attach fails with the reason. */
				uint64_t ticket = v->ticket;
				v->ticket = 0;
				v->h.domain_gone(v->h.data, t, m->text);
				if (ticket && v->h.answer)
					v->h.answer(v->h.data, ticket, -EHOSTDOWN, m->text);
			}
		} else if (m->type == MSG_APPLIED && m->seq == v->seq) {
			uint64_t ticket = v->ticket;
			v->ticket = 0;
			v->attaching = false;
			if (m->rc < 0 && m->target == v->active && v->h.attach_failed)
				v->h.attach_failed(v->h.data, m->target, v->previous, m->text);
			if (ticket && v->h.answer)
				v->h.answer(v->h.data, ticket, m->rc, m->rc < 0 ? m->text : NULL);
		}
		free(m);
	}
}

void virt_tick(struct virt *v)
{
	if (!v->waiting)
		return;
	if (v->h.holding && v->h.holding(v->h.data, v->active))
		return;
	v->waiting = false;
	post_wish(v, NULL, true, false);
}

int virt_prepare(struct virt *v, int from, int to)
{
	if (to < 0 || (size_t)to >= v->cfg->n_target)
		return 0;
	const struct target_conf *tc = &v->cfg->target[to];
	if (!tc->domain)
		return 0;
	int s = v->st[to].state;
	if (dstate_gone(s) || (s == DS_NOCONN && tc->type == TARGET_USB)) {
		snprintf(v->refusal, sizeof(v->refusal), "%s", v->st[to].text);
		return s == DS_NOCONN ? -ENOTCONN : -EHOSTDOWN;
	}
	return 0;
}

const char *virt_refusal(const struct virt *v)
{
	return v->refusal[0] ? v->refusal : NULL;
}

/* The switch that waited for its attach did not end in it being active. */
static void supersede_ticket(struct virt *v, const char *why)
{
	if (!v->ticket)
		return;
	uint64_t t = v->ticket;
	v->ticket = 0;
	if (v->h.answer)
		v->h.answer(v->h.data, t, -ECANCELED, why);
}

void virt_switched(struct virt *v, int from, int to)
{
	supersede_ticket(v, "another switch came before its devices were attached");
	v->seq++;
	v->previous = from;
	v->active = to;
	bool usb = to >= 0 && (size_t)to < v->cfg->n_target && v->cfg->target[to].type == TARGET_USB;
	v->waiting = v->attaching = usb;
	if (!v->started)
		return; /* nothing of libvirt in this configuration */
	post_wish(v, NULL, false, false);
	if (usb)
		virt_tick(v);
}

bool virt_attaching(const struct virt *v)
{
	return v->attaching && v->started;
}

void virt_set_ticket(struct virt *v, uint64_t ticket)
{
	supersede_ticket(v, "another switch came before its devices were attached");
	v->ticket = ticket;
}

void virt_reconfigure(struct virt *v, const struct config *cfg, const int *map)
{
	supersede_ticket(v, "the configuration was reloaded before its devices were attached");
	v->active = v->active >= 0 ? map[v->active] : -1;
	v->previous = v->previous >= 0 ? map[v->previous] : -1;
	v->cfg = cfg;
	v->gen++;
	memset(v->st, 0, sizeof(v->st));
	v->refusal[0] = '\0';
	v->seq++;
	bool usb = v->active >= 0 && cfg->target[v->active].type == TARGET_USB;
	v->waiting = v->attaching = usb;
	if (!v->started && needs_libvirt(cfg) && start_worker(v) < 0)
		log_error("cannot start the libvirt worker thread: %s", strerror(errno));
	struct wcfg *snap = wcfg_copy(cfg, v->gen);
	if (!snap) {
		log_error("libvirt: out of memory; keeping the previous configuration for libvirt");
		return;
	}
	post_wish(v, snap, false, false);
	if (usb)
		virt_tick(v);
}

void virt_status_json(const struct virt *v, int target, struct json *j)
{
	const struct target_conf *tc = &v->cfg->target[target];
	if (!tc->domain)
		return;
	json_key(j, "domain");
	json_object_begin(j);
	json_key(j, "name");
	json_string(j, tc->domain);
	json_key(j, "uri");
	json_string(j, tc->uri ? tc->uri : CONFIG_DEFAULT_URI);
	json_key(j, "state");
	json_string(j, dstate_names[v->st[target].state]);
	if (v->st[target].text[0]) {
		json_key(j, "reason");
		json_string(j, v->st[target].text);
	}
	if (tc->type == TARGET_USB) {
		json_key(j, "attached");
		json_uint(j, (uint64_t)v->st[target].attached);
	}
	json_object_end(j);
}

bool virt_moves(const struct config *cfg, int target, const struct device_desc *desc, const char *syspath)
{
	if (target < 0 || (size_t)target >= cfg->n_target)
		return false;
	const struct target_conf *tc = &cfg->target[target];
	if (tc->type != TARGET_USB)
		return false;
	for (size_t i = 0; i < tc->n_usb; i++)
		if (desc->bustype == BUS_USB && desc->vendor == tc->usb[i].vendor && desc->product == tc->usb[i].product)
			return true;
	for (size_t i = 0; i < tc->n_pci && syspath; i++) {
		char a[32], pat[40];
		virtxml_pci_format(&tc->pci[i], a, sizeof(a));
		snprintf(pat, sizeof(pat), "/%s/", a);
		if (strstr(syspath, pat))
			return true;
	}
	return false;
}

/* ---- the worker: sysfs ---- */

static int read_attr(const char *dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

struct found {
	struct usb_dev dev;
	char sysname[64];
	char serial[128];
};

/* The USB devices on the host that match m, with their address now. */
static size_t usb_scan(const struct usb_match *m, struct found *out, size_t max)
{
	DIR *dir = opendir(USB_SYSFS);
	if (!dir)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) && n < max) {
		if (e->d_name[0] == '.' || strchr(e->d_name, ':') || strlen(e->d_name) >= sizeof(out->sysname))
			continue; /* interfaces are "1-1:1.0" */
		char dpath[PATH_MAX], buf[160];
		snprintf(dpath, sizeof(dpath), USB_SYSFS "/%s", e->d_name);
		unsigned long vid, pid, bus, devnum;
		if (read_attr(dpath, "idVendor", buf, sizeof(buf)) < 0 || (vid = strtoul(buf, NULL, 16)) != m->vendor)
			continue;
		if (read_attr(dpath, "idProduct", buf, sizeof(buf)) < 0 || (pid = strtoul(buf, NULL, 16)) != m->product)
			continue;
		if (read_attr(dpath, "busnum", buf, sizeof(buf)) < 0 || (bus = strtoul(buf, NULL, 10)) == 0)
			continue;
		if (read_attr(dpath, "devnum", buf, sizeof(buf)) < 0 || (devnum = strtoul(buf, NULL, 10)) == 0)
			continue;
		char serial[128] = "";
		if (read_attr(dpath, "serial", serial, sizeof(serial)) < 0)
			serial[0] = '\0';
		if (m->serial[0] && strcmp(m->serial, serial) != 0)
			continue;
		struct found *f = &out[n++];
		f->dev = (struct usb_dev){ (uint16_t)vid, (uint16_t)pid, (unsigned)bus, (unsigned)devnum };
		memcpy(f->sysname, e->d_name, strlen(e->d_name) + 1);
		snprintf(f->serial, sizeof(f->serial), "%s", serial);
	}
	closedir(dir);
	return n;
}

/* Binds a driver to every interface of USB device `sysname` that has none
 * (normally QEMU gives them back to usbhid itself). Returns how many it
 * asked the kernel to probe. */
static int usb_rebind(const char *sysname)
{
	char dpath[PATH_MAX];
	snprintf(dpath, sizeof(dpath), USB_SYSFS "/%s", sysname);
	DIR *dir = opendir(dpath);
	if (!dir)
		return 0; /* unplugged meanwhile */
	int n = 0;
	size_t len = strlen(sysname);
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (strncmp(e->d_name, sysname, len) != 0 || e->d_name[len] != ':')
			continue;
		char drv[300];
		snprintf(drv, sizeof(drv), "%.250s/driver", e->d_name);
		if (faccessat(dirfd(dir), drv, F_OK, 0) == 0)
			continue;
		int fd = open("/sys/bus/usb/drivers_probe", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, e->d_name, strlen(e->d_name)) < 0)
			log_warn("USB interface %s has no driver and cannot be probed: %s (as root: echo %s > "
				 "/sys/bus/usb/drivers_probe)",
				 e->d_name, strerror(errno), e->d_name);
		else
			n++;
		if (fd >= 0)
			close(fd);
	}
	closedir(dir);
	return n;
}

/* Explains the IOMMU side of a PCI device: empty if nothing stands out. */
static void iommu_hint(const struct pci_addr *a, char *out, size_t len)
{
	char addr[32], path[PATH_MAX], link[PATH_MAX];
	virtxml_pci_format(a, addr, sizeof(addr));
	out[0] = '\0';
	snprintf(path, sizeof(path), PCI_SYSFS "/%s/iommu_group", addr);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(out, len,
			 " PCI device %s is in no IOMMU group: the IOMMU is off. Enable VT-d (Intel) or AMD-Vi/IOMMU "
			 "(AMD) in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on iommu=pt; "
			 "see docs/libvirt.md.",
			 addr);
		return;
	}
	link[n] = '\0';
	const char *slash = strrchr(link, '/');
	char group[32];
	snprintf(group, sizeof(group), "%.20s", slash ? slash + 1 : link);
	snprintf(path, sizeof(path), PCI_SYSFS "/%s/iommu_group/devices", addr);
	DIR *dir = opendir(path);
	if (!dir)
		return;
	char others[300] = "";
	size_t off = 0, count = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, addr) == 0)
			continue;
		count++;
		if (off < sizeof(others) - 40)
			off += (size_t)snprintf(others + off, sizeof(others) - off, "%s%s", off ? ", " : "", e->d_name);
	}
	closedir(dir);
	if (count)
		snprintf(out, len,
			 " IOMMU group %s also holds %s: a device can only go to a guest with its whole group "
			 "(every one bound to vfio-pci). Pick a USB controller alone in its group (see "
			 "docs/libvirt.md), or move the card to another slot.",
			 group, others);
}

/* ---- the worker: libvirt ---- */

static void quiet_errors(void *data, virErrorPtr err)
{
	(void)data;
	(void)err; /* the caller reads and explains the error */
}

static const char *last_error(void)
{
	const char *m = virGetLastErrorMessage();
	return m ? m : "unknown error";
}

static int last_code(void)
{
	virErrorPtr e = virGetLastError();
	return e ? e->code : VIR_ERR_OK;
}

static void explain_connect(const char *uri, char *out, size_t len)
{
	const char *m = last_error();
	if (strstr(m, "Permission denied") || strstr(m, "authentication") || strstr(m, "authorization") ||
	    strstr(m, "polkit") || strstr(m, "not authorized") || strstr(m, "access denied"))
		snprintf(out, len,
			 "cannot connect to %s: %s. This user may not manage libvirt's system domains: add it to "
			 "the 'libvirt' group (usermod -aG libvirt USER, then log in again; polkit grants that group "
			 "org.libvirt.unix.manage), or write a polkit rule for it; a user's own VMs are at "
			 "qemu:///session",
			 uri, m);
	else if (strstr(m, "No such file") || strstr(m, "Connection refused") || strstr(m, "Failed to connect socket"))
		snprintf(out, len, "cannot connect to %s: %s. Is libvirtd (or virtqemud) running? (systemctl start libvirtd)",
			 uri, m);
	else
		snprintf(out, len, "cannot connect to %s: %s", uri, m);
}

static void set_state(struct worker *w, int t, int s, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_state(struct worker *w, int t, int s, const char *fmt, ...)
{
	w->state[t] = s;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->state_text[t], sizeof(w->state_text[t]), fmt, ap);
	va_end(ap);
}

static void post_msg(struct virt *v, struct msg *m)
{
	m->next = NULL;
	pthread_mutex_lock(&v->lock);
	*v->tail = m;
	v->tail = &m->next;
	pthread_mutex_unlock(&v->lock);
	signal_fd(v->to_main);
}

static void kick(struct virt *v)
{
	if (v->w.work_timer >= 0)
		virEventUpdateTimeout(v->w.work_timer, 0);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct wconn *c = opaque;
	static const char *const why[] = { "an error", "the end of the connection", "keepalive timeout", "the client" };
	log_warn("libvirt: lost the connection to %s (%s); reconnecting", c->uri,
		 reason >= 0 && reason <= 3 ? why[reason] : "unknown");
	c->closed = true;
	c->retry_at = 0;
	kick(c->v);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	struct wconn *c = opaque;
	static const char *const names[] = { "defined",  "undefined", "started",   "suspended", "resumed",
					     "stopped",  "shut down", "pm-suspended", "crashed" };
	log_debug("libvirt: %s: domain '%s' %s (detail %d)", c->uri, virDomainGetName(dom),
		  event >= 0 && event < (int)(sizeof(names) / sizeof(names[0])) ? names[event] : "event", detail);
	c->resync = true;
	kick(c->v);
	return 0;
}

static virDomainPtr lookup(virConnectPtr conn, const char *domain)
{
	virDomainPtr d = virDomainLookupByName(conn, domain);
	if (!d && last_code() == VIR_ERR_NO_DOMAIN && strlen(domain) == VIR_UUID_STRING_BUFLEN - 1) {
		virDomainPtr u = virDomainLookupByUUIDString(conn, domain);
		if (u)
			return u;
		/* keep the name lookup's error */
		virDomainLookupByName(conn, domain);
	}
	return d;
}

static bool conn_usable(const struct wconn *c)
{
	return c->conn && !c->closed;
}

static void conn_drop(struct wconn *c)
{
	if (!c->conn)
		return;
	/* Deregistering events is an RPC: not on a connection that is gone. */
	if (!c->closed && c->lifecycle_id >= 0)
		virConnectDomainEventDeregisterAny(c->conn, c->lifecycle_id);
	virConnectUnregisterCloseCallback(c->conn, on_close); /* local; drops its reference */
	virConnectClose(c->conn);
	c->conn = NULL;
	c->lifecycle_id = -1;
}

static struct wconn *conn_find(struct worker *w, const char *uri)
{
	for (size_t i = 0; i < w->n_conn; i++)
		if (strcmp(w->conn[i].uri, uri) == 0)
			return &w->conn[i];
	return NULL;
}

static void sync_states(struct virt *v, struct wconn *c);
static void sync_attached(struct virt *v, struct wconn *c);

/* The connection to uri, (re)connecting if allowed now. NULL with c->error
 * set if libvirt cannot be reached (a retry is scheduled). */
static struct wconn *conn_get(struct virt *v, const char *uri)
{
	struct worker *w = &v->w;
	struct wconn *c = conn_find(w, uri);
	if (!c) {
		if (w->n_conn >= CONFIG_MAX_TARGETS || !(w->conn[w->n_conn].uri = strdup(uri)))
			return NULL;
		c = &w->conn[w->n_conn++];
		c->v = v;
		c->lifecycle_id = -1;
	}
	if (conn_usable(c))
		return c;
	if (c->conn) {
		conn_drop(c);
		c->closed = false;
	}
	uint64_t now = mono_ms();
	if (now < c->retry_at)
		return NULL;
	virResetLastError();
	virConnectPtr conn = virConnectOpen(uri);
	if (!conn) {
		char err[TEXT_MAX];
		explain_connect(uri, err, sizeof(err));
		if (strcmp(err, c->error) != 0)
			log_warn("libvirt: %s", err);
		snprintf(c->error, sizeof(c->error), "%s", err);
		c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RETRY_MIN_MS;
		if (c->backoff_ms > RETRY_MAX_MS)
			c->backoff_ms = RETRY_MAX_MS;
		c->retry_at = now + (uint64_t)c->backoff_ms;
		for (size_t t = 0; w->cfg && t < w->cfg->n; t++)
			if (w->cfg->t[t].uri && strcmp(w->cfg->t[t].uri, uri) == 0)
				set_state(w, (int)t, DS_NOCONN, "%s", err);
		return NULL;
	}
	c->conn = conn;
	c->closed = false;
	c->backoff_ms = 0;
	c->retry_at = 0;
	c->error[0] = '\0';
	if (virConnectRegisterCloseCallback(conn, on_close, c, NULL) < 0)
		log_warn("libvirt: %s: no close callback (%s); a libvirtd restart may go unnoticed", uri, last_error());
	c->lifecycle_id = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), c, NULL);
	if (c->lifecycle_id < 0)
		log_warn("libvirt: %s: no domain events (%s); domains stopping go unnoticed", uri, last_error());
	/* Notices a libvirtd that hangs, not only one that exits. */
	virConnectSetKeepAlive(conn, 5, 3);
	log_info("libvirt: connected to %s", uri);
	sync_states(v, c);
	sync_attached(v, c);
	return c;
}

static int map_state(int s)
{
	switch (s) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED:
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_SHUTDOWN: /* being shut down: still has its devices */
	case VIR_DOMAIN_PMSUSPENDED:
		return DS_RUNNING;
	case VIR_DOMAIN_CRASHED:
		return DS_CRASHED;
	default:
		return DS_STOPPED;
	}
}

/* A USB device left a domain: check in a moment that the host's drivers
 * have it again (on_rebind). */
static void rebind_later(struct worker *w, const struct attachment *a)
{
	if (a->pci || !a->sysname[0] || w->n_rebind >= MAX_ATTACHED)
		return;
	memcpy(w->rebind[w->n_rebind++], a->sysname, sizeof(a->sysname));
	virEventUpdateTimeout(w->rebind_timer, REBIND_DELAY_MS);
}

/* Forgets what was attached to a domain whose QEMU is gone, and makes sure
 * the USB devices get their host drivers back. */
static void drop_attached(struct virt *v, struct wconn *c, const char *domain)
{
	struct worker *w = &v->w;
	for (size_t i = 0; i < w->n_att;) {
		struct attachment *a = &w->att[i];
		if (a->c != c || strcmp(a->domain, domain) != 0) {
			i++;
			continue;
		}
		rebind_later(w, a);
		log_info("target '%s': domain '%s' is gone, and with it its hold on %s", a->target, domain, a->what);
		w->att[i] = w->att[--w->n_att];
	}
}

/* Asks libvirt for the state of every target's domain on connection c. */
static void sync_states(struct virt *v, struct wconn *c)
{
	struct worker *w = &v->w;
	c->resync = false;
	for (size_t t = 0; w->cfg && t < w->cfg->n; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (!wt->uri || strcmp(wt->uri, c->uri) != 0 || !conn_usable(c))
			continue;
		virResetLastError();
		virDomainPtr d = lookup(c->conn, wt->domain);
		int s;
		if (!d) {
			if (last_code() != VIR_ERR_NO_DOMAIN) {
				set_state(w, (int)t, DS_NOCONN, "libvirt at %s: %s", c->uri, last_error());
				continue;
			}
			set_state(w, (int)t, DS_MISSING,
				  "no domain '%s' at %s (virsh -c %s list --all lists them; qemu:///system and "
				  "qemu:///session have separate domains)",
				  wt->domain, c->uri, c->uri);
			s = DS_MISSING;
		} else {
			int st = 0, reason = 0;
			if (virDomainGetState(d, &st, &reason, 0) < 0) {
				set_state(w, (int)t, DS_NOCONN, "libvirt at %s: %s", c->uri, last_error());
				virDomainFree(d);
				continue;
			}
			virDomainFree(d);
			s = map_state(st);
			if (s == DS_RUNNING)
				set_state(w, (int)t, s, "%s", "");
			else if (s == DS_CRASHED)
				set_state(w, (int)t, s, "domain '%s' crashed", wt->domain);
			else
				set_state(w, (int)t, s, "domain '%s' is not running (start it: virsh -c %s start %s)",
					  wt->domain, c->uri, wt->domain);
		}
		if (s == DS_STOPPED || s == DS_MISSING)
			drop_attached(v, c, wt->domain);
	}
}

static bool usb_listed(const struct wtarget *t, const struct usb_dev *d, const char *serial)
{
	for (size_t i = 0; i < t->n_usb; i++)
		if (t->usb[i].vendor == d->vendor && t->usb[i].product == d->product &&
		    (!t->usb[i].serial[0] || strcmp(t->usb[i].serial, serial) == 0))
			return true;
	return false;
}

static bool pci_listed(const struct wtarget *t, const struct pci_addr *a)
{
	for (size_t i = 0; i < t->n_pci; i++)
		if (!memcmp(&t->pci[i], a, sizeof(*a)))
			return true;
	return false;
}

static struct attachment *find_usb(struct worker *w, const struct usb_dev *d)
{
	for (size_t i = 0; i < w->n_att; i++)
		if (!w->att[i].pci && w->att[i].usb.bus == d->bus && w->att[i].usb.device == d->device)
			return &w->att[i];
	return NULL;
}

static struct attachment *find_pci(struct worker *w, const struct pci_addr *a)
{
	for (size_t i = 0; i < w->n_att; i++)
		if (w->att[i].pci && !memcmp(&w->att[i].addr, a, sizeof(*a)))
			return &w->att[i];
	return NULL;
}

static void usb_what(const struct usb_dev *d, char *buf, size_t len)
{
	snprintf(buf, len, "USB device %04x:%04x (bus %u device %u)", d->vendor, d->product, d->bus, d->device);
}

static void pci_what(const struct pci_addr *a, char *buf, size_t len)
{
	char s[32];
	virtxml_pci_format(a, s, sizeof(s));
	snprintf(buf, len, "PCI device %s", s);
}

/* Starts tracking a device for target t: a USB device (usb non-NULL) or a
 * PCI function. NULL if the table is full. */
static struct attachment *track(struct worker *w, const struct wtarget *t, struct wconn *c,
				const struct found *usb, const struct pci_addr *pci)
{
	if (w->n_att >= MAX_ATTACHED)
		return NULL;
	struct attachment *a = &w->att[w->n_att];
	memset(a, 0, sizeof(*a));
	int n;
	if (usb) {
		a->usb = usb->dev;
		snprintf(a->sysname, sizeof(a->sysname), "%s", usb->sysname);
		snprintf(a->serial, sizeof(a->serial), "%s", usb->serial);
		usb_what(&usb->dev, a->what, sizeof(a->what));
		n = virtxml_usb_hostdev(a->xml, sizeof(a->xml), &usb->dev);
	} else {
		a->pci = true;
		a->addr = *pci;
		pci_what(pci, a->what, sizeof(a->what));
		n = virtxml_pci_hostdev(a->xml, sizeof(a->xml), pci);
	}
	if (n < 0)
		return NULL;
	snprintf(a->target, sizeof(a->target), "%s", t->name);
	snprintf(a->domain, sizeof(a->domain), "%s", t->domain);
	a->c = c;
	w->n_att++;
	return a;
}

/* Is live hostdev h also in the domain's definition (inactive XML)? */
static bool in_definition(const struct virtxml_hostdev *h, const struct virtxml_hostdev *def, int n)
{
	for (int q = 0; q < n; q++) {
		if (def[q].pci != h->pci)
			continue;
		if (h->pci ? virtxml_hostdev_is_pci(&def[q], &h->addr)
			   : def[q].has_address ? def[q].bus == h->bus && def[q].device == h->device
						: def[q].vendor == h->vendor && def[q].product == h->product)
			return true;
	}
	return false;
}

/* After (re)connecting: what is attached live to our usb targets' domains.
 * Devices we attached that are gone are forgotten; devices our targets list
 * that are attached live but not tracked (from a kvmswitch that died) are
 * taken over, so switching detaches them. */
static void sync_attached(struct virt *v, struct wconn *c)
{
	struct worker *w = &v->w;
	for (size_t t = 0; w->cfg && t < w->cfg->n; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (wt->type != TARGET_USB || !wt->uri || strcmp(wt->uri, c->uri) != 0 || !conn_usable(c))
			continue;
		virDomainPtr d = lookup(c->conn, wt->domain);
		if (!d)
			continue;
		int st = 0, reason = 0;
		char *live = NULL, *inactive = NULL;
		if (virDomainGetState(d, &st, &reason, 0) == 0 && map_state(st) == DS_RUNNING)
			live = virDomainGetXMLDesc(d, 0);
		if (live && virDomainIsPersistent(d) == 1)
			inactive = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
		virDomainFree(d);
		if (!live)
			continue;
		struct virtxml_hostdev hl[MAX_ATTACHED], hi[MAX_ATTACHED];
		int nl = virtxml_parse_hostdevs(live, hl, MAX_ATTACHED);
		int ni = inactive ? virtxml_parse_hostdevs(inactive, hi, MAX_ATTACHED) : 0;
		free(live);
		free(inactive);
		if (nl < 0 || ni < 0) {
			log_warn("libvirt: cannot read the devices of domain '%s'", wt->domain);
			continue;
		}
		nl = nl > MAX_ATTACHED ? MAX_ATTACHED : nl;
		ni = ni > MAX_ATTACHED ? MAX_ATTACHED : ni;
		/* Ours that are no longer there. */
		for (size_t i = 0; i < w->n_att;) {
			struct attachment *a = &w->att[i];
			bool there = false;
			for (int k = 0; k < nl && a->c == c && !strcmp(a->domain, wt->domain); k++)
				there |= a->pci ? virtxml_hostdev_is_pci(&hl[k], &a->addr)
						: virtxml_hostdev_is_usb(&hl[k], &a->usb);
			if (a->c == c && !strcmp(a->domain, wt->domain) && !there) {
				log_info("target '%s': %s is no longer attached to domain '%s'", a->target, a->what,
					 a->domain);
				w->att[i] = w->att[--w->n_att];
				continue;
			}
			i++;
		}
		/* Listed devices attached live, not by the domain's definition. */
		struct found found[MAX_FOUND];
		size_t nf = 0;
		for (size_t m = 0; m < wt->n_usb; m++)
			nf += usb_scan(&wt->usb[m], found + nf, MAX_FOUND - nf);
		for (int k = 0; k < nl; k++) {
			bool persistent = in_definition(&hl[k], hi, ni);
			char what[96];
			if (hl[k].pci) {
				if (!pci_listed(wt, &hl[k].addr) || find_pci(w, &hl[k].addr))
					continue;
				pci_what(&hl[k].addr, what, sizeof(what));
				if (persistent) {
					log_warn("target '%s': domain '%s' lists %s in its definition: kvmswitch leaves it "
						 "there (remove it from the domain's XML to let kvmswitch move it)",
						 wt->name, wt->domain, what);
					continue;
				}
				if (track(w, wt, c, NULL, &hl[k].addr))
					log_info("target '%s': %s is attached to domain '%s' from before; kvmswitch takes "
						 "it over", wt->name, what, wt->domain);
				continue;
			}
			if (!hl[k].has_address)
				continue;
			const struct found *f = NULL;
			for (size_t q = 0; q < nf && !f; q++)
				if (found[q].dev.bus == hl[k].bus && found[q].dev.device == hl[k].device)
					f = &found[q];
			if (!f || find_usb(w, &f->dev))
				continue;
			usb_what(&f->dev, what, sizeof(what));
			if (persistent) {
				log_warn("target '%s': domain '%s' lists %s in its definition: kvmswitch leaves it there "
					 "(remove it from the domain's XML to let kvmswitch move it)",
					 wt->name, wt->domain, what);
				continue;
			}
			if (track(w, wt, c, f, NULL))
				log_info("target '%s': %s is attached to domain '%s' from before; kvmswitch takes it over",
					 wt->name, what, wt->domain);
		}
	}
}

/* Detaches one device. Returns 0 if it is no longer attached (detached, or
 * its domain or the device is gone), -1 if it still is. */
static int detach_one(struct virt *v, struct attachment *a)
{
	/* No reconnecting here: that may change the table a points into.
	 * work() connects first; without a connection this waits for it. */
	struct wconn *c = a->c;
	if (!conn_usable(c)) {
		log_error("target '%s': cannot detach %s from domain '%s' yet: %s", a->target, a->what, a->domain,
			  c->error[0] ? c->error : "no connection to libvirt");
		return -1;
	}
	virResetLastError();
	virDomainPtr d = lookup(c->conn, a->domain);
	if (!d)
		return last_code() == VIR_ERR_NO_DOMAIN ? 0 : -1;
	int rc = virDomainDetachDeviceFlags(d, a->xml, VIR_DOMAIN_AFFECT_LIVE);
	int code = last_code();
	const char *msg = last_error();
	int st = 0, reason = 0;
	bool running = virDomainGetState(d, &st, &reason, 0) == 0 && map_state(st) == DS_RUNNING;
	virDomainFree(d);
	if (rc == 0) {
		log_info("target '%s': detached %s from domain '%s'", a->target, a->what, a->domain);
		return 0;
	}
	if (code == VIR_ERR_DEVICE_MISSING || strstr(msg, "not found")) {
		log_debug("target '%s': %s was no longer attached to '%s'", a->target, a->what, a->domain);
		return 0;
	}
	if (!running && st != VIR_DOMAIN_CRASHED)
		return 0;
	log_error("target '%s': cannot detach %s from domain '%s': %s%s", a->target, a->what, a->domain, msg,
		  st == VIR_DOMAIN_CRASHED ? " (the domain crashed: destroy it to free the device)" : "");
	return -1;
}

/* Detaches what this attach attached, newest first. */
static void rollback(struct virt *v, size_t first)
{
	struct worker *w = &v->w;
	while (w->n_att > first) {
		struct attachment *a = &w->att[w->n_att - 1];
		if (detach_one(v, a) < 0)
			log_error("target '%s': %s stays attached to domain '%s' after a failed switch; detach it "
				  "with virsh detach-device",
				  a->target, a->what, a->domain);
		rebind_later(w, a);
		w->n_att--;
	}
}

static void explain_attach(const char *what, const char *domain, const struct pci_addr *pci, char *out, size_t len)
{
	const char *m = last_error();
	char hint[400] = "";
	if (pci)
		iommu_hint(pci, hint, sizeof(hint));
	else if (strstr(m, "in use"))
		snprintf(hint, sizeof(hint), " Another domain has it: detach it there first.");
	else if (strstr(m, "Permission denied") || strstr(m, "Operation not permitted"))
		snprintf(hint, sizeof(hint), " QEMU may not open the device node: check libvirt's qemu.conf "
					     "(user, cgroup_device_acl) and its security driver (AppArmor/SELinux).");
	snprintf(out, len, "cannot attach %s to domain '%s': %s.%s", what, domain, m, hint);
}

/* Attaches every device of usb target t: all USB devices matching each
 * listed id (each must match at least one), then the PCI controllers. On
 * failure, what this call attached is detached again. Returns 0 or -errno
 * with text. */
/* Tracks and live-attaches one USB device or controller: 0, or -ENOMEM or
 * -EIO with the reason in text (then it is not tracked). */
static int attach_one(struct worker *w, const struct wtarget *wt, struct wconn *c, virDomainPtr d,
		      const struct found *usb, const struct pci_addr *pci, const char *what, char *text, size_t len)
{
	struct attachment *a = track(w, wt, c, usb, pci);
	if (!a) {
		snprintf(text, len, "too many devices attached");
		return -ENOMEM;
	}
	virResetLastError();
	if (virDomainAttachDeviceFlags(d, a->xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		explain_attach(what, wt->domain, pci, text, len);
		w->n_att--; /* not attached */
		return -EIO;
	}
	return 0;
}

static int attach_target(struct virt *v, int t, char *text, size_t len)
{
	struct worker *w = &v->w;
	const struct wtarget *wt = &w->cfg->t[t];
	struct wconn *c = conn_get(v, wt->uri);
	if (!c) {
		snprintf(text, len, "%s", conn_find(w, wt->uri) ? conn_find(w, wt->uri)->error : "out of memory");
		return -ENOTCONN;
	}
	virResetLastError();
	virDomainPtr d = lookup(c->conn, wt->domain);
	if (!d) {
		sync_states(v, c);
		snprintf(text, len, "%s", w->state_text[t][0] ? w->state_text[t] : last_error());
		return -EHOSTDOWN;
	}
	int st = 0, reason = 0;
	if (virDomainGetState(d, &st, &reason, 0) < 0 || map_state(st) != DS_RUNNING) {
		virDomainFree(d);
		sync_states(v, c);
		snprintf(text, len, "domain '%s' is not running (start it: virsh -c %s start %s)", wt->domain, wt->uri,
			 wt->domain);
		return -EHOSTDOWN;
	}

	struct found found[MAX_FOUND];
	size_t nf = 0;
	for (size_t m = 0; m < wt->n_usb; m++) {
		size_t n = usb_scan(&wt->usb[m], found + nf, MAX_FOUND - nf);
		if (n == 0) {
			virDomainFree(d);
			snprintf(text, len,
				 "USB device %04x:%04x%s%s is not plugged in to this host (lsusb -d %04x:%04x lists it "
				 "when it is)",
				 wt->usb[m].vendor, wt->usb[m].product, wt->usb[m].serial[0] ? " with serial " : "",
				 wt->usb[m].serial, wt->usb[m].vendor, wt->usb[m].product);
			return -ENODEV;
		}
		/* A device matching two entries moves once. */
		for (size_t i = nf; i < nf + n; i++) {
			bool dup = false;
			for (size_t j = 0; j < nf; j++)
				dup |= found[j].dev.bus == found[i].dev.bus && found[j].dev.device == found[i].dev.device;
			if (dup)
				found[i].dev.bus = 0;
		}
		nf += n;
	}

	size_t first = w->n_att;
	int rc = 0;
	unsigned n_usb = 0, n_pci = 0;
	for (size_t i = 0; i < nf && rc == 0; i++) {
		const struct found *f = &found[i];
		if (f->dev.bus == 0)
			continue;
		struct attachment *old = find_usb(w, &f->dev);
		if (old && !strcmp(old->target, wt->name) && old->c == c && !strcmp(old->domain, wt->domain))
			continue; /* already there */
		char what[96];
		usb_what(&f->dev, what, sizeof(what));
		if (old) {
			snprintf(text, len, "%s is still attached to domain '%s' for target '%s'", what, old->domain,
				 old->target);
			rc = -EBUSY;
			break;
		}
		rc = attach_one(w, wt, c, d, f, NULL, what, text, len);
		n_usb += rc == 0;
	}
	for (size_t i = 0; i < wt->n_pci && rc == 0; i++) {
		const struct pci_addr *pa = &wt->pci[i];
		char addr[32], what[96], dir[PATH_MAX], cls[32];
		virtxml_pci_format(pa, addr, sizeof(addr));
		pci_what(pa, what, sizeof(what));
		struct attachment *old = find_pci(w, pa);
		if (old && !strcmp(old->target, wt->name) && old->c == c && !strcmp(old->domain, wt->domain))
			continue;
		if (old) {
			snprintf(text, len, "%s is still attached to domain '%s' for target '%s'", what, old->domain,
				 old->target);
			rc = -EBUSY;
			break;
		}
		snprintf(dir, sizeof(dir), PCI_SYSFS "/%s", addr);
		if (access(dir, F_OK) < 0) {
			snprintf(text, len, "there is no %s on this host (lspci -D lists them)", what);
			rc = -ENODEV;
			break;
		}
		if (read_attr(dir, "class", cls, sizeof(cls)) == 0 && strncmp(cls, "0x0c03", 6) != 0)
			log_warn("target '%s': %s is not a USB controller (class %s); attaching it anyway", wt->name, what,
				 cls);
		rc = attach_one(w, wt, c, d, NULL, pa, what, text, len);
		n_pci += rc == 0;
	}
	virDomainFree(d);
	if (rc < 0) {
		rollback(v, first);
		return rc;
	}
	log_info("target '%s': attached %u USB device%s and %u controller%s to domain '%s'", wt->name, n_usb,
		 n_usb == 1 ? "" : "s", n_pci, n_pci == 1 ? "" : "s", wt->domain);
	return 0;
}

/* Is attachment a wanted where it is: by the active target, still listed? */
static bool wanted(const struct worker *w, const struct attachment *a)
{
	if (w->quit || !w->cfg || w->target < 0 || (size_t)w->target >= w->cfg->n)
		return false;
	const struct wtarget *t = &w->cfg->t[w->target];
	if (t->type != TARGET_USB || strcmp(t->name, a->target) != 0 || strcmp(t->domain, a->domain) != 0 ||
	    strcmp(t->uri, a->c->uri) != 0)
		return false;
	return a->pci ? pci_listed(t, &a->addr) : usb_listed(t, &a->usb, a->serial);
}

static void reconcile(struct virt *v)
{
	struct worker *w = &v->w;
	for (size_t i = w->n_att; i-- > 0;) {
		struct attachment *a = &w->att[i];
		if (wanted(w, a))
			continue;
		if (detach_one(v, a) < 0)
			continue; /* tried again on the next change */
		rebind_later(w, a);
		w->att[i] = w->att[--w->n_att];
	}
	int t = w->target;
	if (w->quit || !w->cfg || t < 0 || (size_t)t >= w->cfg->n || w->cfg->t[t].type != TARGET_USB || !w->attach ||
	    w->applied_seq == w->seq)
		return;
	w->applied_seq = w->seq;
	struct msg *m = calloc(1, sizeof(*m));
	if (!m)
		return;
	m->type = MSG_APPLIED;
	m->seq = w->seq;
	m->target = t;
	m->rc = attach_target(v, t, m->text, sizeof(m->text));
	if (m->rc < 0)
		log_debug("target '%s': attach failed: %s", w->cfg->t[t].name, m->text);
	post_msg(v, m);
}

/* Sends the daemon each target's state when it changed. */
static void report(struct virt *v)
{
	struct worker *w = &v->w;
	for (size_t t = 0; w->cfg && t < w->cfg->n; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (!wt->domain)
			continue;
		int attached = 0;
		for (size_t i = 0; i < w->n_att; i++)
			attached += !strcmp(w->att[i].target, wt->name);
		if (w->sent_state[t] == w->state[t] && w->sent_attached[t] == attached &&
		    !strcmp(w->sent_text[t], w->state_text[t]))
			continue;
		if (w->state[t] == DS_RUNNING && w->sent_state[t] != DS_RUNNING)
			log_info("target '%s': domain '%s' is running", wt->name, wt->domain);
		else if (w->state[t] != DS_RUNNING && w->state[t] != DS_UNKNOWN &&
			 (w->state[t] != w->sent_state[t] || strcmp(w->sent_text[t], w->state_text[t])))
			log_info("target '%s': %s", wt->name, w->state_text[t]);
		struct msg *m = calloc(1, sizeof(*m));
		if (!m)
			return;
		w->sent_state[t] = w->state[t];
		w->sent_attached[t] = attached;
		snprintf(w->sent_text[t], sizeof(w->sent_text[t]), "%s", w->state_text[t]);
		m->type = MSG_STATE;
		m->gen = w->cfg->gen;
		m->target = (int)t;
		m->state = w->state[t];
		m->attached = attached;
		snprintf(m->text, sizeof(m->text), "%s", w->state_text[t]);
		post_msg(v, m);
	}
}

static void work(struct virt *v)
{
	struct worker *w = &v->w;
	pthread_mutex_lock(&v->lock);
	struct wcfg *ncfg = NULL;
	if (v->wish_new) {
		ncfg = v->wish.cfg;
		v->wish.cfg = NULL;
		w->target = v->wish.target;
		w->attach = v->wish.attach;
		w->seq = v->wish.seq;
		w->quit = v->wish.quit;
		v->wish_new = false;
	}
	pthread_mutex_unlock(&v->lock);
	if (ncfg) {
		wcfg_free(w->cfg);
		w->cfg = ncfg;
		for (size_t t = 0; t < CONFIG_MAX_TARGETS; t++) {
			w->state[t] = DS_UNKNOWN;
			w->state_text[t][0] = '\0';
			w->sent_state[t] = -1;
		}
		/* Ask every domain again; connections no target uses are closed
		 * once nothing is attached through them. */
		for (size_t i = 0; i < w->n_conn; i++)
			w->conn[i].resync = true;
		/* What is known to be unreachable stays so until a retry says
		 * otherwise. */
		for (size_t t = 0; t < w->cfg->n; t++) {
			const struct wconn *c = w->cfg->t[t].uri ? conn_find(w, w->cfg->t[t].uri) : NULL;
			if (c && !conn_usable(c) && c->error[0])
				set_state(w, (int)t, DS_NOCONN, "%s", c->error);
		}
	}
	/* Connect (or reconnect) what the configuration needs. */
	uint64_t next_retry = UINT64_MAX;
	for (size_t t = 0; w->cfg && t < w->cfg->n && !w->quit; t++) {
		const struct wtarget *wt = &w->cfg->t[t];
		if (!wt->uri)
			continue;
		struct wconn *c = conn_get(v, wt->uri);
		if (c && c->resync)
			sync_states(v, c);
		struct wconn *cc = conn_find(w, wt->uri);
		if (!c && cc && cc->retry_at && cc->retry_at < next_retry)
			next_retry = cc->retry_at;
	}
	/* Connections that only attached devices still need (their target
	 * is gone from the configuration). */
	for (size_t i = 0; i < w->n_att; i++)
		if (!conn_usable(w->att[i].c))
			conn_get(v, w->att[i].c->uri);
	for (size_t i = 0; i < w->n_conn; i++) {
		struct wconn *c = &w->conn[i];
		bool used = false;
		for (size_t t = 0; w->cfg && t < w->cfg->n; t++)
			used |= w->cfg->t[t].uri && !strcmp(w->cfg->t[t].uri, c->uri);
		for (size_t a = 0; a < w->n_att; a++)
			used |= w->att[a].c == c;
		if (!used && c->conn) {
			log_debug("libvirt: closing %s (no target uses it)", c->uri);
			conn_drop(c);
			c->closed = false;
		}
		if (conn_usable(c) && c->resync)
			sync_states(v, c);
	}
	reconcile(v);
	report(v);
	if (w->quit) {
		w->finished = true;
		return;
	}
	/* Retry a connection that failed (backoff), or an attach or detach
	 * that needs one. */
	for (size_t i = 0; i < w->n_att; i++) {
		struct wconn *c = w->att[i].c;
		if (!conn_usable(c) && c->retry_at && c->retry_at < next_retry)
			next_retry = c->retry_at;
	}
	if (next_retry != UINT64_MAX) {
		uint64_t now = mono_ms();
		virEventUpdateTimeout(w->work_timer, next_retry > now ? (int)(next_retry - now) : 0);
	}
}

static void on_work(int timer, void *opaque)
{
	struct virt *v = opaque;
	virEventUpdateTimeout(timer, -1);
	work(v);
}

static void on_wakeup(int watch, int fd, int events, void *opaque)
{
	struct virt *v = opaque;
	drain_fd(fd);
	work(v);
}

static void on_rebind(int timer, void *opaque)
{
	struct virt *v = opaque;
	struct worker *w = &v->w;
	virEventUpdateTimeout(timer, -1);
	for (size_t i = 0; i < w->n_rebind; i++) {
		int n = usb_rebind(w->rebind[i]);
		if (n > 0)
			log_info("USB device %s: asked the kernel to bind host drivers to %d interface%s again",
				 w->rebind[i], n, n == 1 ? "" : "s");
	}
	w->n_rebind = 0;
}

static void *worker_main(void *arg)
{
	struct virt *v = arg;
	struct worker *w = &v->w;
	w->work_timer = w->rebind_timer = -1;
	w->target = -1;
	for (size_t t = 0; t < CONFIG_MAX_TARGETS; t++)
		w->sent_state[t] = -1;
	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
		log_error("libvirt: cannot initialize: %s", last_error());
		goto out;
	}
	virSetErrorFunc(NULL, quiet_errors);
	w->work_timer = virEventAddTimeout(0, on_work, v, NULL);
	w->rebind_timer = virEventAddTimeout(-1, on_rebind, v, NULL);
	if (w->work_timer < 0 || w->rebind_timer < 0 ||
	    virEventAddHandle(v->to_worker, VIR_EVENT_HANDLE_READABLE, on_wakeup, v, NULL) < 0) {
		log_error("libvirt: cannot set up its event loop");
		goto out;
	}
	while (!w->finished)
		if (virEventRunDefaultImpl() < 0)
			break;
	if (w->n_rebind)
		on_rebind(w->rebind_timer, v);
out:
	for (size_t i = 0; i < w->n_conn; i++) {
		conn_drop(&w->conn[i]);
		free(w->conn[i].uri);
	}
	wcfg_free(w->cfg);
	w->cfg = NULL;
	pthread_mutex_lock(&v->lock);
	v->done = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

/* ---- kvmswitch libvirt-xml ---- */

const char virt_xml_help[] =
	"usage: kvmswitch libvirt-xml [-c FILE] [--passthrough | --evdev] TARGET\n"
	"Print the libvirt <input> elements that give evdev target TARGET's domain\n"
	"kvmswitch's keyboard and pointer, for `virsh edit DOMAIN` (inside <devices>).\n"
	"They name the stable links /dev/input/by-id/kvmswitch-TARGET-keyboard and\n"
	"-pointer (kvmswitch's udev rules), never /dev/input/eventN.\n"
	"  --evdev        <input type='evdev'>: QEMU input-linux (the default, or the\n"
	"                 target's libvirt-input)\n"
	"  --passthrough  <input type='passthrough' bus='virtio'>: virtio-input-host\n"
	"  -c FILE        configuration file\n"
	"See docs/libvirt.md.\n";

int virt_xml_main(int argc, char **argv)
{
	const char *config = NULL, *target = NULL;
	int type = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--passthrough")) {
			type = LIBVIRT_INPUT_PASSTHROUGH;
		} else if (!strcmp(a, "--evdev")) {
			type = LIBVIRT_INPUT_EVDEV;
		} else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
			config = argv[++i];
		} else if (!strncmp(a, "--config=", 9)) {
			config = a + 9;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(virt_xml_help, stdout);
			return 0;
		} else if (a[0] == '-' || target) {
			fputs(virt_xml_help, stderr);
			return 2;
		} else {
			target = a;
		}
	}
	if (!target) {
		fputs(virt_xml_help, stderr);
		return 2;
	}
	char path[PATH_MAX], err[CONFIG_ERR_MAX];
	struct config *cfg = conffile_read(config, path, sizeof(path), err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	int rc = 1;
	int t = config_target_index(cfg, target);
	if (t < 0) {
		fprintf(stderr, "kvmswitch: no target named '%s' in %s\n", target, path[0] ? path : "the built-in defaults");
		goto out;
	}
	const struct target_conf *tc = &cfg->target[t];
	if (tc->type != TARGET_EVDEV) {
		fprintf(stderr, "kvmswitch: target '%s' is of type %s: only evdev targets give a domain kvmswitch's "
				"virtual devices%s\n",
			target, target_type_name(tc->type),
			tc->type == TARGET_USB ? " (a usb target's devices are attached by kvmswitch itself)" : "");
		goto out;
	}
	char buf[8192];
	if (virtxml_inputs(buf, sizeof(buf), cfg, t, type >= 0 ? (enum libvirt_input)type : tc->libvirt_input) < 0) {
		fprintf(stderr, "kvmswitch: the XML does not fit\n");
		goto out;
	}
	fputs(buf, stdout);
	char link[PATH_MAX];
	virtxml_link_path(tc->name, VK_KEYBOARD, link, sizeof(link));
	if (access(link, F_OK) < 0)
		fprintf(stderr,
			"kvmswitch: note: %s does not exist now; it appears while kvmswitch runs, with its udev "
			"rules installed (make install). Start kvmswitch before the domain.\n",
			link);
	rc = 0;
out:
	config_destroy(cfg);
	return rc;
}
