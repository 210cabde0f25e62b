/* The targets' virtual devices (outputs.h). */
#include "outputs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdstore.h"
#include "log.h"

/* After a failed write the owed keys are sent again this often. */
#define CATCH_UP_MS 20

struct outputs {
	struct outputs_env env;
	const struct config *cfg; /* the config the indices below belong to */
	struct fdstore *store;    /* systemd's fd store: VM targets' devices survive a restart */
	struct vdev *vd[CONFIG_MAX_TARGETS][VK_COUNT];
	bool failing[CONFIG_MAX_TARGETS][VK_COUNT]; /* since its last good write: logged once */
	bool want_tablet;
	uint32_t echo;        /* targets whose keyboard was sent an MSC_SCAN in this round */
	uint64_t catch_up_at; /* when to send owed keys again, or UINT64_MAX */
	uint64_t write_errors;
	int led_target;       /* the target whose keyboard is being read */
};

/* Every target but a usb one has virtual devices: a VM target's are what
 * its QEMU reads; the host's are its keyboard and mouse in virtual mode, and
 * in native mode carry what only kvmswitch read on the way to the host (the
 * frames queued while a grab waits for keys to come up). */
static bool has_devices(const struct config *cfg, int t)
{
	return cfg->target[t].type != TARGET_USB;
}

struct outputs *outputs_create(const struct outputs_env *env)
{
	struct outputs *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->env = *env;
	o->catch_up_at = UINT64_MAX;
	o->store = fdstore_create();
	return o;
}

void outputs_destroy(struct outputs *o, const struct config *cfg)
{
	if (!o)
		return;
	for (size_t t = 0; t < CONFIG_MAX_TARGETS; t++)
		for (int k = 0; k < VK_COUNT; k++) {
			struct vdev *v = o->vd[t][k];
			if (v && cfg && t < cfg->n_target && fdstore_holds(o->store, cfg->target[t].name, (enum vkind)k))
				vdev_forget(v); /* systemd keeps it for our next start */
			else if (v)
				vdev_destroy(v);
		}
	fdstore_destroy(o->store);
	free(o);
}

static int open_one(struct outputs *o, const struct config *cfg, int t, enum vkind kind)
{
	if (o->vd[t][kind])
		return 0;
	const char *name = cfg->target[t].name;
	bool guest = cfg->target[t].type == TARGET_EVDEV;
	/* A VM target's device kept by systemd across our restart: adopt it. */
	int fd = guest ? fdstore_take(o->store, name, kind) : -1;
	struct vdev *v = fd >= 0 ? vdev_adopt(fd, name, kind) : NULL;
	if (fd >= 0 && !v) {
		log_warn("target '%s': cannot adopt the stored %s (%s); creating a new one", name, vkind_name(kind),
			 strerror(errno));
		fdstore_remove(o->store, name, kind);
		close(fd);
	}
	if (!v && (v = vdev_create(name, kind, guest)) && guest && fdstore_active(o->store)) {
		int rc = fdstore_put(o->store, vdev_fd(v), name, kind);
		if (rc < 0)
			log_warn("target '%s': cannot put the %s into the service manager's fd store: %s", name,
				 vkind_name(kind), strerror(-rc));
	}
	if (!v) {
		int e = errno;
		const char *hint = e == ENOENT || e == EACCES ? " (is the uinput module loaded and /dev/uinput writable?)" : "";
		if (config_target_forwards(cfg, t))
			log_error("cannot create the virtual %s of target '%s': %s%s", vkind_name(kind), name,
				  strerror(e), hint);
		else
			log_warn("cannot create the virtual %s of the native host: %s%s; what is typed while a switch "
				 "to the host waits for a key to come up is lost",
				 vkind_name(kind), strerror(e), hint);
		return -e;
	}
	o->vd[t][kind] = v;
	o->failing[t][kind] = false;
	/* Only keyboards are watched, for the LEDs their consumers set. Every
	 * MSC_SCAN we write to a uinput device also comes back on its fd;
	 * reading those echoes would cost a wake-up and a read() per mouse
	 * frame (the pointer's unread echoes just overwrite each other). */
	if (kind == VK_KEYBOARD)
		o->env.watch(o->env.data, vdev_fd(v), t, true);
	log_info("target '%s': %s is %s%s", name, vdev_name(v), vdev_devnode(v),
		 fd >= 0 ? " (kept across the restart)" : "");
	return 0;
}

/* Every target that has devices gets a keyboard and a pointer, and a tablet
 * once an absolute device has been taken. */
static int ensure(struct outputs *o, const struct config *cfg)
{
	o->cfg = cfg;
	for (size_t t = 0; t < cfg->n_target; t++) {
		if (!has_devices(cfg, (int)t))
			continue;
		for (int k = 0; k < VK_COUNT; k++) {
			if (k == VK_TABLET && !o->want_tablet)
				continue;
			int rc = open_one(o, cfg, (int)t, (enum vkind)k);
			/* A native host does without (it reads the devices itself;
			 * only what kvmswitch alone read in the moments before an
			 * ungrab is then lost, as open_one's log says). */
			if (rc < 0 && config_target_forwards(cfg, (int)t))
				return rc;
		}
	}
	return 0;
}

int outputs_start(struct outputs *o, const struct config *cfg)
{
	for (size_t t = 0; o->store && t < cfg->n_target; t++)
		if (cfg->target[t].type == TARGET_EVDEV && fdstore_passed(o->store))
			for (int k = 0; k < VK_COUNT; k++)
				if (fdstore_has_passed(o->store, cfg->target[t].name, (enum vkind)k))
					open_one(o, cfg, (int)t, (enum vkind)k);
	fdstore_drop_untaken(o->store);
	return ensure(o, cfg);
}

int outputs_want_tablet(struct outputs *o, const struct config *cfg)
{
	if (o->want_tablet)
		return 0;
	o->want_tablet = true;
	return ensure(o, cfg);
}

int outputs_reconfigure(struct outputs *o, const struct config *old, const struct config *cfg, const int *map)
{
	struct vdev *vd[CONFIG_MAX_TARGETS][VK_COUNT] = { 0 };
	bool failing[CONFIG_MAX_TARGETS][VK_COUNT] = { { false } };
	for (size_t t = 0; t < old->n_target; t++) {
		for (int k = 0; k < VK_COUNT; k++) {
			struct vdev *v = o->vd[t][k];
			if (!v)
				continue;
			if (k == VK_KEYBOARD)
				o->env.watch(o->env.data, vdev_fd(v), (int)t, false);
			if (map[t] >= 0 && has_devices(cfg, map[t])) {
				vd[map[t]][k] = v;
				failing[map[t]][k] = o->failing[t][k];
			} else {
				fdstore_remove(o->store, old->target[t].name, (enum vkind)k);
				vdev_destroy(v);
			}
		}
	}
	memcpy(o->vd, vd, sizeof(vd));
	memcpy(o->failing, failing, sizeof(failing));
	o->echo = 0; /* target indices changed: unread echoes wake the loop as usual */
	for (size_t t = 0; t < cfg->n_target; t++)
		if (o->vd[t][VK_KEYBOARD]) /* as open_one */
			o->env.watch(o->env.data, vdev_fd(o->vd[t][VK_KEYBOARD]), (int)t, true);
	return ensure(o, cfg);
}

/* A write failed (rc < 0) or worked again (rc 0). The first failure of an
 * episode is logged with its errno; what the device lacks is owed and sent
 * again by outputs_tick. */
static void write_result(struct outputs *o, int t, int k, int rc, uint64_t now)
{
	const char *name = o->cfg->target[t].name;
	if (rc < 0) {
		o->write_errors++;
		if (o->catch_up_at == UINT64_MAX)
			o->catch_up_at = now + CATCH_UP_MS;
		if (!o->failing[t][k])
			log_warn("target '%s': writing to its %s failed: %s; the keys it misses are sent again "
				 "when it takes writes",
				 name, vkind_name((enum vkind)k), strerror(-rc));
		o->failing[t][k] = true;
	} else if (o->failing[t][k] && !vdev_owed(o->vd[t][k])) {
		o->failing[t][k] = false;
		log_info("target '%s': its %s takes writes again; nothing it missed is still held", name,
			 vkind_name((enum vkind)k));
	}
}

/* A keyboard frame with an MSC_SCAN: its echo is to be read (out of line:
 * pointer frames, most of them, do not pay for it). */
static __attribute__((noinline)) void note_echo(struct outputs *o, int t, const struct input_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].type == EV_MSC) {
			o->echo |= 1u << t;
			return;
		}
}

bool outputs_emit(struct outputs *o, int t, enum vkind kind, const struct input_event *ev, size_t n,
		  uint64_t now)
{
	struct vdev *v = o->vd[t][kind];
	int rc = -ENODEV;
	if (!v) {
		o->write_errors++;
	} else {
		rc = vdev_write(v, ev, n);
		if (rc < 0 || o->failing[t][kind])
			write_result(o, t, kind, rc, now);
	}
	/* The kernel hands each MSC_SCAN back to the keyboard's uinput fd (we
	 * watch it for LEDs): outputs_after_round reads it before the next
	 * epoll_wait, which would otherwise return at once just for it. */
	if (kind == VK_KEYBOARD)
		note_echo(o, t, ev, n);
	return rc >= 0;
}

static void on_led(void *data, unsigned code, int value)
{
	struct outputs *o = data;
	log_debug("target '%s': LED %u set to %d by a consumer", o->cfg->target[o->led_target].name, code, value);
	o->env.led(o->env.data, o->led_target, code, value);
}

void outputs_read_leds(struct outputs *o, int t)
{
	if ((size_t)t >= o->cfg->n_target || !o->vd[t][VK_KEYBOARD])
		return;
	o->led_target = t;
	vdev_read(o->vd[t][VK_KEYBOARD], on_led, o);
}

void outputs_after_round(struct outputs *o)
{
	for (int t = 0; o->echo && t < CONFIG_MAX_TARGETS; t++) {
		if (!(o->echo & (1u << t)))
			continue;
		o->echo &= ~(1u << t);
		outputs_read_leds(o, t);
	}
}

uint64_t outputs_deadline(const struct outputs *o)
{
	return o->catch_up_at;
}

void outputs_tick(struct outputs *o, uint64_t now)
{
	if (now < o->catch_up_at)
		return;
	o->catch_up_at = UINT64_MAX;
	for (size_t t = 0; t < o->cfg->n_target; t++)
		for (int k = 0; k < VK_COUNT; k++) {
			struct vdev *v = o->vd[t][k];
			if (v && vdev_owed(v))
				write_result(o, (int)t, k, vdev_catch_up(v), now);
		}
}

bool outputs_lack(const struct outputs *o, const struct config *cfg, int t)
{
	return config_target_forwards(cfg, t) && (!o->vd[t][VK_KEYBOARD] || !o->vd[t][VK_POINTER]);
}

const char *outputs_missing(const struct outputs *o, const struct config *cfg)
{
	for (size_t t = 0; t < cfg->n_target; t++)
		if (outputs_lack(o, cfg, (int)t))
			return cfg->target[t].name;
	return NULL;
}

bool outputs_kept(const struct outputs *o, const struct config *cfg, int t, enum vkind kind)
{
	return o->vd[t][kind] && fdstore_holds(o->store, cfg->target[t].name, kind);
}

struct vdev *(*outputs_table(struct outputs *o))[VK_COUNT]
{
	return o->vd;
}

uint64_t outputs_write_errors(const struct outputs *o)
{
	return o->write_errors;
}
