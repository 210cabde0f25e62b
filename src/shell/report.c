#include "report.h"

#include <stdio.h>
#include <unistd.h>

#include "latstats.h"
#include "qmplink.h"
#include "realtime.h"
#include "virt.h"

/* "inputs": the devices taken, for status and list. */
static void inputs_json(const struct report_view *v, struct json *j)
{
	json_key(j, "inputs");
	json_array_begin(j);
	for (int i = 0; i < ROUTER_MAX_DEVICES; i++) {
		if (!v->input[i].node)
			continue;
		json_object_begin(j);
		json_key(j, "node");
		json_string(j, v->input[i].node);
		json_key(j, "name");
		json_string(j, v->input[i].name);
		json_key(j, "grabbed");
		json_bool(j, router_device_grabbed(v->router, i));
		json_key(j, "pending");
		json_bool(j, router_device_pending(v->router, i));
		if (v->input[i].host_only) { /* only then: what scripts read stays as it was */
			json_key(j, "host_only");
			json_bool(j, true);
		}
		json_object_end(j);
	}
	json_array_end(j);
}

void report_status(const struct report_view *v, struct json *j)
{
	const struct router_stats *st = router_get_stats(v->router);
	int active = router_active(v->router);
	json_object_begin(j);
	json_key(j, "version");
	json_string(j, KVMSWITCH_VERSION);
	json_key(j, "pid");
	json_int(j, getpid());
	json_key(j, "config");
	json_string(j, v->config_path);
	json_key(j, "active");
	json_string(j, v->cfg->target[active].name);
	json_key(j, "released");
	json_bool(j, router_is_released(v->router));
	json_key(j, "locked");
	json_bool(j, router_is_locked(v->router));
	json_key(j, "targets");
	json_array_begin(j);
	for (size_t t = 0; t < v->cfg->n_target; t++) {
		const struct target_conf *tc = &v->cfg->target[t];
		json_object_begin(j);
		json_key(j, "name");
		json_string(j, tc->name);
		json_key(j, "type");
		json_string(j, target_type_name(tc->type));
		if (tc->type == TARGET_HOST) {
			json_key(j, "mode");
			json_string(j, tc->mode == HOST_NATIVE ? "native" : "virtual");
		}
		json_key(j, "active");
		json_bool(j, (int)t == active);
		json_key(j, "held");
		json_uint(j, router_target_held(v->router, (int)t));
		json_key(j, "leds");
		json_uint(j, router_target_leds(v->router, (int)t));
		/* Writes to its devices that failed, and the keys whose state they
		 * still lack (sent again until they take it). */
		uint64_t failed = 0, owed = 0;
		for (int k = 0; k < VK_COUNT; k++) {
			failed += v->vd[t][k] ? vdev_failed_writes(v->vd[t][k]) : 0;
			owed += v->vd[t][k] ? vdev_owed(v->vd[t][k]) : 0;
		}
		json_key(j, "failed_writes");
		json_uint(j, failed);
		json_key(j, "owed_keys");
		json_uint(j, owed);
		json_key(j, "devices");
		json_object_begin(j);
		for (int k = 0; k < VK_COUNT; k++) {
			if (!v->vd[t][k])
				continue;
			json_key(j, vkind_name((enum vkind)k));
			json_string(j, vdev_devnode(v->vd[t][k]));
		}
		json_object_end(j);
		if (v->virt)
			virt_status_json(v->virt, (int)t, j);
		if (v->qmp)
			qmplink_status_json(v->qmp, v->cfg, (int)t, j);
		json_object_end(j);
	}
	json_array_end(j);
	inputs_json(v, j);
	json_key(j, "counters");
	json_object_begin(j);
	json_key(j, "frames_in");
	json_uint(j, st->frames_in);
	json_key(j, "events_in");
	json_uint(j, st->events_in);
	for (int k = 0; k < VK_COUNT; k++) {
		char key[32];
		snprintf(key, sizeof(key), "frames_out_%s", vkind_name((enum vkind)k));
		json_key(j, key);
		json_uint(j, st->frames_out[k]);
	}
	const struct {
		const char *key;
		uint64_t value;
	} counters[] = {
		{ "dropped", st->dropped },
		{ "switches", st->switches },
		{ "syn_dropped", v->n.syn_dropped },
		{ "write_errors", v->n.write_errors },
		{ "host_releases", v->n.host_releases },
		{ "retracts", st->retracts },
		{ "host_read_frames", st->host_read },
		{ "hooks_run", v->n.hooks_run },
		{ "hooks_failed", v->n.hooks_failed },
		{ "devices_added", v->n.devices_added },
		{ "devices_removed", v->n.devices_removed },
		{ "open_failures", v->n.open_failures },
		{ "reloads", v->n.reloads },
		{ "clients", v->n.clients },
		{ "monitors", v->n.monitors },
		{ "monitor_events", v->n.monitor_events },
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		json_key(j, counters[i].key);
		json_uint(j, counters[i].value);
	}
	json_object_end(j);
	if (v->lat)
		latstats_json(v->lat, v->cfg, j);
	realtime_status_json(j);
	json_object_end(j);
}

/* The daemon's devices for scripts: one flat object per virtual device
 * (which node to give QEMU for which target) and per input it holds. */
void report_list(const struct report_view *v, struct json *j)
{
	int active = router_active(v->router);
	json_object_begin(j);
	json_key(j, "outputs");
	json_array_begin(j);
	for (size_t t = 0; t < v->cfg->n_target; t++) {
		for (int k = 0; k < VK_COUNT; k++) {
			if (!v->vd[t][k])
				continue;
			json_object_begin(j);
			json_key(j, "target");
			json_string(j, v->cfg->target[t].name);
			json_key(j, "kind");
			json_string(j, vkind_name((enum vkind)k));
			json_key(j, "node");
			json_string(j, vdev_devnode(v->vd[t][k]));
			json_key(j, "name");
			json_string(j, vdev_name(v->vd[t][k]));
			json_key(j, "active");
			json_bool(j, (int)t == active);
			json_object_end(j);
		}
	}
	json_array_end(j);
	inputs_json(v, j);
	json_object_end(j);
}
