/* The monitor's lines (monitor.h). */
#include "monitor.h"

#include "keynames.h"

static const char *route_name(enum router_route route)
{
	switch (route) {
	case ROUTE_TARGET:
		return "target";
	case ROUTE_HOST_READ:
		return "host-read";
	case ROUTE_HOTKEY:
		return "hotkey";
	case ROUTE_NOWHERE:
		return "nowhere";
	}
	return "?";
}

bool monitor_format(struct monitor *m, struct json *j, const struct config *cfg, const struct monitor_source *src,
		    const struct input_event *ev, enum router_route route, int target, unsigned flags, uint64_t now)
{
	bool key = ev->type == EV_KEY;
	if (!key) {
		uint64_t *at = &m->motion_at[src->slot];
		if (*at && now < *at + MONITOR_MOTION_MS)
			return false;
		*at = now;
	}
	json_object_begin(j);
	json_key(j, "node");
	json_string(j, src->node);
	json_key(j, "device");
	json_string(j, src->name);
	json_key(j, "type");
	json_string(j, key ? "key" : "motion");
	if (key) {
		char name[64];
		json_key(j, "key");
		json_string(j, keynames_config_name(ev->code, name, sizeof(name)));
		json_key(j, "code");
		json_uint(j, ev->code);
		json_key(j, "value");
		json_string(j, ev->value ? "down" : "up");
	}
	json_key(j, "route");
	json_string(j, route_name(route));
	if (route == ROUTE_TARGET && target >= 0 && (size_t)target < cfg->n_target) {
		json_key(j, "target");
		json_string(j, cfg->target[target].name);
	}
	static const struct {
		unsigned flag;
		const char *key;
	} flag_keys[] = {
		{ ROUTE_F_SHARED, "shared_key" },
		{ ROUTE_F_HOST_KEY, "host_key" },
		{ ROUTE_F_HOST_ONLY, "host_only" },
		{ ROUTE_F_CHORD, "hotkey" },
	};
	for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
		if (flags & flag_keys[i].flag) {
			json_key(j, flag_keys[i].key);
			json_bool(j, true);
		}
	}
	json_object_end(j);
	m->events++;
	return true;
}
