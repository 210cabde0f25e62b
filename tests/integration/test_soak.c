/* A seeded soak (issue 12): typing with rollover bursts, motion and clicks,
 * hotkey and command switches, replugs, subscribers that die, a QEMU that
 * restarts, and now and then a quiet moment at which every key is up at the
 * source and nothing may be held anywhere: not by the host's own reader of
 * the devices, not on kvmswitch's host devices, not in the guests (QEMU
 * input-linux on one, a plain reader on the other), not in kvmswitch's view.
 *
 *   KVMSWITCH_SOAK_SECONDS   how long (default 100; any length on demand)
 *   KVMSWITCH_SOAK_SEED      replay a run (the seed is printed)
 *
 * A failure prints the seed and the actions before it, which read as the
 * steps of a golden script. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 5000
#define LOG_LINES 64

#define CFG KSD_MATCH_TEST_DEVICES "[target g1]\n[target g2]\n"

static char action_log[LOG_LINES][160];
static unsigned n_actions;
static unsigned seed0;

static void act(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void act(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(action_log[n_actions % LOG_LINES], sizeof(action_log[0]), fmt, ap);
	va_end(ap);
	n_actions++;
}

static void dump_actions(void *unused)
{
	if (!itest_case_failed())
		return;
	printf("# soak failed; KVMSWITCH_SOAK_SEED=%u replays it. The last actions:\n", seed0);
	unsigned first = n_actions > LOG_LINES ? n_actions - LOG_LINES : 0;
	for (unsigned i = first; i < n_actions; i++)
		printf("#   %u: %s\n", i, action_log[i % LOG_LINES]);
	fflush(stdout);
}

/* What a reader holds: a press until its release (a release without a
 * press, or a second press, is ignored, as libinput and QEMU do). */
struct view {
	bool down[KEY_CNT];
};

static void view_event(struct view *v, const struct itest_ev *ev)
{
	if (ev->type == EV_KEY && ev->code < KEY_CNT && ev->value != 2)
		v->down[ev->code] = ev->value != 0;
}

static void view_read(struct view *v, struct treader *r)
{
	struct itest_ev ev;
	while (r && treader_read(r, &ev, 0) > 0)
		view_event(v, &ev);
}

static int view_held(const struct view *v, unsigned *which)
{
	int n = 0;
	for (unsigned c = 0; c < KEY_CNT; c++)
		if (v->down[c]) {
			*which = c;
			n++;
		}
	return n;
}

struct soak {
	struct ksd *k;
	struct tdev *kbd, *mouse;
	unsigned kbd_gen;
	struct treader *host_kbd, *host_mouse; /* the host's own readers */
	struct treader *hk, *hp;               /* kvmswitch host keyboard, pointer */
	struct treader *g2k, *g2p;             /* guest g2: plain readers */
	struct qemu_consumer *q;               /* guest g1: QEMU input-linux */
	char *g1nodes[2];
	struct view v_host, v_hk, v_g2;
	bool down[KEY_CNT]; /* what the soak holds at the source */
	unsigned seed;
};

static unsigned rnd(struct soak *s, unsigned n)
{
	return n ? (unsigned)rand_r(&s->seed) % n : 0;
}

static void pause_us(struct soak *s)
{
	unsigned r = rnd(s, 8);
	usleep(r < 3 ? 1 + rnd(s, 20) : r < 6 ? 20 + rnd(s, 500) : 500 + rnd(s, 3000));
}

static void drain(struct soak *s)
{
	view_read(&s->v_host, s->host_kbd);
	view_read(&s->v_host, s->host_mouse);
	view_read(&s->v_hk, s->hk);
	view_read(&s->v_hk, s->hp);
	view_read(&s->v_g2, s->g2k);
	view_read(&s->v_g2, s->g2p);
}

static void key(struct soak *s, struct tdev *d, unsigned code, int value)
{
	tdev_key(d, code, value);
	s->down[code] = value;
	drain(s);
}

static const unsigned letters[] = { KEY_A, KEY_S, KEY_D, KEY_F, KEY_J, KEY_K, KEY_L, KEY_E, KEY_R, KEY_U };

/* Typing with rollover: each key goes down before the last comes up. */
static void type_burst(struct soak *s)
{
	unsigned n = 2 + rnd(s, 10), prev = 0;
	act("type a burst of %u keys with rollover", n);
	for (unsigned i = 0; i < n; i++) {
		unsigned c = letters[rnd(s, sizeof(letters) / sizeof(letters[0]))];
		if (s->down[c])
			continue;
		if (prev && rnd(s, 3) == 0) {
			/* The release and the next press in one write. */
			struct input_event ev[4] = {
				{ .type = EV_KEY, .code = (uint16_t)prev, .value = 0 },
				{ .type = EV_SYN, .code = SYN_REPORT },
				{ .type = EV_KEY, .code = (uint16_t)c, .value = 1 },
				{ .type = EV_SYN, .code = SYN_REPORT },
			};
			ITEST_ASSERT_SYSCALL(write(tdev_fd(s->kbd), ev, sizeof(ev)));
			s->down[prev] = false;
			s->down[c] = true;
			drain(s);
		} else {
			key(s, s->kbd, c, 1);
			pause_us(s);
			if (prev)
				key(s, s->kbd, prev, 0);
		}
		prev = c;
		pause_us(s);
	}
	if (prev && s->down[prev])
		key(s, s->kbd, prev, 0);
}

static void mouse_burst(struct soak *s)
{
	unsigned n = 1 + rnd(s, 20);
	act("move the mouse %u times, maybe with a click", n);
	bool click = rnd(s, 2);
	if (click)
		key(s, s->mouse, BTN_LEFT, 1);
	for (unsigned i = 0; i < n; i++) {
		TDEV_FRAME(s->mouse, { EV_REL, REL_X, (int)rnd(s, 9) - 4 }, { EV_REL, REL_Y, (int)rnd(s, 9) - 4 });
		drain(s);
		if (rnd(s, 4) == 0)
			pause_us(s);
	}
	if (click)
		key(s, s->mouse, BTN_LEFT, 0);
}

static void hotkey(struct soak *s)
{
	act("press the hotkey (leftctrl+rightctrl)");
	key(s, s->kbd, KEY_LEFTCTRL, 1);
	pause_us(s);
	key(s, s->kbd, KEY_RIGHTCTRL, 1);
	pause_us(s);
	if (rnd(s, 2)) {
		key(s, s->kbd, KEY_LEFTCTRL, 0);
		key(s, s->kbd, KEY_RIGHTCTRL, 0);
	} else {
		key(s, s->kbd, KEY_RIGHTCTRL, 0);
		key(s, s->kbd, KEY_LEFTCTRL, 0);
	}
}

static void command(struct soak *s)
{
	static const char *const cmds[] = { "switch host", "switch g1", "switch g2", "toggle", "next", "prev" };
	const char *c = cmds[rnd(s, sizeof(cmds) / sizeof(cmds[0]))];
	bool typing = rnd(s, 2);
	act("send '%s'%s", c, typing ? " while a key is held" : "");
	unsigned held = letters[rnd(s, sizeof(letters) / sizeof(letters[0]))];
	if (typing)
		key(s, s->kbd, held, 1);
	char *r = ksd_request(s->k, c);
	ITEST_ASSERT_MSG(strncmp(r, "ok", 2) == 0, "'%s' answered '%s'", c, r);
	free(r);
	if (typing) {
		pause_us(s);
		key(s, s->kbd, held, 0);
	}
}

static void open_host_kbd(struct soak *s)
{
	/* The host's reader of the keyboard; a new device is a new reader. */
	s->host_kbd = treader_open(tdev_devnode(s->kbd), false);
	memset(&s->v_host, 0, sizeof(s->v_host));
}

static void replug(struct soak *s)
{
	bool held = rnd(s, 2);
	act("unplug the keyboard%s and plug it back", held ? " with a key held" : "");
	if (held)
		key(s, s->kbd, KEY_A, 1);
	drain(s);
	char *node = strdup(tdev_devnode(s->kbd));
	treader_close(s->host_kbd);
	tdev_destroy(s->kbd);
	s->down[KEY_A] = false;
	ITEST_ASSERT(ksd_wait_input_gone(s->k, node, T));
	free(node);
	char name[32];
	snprintf(name, sizeof(name), "kbd%u", ++s->kbd_gen);
	s->kbd = tdev_create(TDEV_KEYBOARD, name);
	/* Taken (grabbed or not, as the active target wants). */
	int64_t deadline = itest_now_ms() + T;
	while (!ksd_wait_input(s->k, tdev_devnode(s->kbd), true, 50) &&
	       !ksd_wait_input(s->k, tdev_devnode(s->kbd), false, 50) && itest_now_ms() < deadline)
		;
	open_host_kbd(s);
}

static void dying_subscriber(struct soak *s)
{
	static const char *const lines[] = { "subscribe\nrelease\n", "subscribe\nswitch g1\n", "subscribe\nnext\n" };
	const char *l = lines[rnd(s, 3)];
	bool reset = rnd(s, 2);
	act("a subscriber sends '%.*s' and %s", (int)strcspn(l + 10, "\n"), l + 10, reset ? "resets" : "closes");
	int fd = tsock_unix_connect(ksd_socket(s->k));
	tsock_send_str(fd, l);
	if (reset)
		tsock_reset(fd);
	else
		close(fd);
}

static void restart_qemu(struct soak *s)
{
	act("restart g1's QEMU");
	qemu_consumer_stop(s->q);
	s->q = qemu_consumer_start((const char *const *)s->g1nodes, 2, NULL);
}

/* Every key up at the source: then nothing is held anywhere. */
static void quiet(struct soak *s)
{
	act("let every key go and check that nothing is held");
	for (unsigned c = 0; c < KEY_CNT; c++)
		if (s->down[c])
			key(s, c >= BTN_MOUSE && c < BTN_JOYSTICK ? s->mouse : s->kbd, c, 0);
	usleep(300000);
	drain(s);
	unsigned which = 0;
	ITEST_ASSERT_MSG(view_held(&s->v_host, &which) == 0, "the host holds key %u", which);
	ITEST_ASSERT_MSG(view_held(&s->v_hk, &which) == 0, "kvmswitch's host devices hold key %u", which);
	ITEST_ASSERT_MSG(view_held(&s->v_g2, &which) == 0, "guest g2 holds key %u", which);
	qemu_consumer_poll(s->q);
	size_t n;
	const struct qemu_input_event *ev = qemu_consumer_events(s->q, &n);
	char down[64][32];
	int nd = 0;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].kind != QEMU_INPUT_KEY && ev[i].kind != QEMU_INPUT_BTN)
			continue;
		int f = -1;
		for (int j = 0; j < nd; j++)
			if (!strcmp(down[j], ev[i].name))
				f = j;
		if (ev[i].value && f < 0 && nd < 64)
			snprintf(down[nd++], sizeof(down[0]), "%s", ev[i].name);
		else if (!ev[i].value && f >= 0)
			memmove(down[f], down[f + 1], sizeof(down[0]) * (size_t)(--nd - f));
	}
	ITEST_ASSERT_MSG(nd == 0, "guest g1 (QEMU) holds %s", nd ? down[0] : "");
	static const char *const targets[] = { "host", "g1", "g2" };
	for (int t = 0; t < 3; t++)
		ITEST_ASSERT_MSG(ksd_held(s->k, targets[t]) == 0, "kvmswitch says %s holds %d keys", targets[t],
				 ksd_held(s->k, targets[t]));
	char *r = ksd_request(s->k, "ping");
	ITEST_ASSERT_STR_EQ(r, "ok pong");
	free(r);
}

ITEST_TIMEOUT(soak, 1800)
{
	const char *secs_env = getenv("KVMSWITCH_SOAK_SECONDS"), *seed_env = getenv("KVMSWITCH_SOAK_SEED");
	int secs = secs_env && *secs_env ? atoi(secs_env) : 100;
	struct soak *s = calloc(1, sizeof(*s));
	ITEST_ASSERT_NOT_NULL(s);
	s->seed = seed0 = seed_env && *seed_env ? (unsigned)strtoul(seed_env, NULL, 0)
						 : (unsigned)time(NULL) ^ (unsigned)getpid();
	printf("# soak for %d s, seed %u (KVMSWITCH_SOAK_SEED=%u replays it)\n", secs, seed0, seed0);
	fflush(stdout);
	itest_defer(dump_actions, NULL);

	s->kbd = tdev_create(TDEV_KEYBOARD, "kbd0");
	s->mouse = tdev_create(TDEV_MOUSE, "mouse");
	s->k = ksd_start(CFG);
	ITEST_ASSERT(ksd_wait_input(s->k, tdev_devnode(s->kbd), false, 10000));
	open_host_kbd(s);
	s->host_mouse = treader_open(tdev_devnode(s->mouse), false);
	s->hk = ksd_open_vdev(s->k, "host", "keyboard");
	s->hp = ksd_open_vdev(s->k, "host", "pointer");
	s->g2k = ksd_open_vdev(s->k, "g2", "keyboard");
	s->g2p = ksd_open_vdev(s->k, "g2", "pointer");
	s->g1nodes[0] = ksd_vdev_node(s->k, "g1", "keyboard");
	s->g1nodes[1] = ksd_vdev_node(s->k, "g1", "pointer");
	s->q = qemu_consumer_start((const char *const *)s->g1nodes, 2, NULL);

	int64_t end = itest_now_ms() + (int64_t)secs * 1000;
	unsigned quiets = 0;
	while (itest_now_ms() < end && !itest_case_failed()) {
		unsigned r = rnd(s, 100);
		if (r < 35)
			type_burst(s);
		else if (r < 55)
			mouse_burst(s);
		else if (r < 67)
			hotkey(s);
		else if (r < 80)
			command(s);
		else if (r < 84)
			replug(s);
		else if (r < 90)
			dying_subscriber(s);
		else if (r < 92)
			restart_qemu(s);
		else {
			quiet(s);
			quiets++;
		}
	}
	quiet(s);
	printf("# %u actions, %u quiet checks\n", n_actions, quiets + 1);
	ITEST_ASSERT_EQ_INT(ksd_stop(s->k), 0);
	qemu_consumer_stop(s->q);
	free(s->g1nodes[0]);
	free(s->g1nodes[1]);
	free(s);
}
