/* libFuzzer harness for the config parser: config_parse() on any bytes, then
 * config_resolve_keys() through the unit tests' key-name resolver (evdev
 * names, a few XKB keysyms, one that sits on two keys). Checked besides
 * memory safety: an error is one "fuzz.conf..." line; a config that loads
 * has exactly one host target, a defined start target, unique names, and
 * maps onto itself; a router built from it starts and takes a few events;
 * and config_print() of it is text that parses to the same configuration
 * (config_eq.c) and prints the same again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/router.h"
#include "config_eq.h"
#include "test.h"

static void emit(void *data, int target, enum vkind kind, const struct input_event *ev, size_t n)
{
}
static int grab(void *data, int dev, bool on, struct router_grab *res)
{
	return 0;
}
static void leds(void *data, int dev, uint32_t l)
{
}
static void switched(void *data, int from, int to, enum switch_reason why)
{
}

static void check_error(const char *err)
{
	size_t n = strnlen(err, CONFIG_ERR_MAX);
	if (n == 0 || n >= CONFIG_ERR_MAX || strncmp(err, "fuzz.conf", 9) != 0 || strchr(err, '\n')) {
		fprintf(stderr, "bad error message: '%.*s'\n", (int)n, err);
		abort();
	}
}

/* print(cfg) parses to cfg, and prints the same text again. */
static void check_round_trip(const struct config *cfg)
{
	char err[CONFIG_ERR_MAX], why[256];
	struct buf a, b;
	buf_init(&a);
	buf_init(&b);
	if (config_print(cfg, &a) < 0)
		abort();
	struct config *again = config_parse(a.data, a.len, "printed", err, sizeof(err));
	if (!again || config_resolve_keys(again, &test_resolver, err, sizeof(err)) < 0) {
		fprintf(stderr, "the printed configuration does not load: %s\n%s", err, a.data);
		abort();
	}
	if (!config_equal(cfg, again, why, sizeof(why))) {
		fprintf(stderr, "parse(print(cfg)) != cfg: %s\n%s", why, a.data);
		abort();
	}
	if (config_print(again, &b) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len)) {
		fprintf(stderr, "printing the printed configuration changed it:\n%s---\n%s", a.data, b.data);
		abort();
	}
	config_destroy(again);
	buf_finish(&a);
	buf_finish(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERR_MAX];
	memset(err, 0, sizeof(err));
	struct config *cfg = config_parse((const char *)data, size, "fuzz.conf", err, sizeof(err));
	if (!cfg) {
		check_error(err);
		return 0;
	}
	if (config_resolve_keys(cfg, &test_resolver, err, sizeof(err)) < 0) {
		check_error(err);
		config_destroy(cfg);
		return 0;
	}
	int hosts = 0;
	for (size_t i = 0; i < cfg->n_target; i++) {
		hosts += cfg->target[i].type == TARGET_HOST;
		if (config_target_index(cfg, cfg->target[i].name) != (int)i)
			abort();
	}
	if (cfg->n_target < 1 || cfg->n_target > CONFIG_MAX_TARGETS || hosts != 1 ||
	    config_host_index(cfg) < 0 || config_target_index(cfg, cfg->start) < 0)
		abort();
	check_round_trip(cfg);
	int map[CONFIG_MAX_TARGETS];
	config_map_targets(cfg, cfg, map);
	for (size_t i = 0; i < cfg->n_target; i++)
		if (map[i] != (int)i)
			abort();
	const struct router_output out = { NULL, emit, grab, leds, NULL, switched, NULL, NULL, NULL, NULL };
	struct router *r = router_create(cfg, &out);
	if (!r)
		abort();
	router_start(r, 0);
	struct router_device_info info = { .keyboard = true };
	router_device_add(r, 0, &info, 0);
	const struct input_event ev[] = {
		{ .type = EV_KEY, .code = KEY_LEFTCTRL, .value = 1 },
		{ .type = EV_KEY, .code = KEY_RIGHTCTRL, .value = 1 },
		{ .type = EV_SYN, .code = SYN_REPORT },
		{ .type = EV_KEY, .code = KEY_RIGHTCTRL, .value = 0 },
		{ .type = EV_KEY, .code = KEY_LEFTCTRL, .value = 0 },
		{ .type = EV_SYN, .code = SYN_REPORT },
	};
	router_feed(r, 0, ev, sizeof(ev) / sizeof(ev[0]), 10);
	router_tick(r, UINT64_MAX - 1);
	for (size_t t = 0; t < cfg->n_target; t++)
		if (router_target_held(r, (int)t))
			abort();
	router_shutdown(r);
	router_destroy(r);
	config_destroy(cfg);
	return 0;
}
