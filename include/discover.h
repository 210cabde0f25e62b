/* Input devices from libudev: enumeration at start, hotplug after, and a
 * plain description of each for the match rules. */
#ifndef KVMSWITCH_DISCOVER_H
#define KVMSWITCH_DISCOVER_H

#include "core/match.h"

struct discover;
struct udev_device;

struct discover *discover_create(void);
void discover_destroy(struct discover *ds);
/* The monitor's fd (readable on hotplug). */
int discover_fd(const struct discover *ds);

/* A described device; strings live as long as it does. */
struct discovered {
	struct device_desc desc;
	char node[64];
	char name[256];
	char syspath[256];
	char links[DEVICE_MAX_LINKS][192];
};

/* Copies a description, pointing the copy's desc at its own strings. */
void discover_copy(struct discovered *dst, const struct discovered *src);

/* Calls fn for every input event node present now. */
int discover_enumerate(struct discover *ds, void (*fn)(void *data, const struct discovered *dev), void *data);

enum discover_action {
	DISCOVER_ADD,
	DISCOVER_REMOVE,
};

/* Reads pending hotplug events; calls fn for each event node added or
 * removed. Returns 0 or -errno. */
int discover_dispatch(struct discover *ds,
		      void (*fn)(void *data, enum discover_action action, const struct discovered *dev),
		      void *data);

#endif
