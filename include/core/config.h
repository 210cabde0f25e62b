/* kvmswitch.conf: parsed from a string, validated, reported as FILE:LINE. Pure. */
#ifndef KVMSWITCH_CORE_CONFIG_H
#define KVMSWITCH_CORE_CONFIG_H

#include "core/buf.h"
#include "core/hotkey.h"
#include "core/match.h"

#define TARGET_NAME_MAX 32
#define CONFIG_MAX_TARGETS 16
#define CONFIG_ERR_MAX 512

enum target_type {
	TARGET_HOST,
	TARGET_EVDEV,
	TARGET_USB,
};

enum host_mode {
	HOST_NATIVE,  /* ungrab: the host reads the physical devices, zero hops */
	HOST_VIRTUAL, /* forward to "kvmswitch host keyboard/pointer" */
};

/* [general] realtime: the event loop's scheduling (src/shell/realtime.c). */
enum realtime_mode {
	REALTIME_AUTO, /* real-time priority and locked memory when the system allows */
	REALTIME_YES,  /* the same, or refuse to start */
	REALTIME_NO,   /* an ordinary process */
};

enum libvirt_input {
	LIBVIRT_INPUT_EVDEV,       /* <input type='evdev'> (QEMU input-linux) */
	LIBVIRT_INPUT_PASSTHROUGH, /* <input type='passthrough' bus='virtio'> */
};

/* When the target follows its domain (bits): become active when it starts,
 * come back to the host when it stops. */
enum follow {
	FOLLOW_NO = 0,
	FOLLOW_START = 1,
	FOLLOW_STOP = 2,
	FOLLOW_BOTH = 3,
};

/* A QMP socket path fits a sockaddr_un. */
#define CONFIG_QMP_PATH_MAX 108

struct usb_match {
	uint16_t vendor, product;
	char serial[128]; /* empty: any */
};

struct pci_addr {
	uint16_t domain;
	uint8_t bus, slot, func;
};

/* A key whose chord is resolved after the whole file is read (the XKB layout
 * may be set after it). */
struct hotkey_text {
	char *text;
	int line;
};

struct target_conf {
	char name[TARGET_NAME_MAX];
	enum target_type type;
	enum host_mode mode;
	struct hotkey_text hotkey_text;
	struct chord hotkey;
	char *on_enter, *on_leave; /* shell commands, may be NULL */
	int on_enter_line, on_leave_line;
	char *domain, *uri;        /* libvirt; uri defaults to qemu:///system */
	enum libvirt_input libvirt_input;
	struct usb_match *usb;
	size_t n_usb;
	struct pci_addr *pci;
	size_t n_pci;
	uint32_t return_after_ms; /* 0: never */
	enum follow follow;       /* default FOLLOW_STOP */
	char *qmp;                /* QEMU's QMP socket: input-linux objects added there, or NULL */
	bool libvirt_hotplug;     /* the same through libvirt's monitor passthrough */
	int line;
};

/* [general] hotkey-action: what the global hotkey does. */
enum hotkey_action {
	HOTKEY_CYCLE,  /* the targets in config order (the default) */
	HOTKEY_TOGGLE, /* host <-> the last VM target used */
};

/* A list of key names (host-keys, shared-keys), resolved after the whole
 * file is read, like the chords. */
struct keylist {
	struct hotkey_text text;
	struct keyset keys;
};

struct listener_conf {
	bool enabled;
	char *address;     /* tcp:ADDR:PORT or vsock:CID:PORT */
	char *secret_file; /* pre-shared secret */
	int address_line, secret_file_line;
	uint32_t rate_per_minute;
	int line;
};

struct config {
	char *path;
	struct hotkey_text hotkey_text, emergency_text;
	struct chord hotkey;    /* cycles targets in config order */
	struct chord emergency; /* ungrab everything, go to host */
	char start[TARGET_NAME_MAX];
	enum realtime_mode realtime;
	char *xkb_layout, *xkb_variant, *xkb_model, *xkb_options;
	int xkb_line; /* the first xkb-* setting's */
	struct match_rule *match;
	size_t n_match;
	struct match_rule *exclude;
	size_t n_exclude;
	struct target_conf target[CONFIG_MAX_TARGETS];
	size_t n_target;
	struct listener_conf listener;
	/* Game time (issue 15): keys that stay on the host, devices that are
	 * the host's alone, the lock against accidental switches. */
	struct keylist host_keys;   /* always to the host */
	struct keylist shared_keys; /* to the host and to the active target */
	struct match_rule *host_only; /* [input] host-only: forwarded to the host, never to a VM */
	size_t n_host_only;
	struct hotkey_text lock_text;
	struct chord lock; /* toggles the lock (n == 0: none) */
	bool start_locked;
	enum hotkey_action hotkey_action;
};

#define CONFIG_DEFAULT_HOTKEY "leftctrl+rightctrl"
#define CONFIG_DEFAULT_EMERGENCY "backspace+esc+enter"
#define CONFIG_DEFAULT_URI "qemu:///system"

/* Parses `len` bytes of `text` (the contents of `path`, used in messages). On error returns
 * NULL and writes "PATH:LINE: message" to err. Chords are not resolved yet. */
struct config *config_parse(const char *text, size_t len, const char *path, char *err,
			    size_t errlen);

/* The built-in defaults: host (native) + one evdev target "guest". */
struct config *config_default(void);

/* Resolves every hotkey text and key list through `res` and checks chords for
 * conflicts (also with host-keys and shared-keys, which no chord may use).
 * Returns 0 or -1 with "PATH:LINE: message". */
int config_resolve_keys(struct config *cfg, const struct keyname_resolver *res, char *err,
			size_t errlen);

void config_destroy(struct config *cfg);

/* Appends the configuration in kvmswitch.conf's syntax, every key with its
 * value in force (defaults filled in; a key without a value as a comment),
 * so that config_parse() of the text gives the same configuration (line
 * numbers and the path aside). Returns 0 or -1 (out of memory). */
int config_print(const struct config *cfg, struct buf *out);

/* For a reload: map[i] is the index in `next` of `prev`'s target i when a
 * target of the same name and type (and, for the host, mode) exists there,
 * else -1. */
void config_map_targets(const struct config *prev, const struct config *next, int *map);

/* Index of the target named `name`, or -1. */
int config_target_index(const struct config *cfg, const char *name);
/* Index of the host target (there is always exactly one). */
int config_host_index(const struct config *cfg);
/* Does target t receive events through kvmswitch's virtual devices while it
 * is active (a VM target, the host in virtual mode)? Else the host reads
 * the physical devices itself (native host, usb target). */
bool config_target_forwards(const struct config *cfg, int t);

const char *target_type_name(enum target_type t);
const char *hotkey_action_name(enum hotkey_action a);
const char *realtime_mode_name(enum realtime_mode m);

#endif
