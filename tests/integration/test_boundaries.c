/* The boundaries of a switch, against a real kernel (issue 12): fast typing
 * with rollover across a switch that waits for a key to come up, in both
 * directions, many times with random gaps. Every keystroke must reach exactly
 * one side (the host's own reader of the physical device, QEMU input-linux
 * on the guest's keyboard, or kvmswitch's host keyboard), and nothing may be
 * left held anywhere.
 *
 * ITEST_SEED picks the random gaps (printed, so a failure can be replayed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 5000

/* What a reader made of a key: presses it saw, and whether it holds it. A
 * release without a press is ignored, as libinput and QEMU do. */
struct keyview {
	int presses[KEY_CNT];
	bool down[KEY_CNT];
};

static void view_key(struct keyview *v, unsigned code, int value)
{
	if (code >= KEY_CNT || value == 2)
		return;
	if (value && !v->down[code]) {
		v->down[code] = true;
		v->presses[code]++;
	} else if (!value) {
		v->down[code] = false;
	}
}

static void view_read(struct keyview *v, struct treader *r)
{
	struct itest_ev ev;
	while (r && treader_read(r, &ev, 0) > 0)
		if (ev.type == EV_KEY)
			view_key(v, ev.code, ev.value);
}

/* QEMU's trace names keys by qcode. */
static unsigned qcode_key(const char *name)
{
	static const struct {
		const char *q;
		unsigned code;
	} map[] = { { "a", KEY_A }, { "s", KEY_S }, { "d", KEY_D }, { "k", KEY_K }, { "l", KEY_L }, { "h", KEY_H } };
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].q, name))
			return map[i].code;
	return KEY_RESERVED;
}

static void view_qemu(struct keyview *v, struct qemu_consumer *q)
{
	size_t n;
	qemu_consumer_poll(q);
	const struct qemu_input_event *ev = qemu_consumer_events(q, &n);
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		if (ev[i].kind == QEMU_INPUT_KEY)
			view_key(v, qcode_key(ev[i].name), ev[i].value);
}

/* Several frames in one write(): the kernel queues them back to back, so
 * kvmswitch may read them in one read() or split at any frame. */
static void write_frames(struct tdev *d, const struct itest_ev *ev, size_t n)
{
	struct input_event buf[16];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 16; i++)
		buf[k++] = (struct input_event){ .type = ev[i].type, .code = ev[i].code, .value = ev[i].value };
	ITEST_ASSERT_SYSCALL(write(tdev_fd(d), buf, k * sizeof(buf[0])));
}

static unsigned seed_from_env(void)
{
	const char *s = getenv("ITEST_SEED");
	unsigned seed = s && *s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)time(NULL) ^ (unsigned)getpid();
	printf("# seed %u (ITEST_SEED=%u replays it)\n", seed, seed);
	fflush(stdout);
	return seed;
}

/* A gap between a microsecond and a couple of milliseconds, most short. */
static void gap(unsigned *seed)
{
	unsigned r = (unsigned)rand_r(seed);
	useconds_t us = r % 4 == 0 ? 1 + r % 2000 : r % 4 == 1 ? 1 + r % 200 : 1 + r % 20;
	usleep(us);
}

static const char *const key_names[] = {
	[KEY_A] = "A", [KEY_S] = "S", [KEY_D] = "D", [KEY_K] = "K", [KEY_L] = "L", [KEY_H] = "H"
};

ITEST_TIMEOUT(rollover_across_deferred_switches, 600)
{
	enum { ROUNDS = 40 };
	unsigned seed = seed_from_env();
	struct tdev *kbd = tdev_create(TDEV_KEYBOARD, "kbd");
	struct ksd *k = ksd_start(NULL); /* native host + guest */
	ITEST_ASSERT(ksd_wait_input(k, tdev_devnode(kbd), false, 10000));
	struct treader *host = treader_open(tdev_devnode(kbd), false); /* the compositor */
	/* kvmswitch's host keyboard (what only kvmswitch read on the way to
	 * the host comes out there). Versions without it lost those keys. */
	char *hknode = treader_find_node("kvmswitch host keyboard", 3000);
	struct treader *hk = hknode ? treader_open(hknode, false) : NULL;
	free(hknode);
	char *gnode = ksd_vdev_node(k, "guest", "keyboard");
	struct qemu_consumer *q = qemu_consumer_start((const char *const[]){ gnode }, 1, NULL);
	struct keyview vh = { 0 }, vk = { 0 }, vq;

	for (int i = 0; i < ROUNDS; i++) {
		/* To the guest: A is held, so the keyboard's grab waits; A
		 * comes up and S goes down in one write (fast typing). */
		tdev_key(kbd, KEY_A, 1);
		usleep(20000); /* kvmswitch reads the press before the switch */
		char *r = ksd_request(k, "switch guest");
		ITEST_ASSERT_STR_EQ(r, "ok guest");
		free(r);
		write_frames(kbd,
			     (const struct itest_ev[]){ { EV_KEY, KEY_A, 0 },
							{ EV_SYN, SYN_REPORT, 0 },
							{ EV_KEY, KEY_S, 1 },
							{ EV_SYN, SYN_REPORT, 0 } },
			     4);
		gap(&seed);
		tdev_key(kbd, KEY_S, 0);
		ITEST_ASSERT_MSG(ksd_wait_input(k, tdev_devnode(kbd), true, T), "round %d: the keyboard is not grabbed",
				 i);
		tdev_tap(kbd, KEY_D); /* typed in the guest */

		/* To the host: K is held in the guest, so the ungrab waits; K
		 * comes up and L goes down in one write. */
		tdev_key(kbd, KEY_K, 1);
		usleep(20000);
		r = ksd_request(k, "switch host");
		ITEST_ASSERT_STR_EQ(r, "ok host");
		free(r);
		write_frames(kbd,
			     (const struct itest_ev[]){ { EV_KEY, KEY_K, 0 },
							{ EV_SYN, SYN_REPORT, 0 },
							{ EV_KEY, KEY_L, 1 },
							{ EV_SYN, SYN_REPORT, 0 } },
			     4);
		gap(&seed);
		tdev_key(kbd, KEY_L, 0);
		ITEST_ASSERT_MSG(ksd_wait_input(k, tdev_devnode(kbd), false, T),
				 "round %d: the keyboard is still grabbed", i);
		tdev_tap(kbd, KEY_H); /* typed on the host */
		struct keyview before = vh;
		view_read(&vh, host);
		view_read(&vk, hk);
		/* Which round sent a guest key to the host: said, to match
		 * with the daemon's log if the counts below do not add up. */
		static const unsigned guest_keys[] = { KEY_D, KEY_K };
		for (size_t g = 0; g < 2; g++)
			if (vh.presses[guest_keys[g]] != before.presses[guest_keys[g]])
				printf("# round %d: %s reached the host (a grab was taken back)\n", i,
				       key_names[guest_keys[g]]);
	}

	/* The guest got D and K each round; wait for them, then a little
	 * longer for anything extra (a doubled S). */
	ITEST_ASSERT_MSG(qemu_consumer_wait_count(q, 4 * ROUNDS, 60000), "QEMU saw fewer key events than %d",
			 4 * ROUNDS);
	usleep(500000);
	view_qemu(&vq, q);
	view_read(&vh, host);
	view_read(&vk, hk);

	/* The grabs taken back, with their time, for a failure below. */
	char *log = itest_read_file(tproc_stderr_path(ksd_proc(k)), NULL);
	for (char *l = log ? strtok(log, "\n") : NULL; l; l = strtok(NULL, "\n"))
		if (strstr(l, "let go at once") || strstr(l, "lets go"))
			printf("# %s\n", l);
	free(log);

	/* Every keystroke reached exactly one side. */
	static const unsigned keys[] = { KEY_A, KEY_S, KEY_D, KEY_K, KEY_L, KEY_H };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		unsigned c = keys[i];
		int total = vh.presses[c] + vk.presses[c] + vq.presses[c];
		ITEST_ASSERT_MSG(total == ROUNDS,
				 "%s was pressed %d times but reached the host %d, "
				 "kvmswitch's host keyboard %d "
				 "and the guest %d times (%s)",
				 key_names[c], ROUNDS, vh.presses[c], vk.presses[c], vq.presses[c],
				 total > ROUNDS ? "doubled" : "lost");
	}
	/* Where each belongs. A and H were typed on the host, D and K in the
	 * guest. S goes to the host when it was queued before the grab (which
	 * waited for A), to the guest when kvmswitch read A's release alone and
	 * grabbed first; L goes to the host directly when kvmswitch read K's
	 * release alone and let go first, else through kvmswitch's host
	 * keyboard (it was queued while kvmswitch held the keyboard). */
	ITEST_ASSERT_EQ_INT(vh.presses[KEY_A], ROUNDS);
	ITEST_ASSERT_EQ_INT(vh.presses[KEY_H], ROUNDS);
	/* D and K were typed once the keyboard was grabbed; if a grab was
	 * taken back (a key the host held), they went to the host. */
	ITEST_ASSERT_EQ_INT(vk.presses[KEY_D] + vk.presses[KEY_K], 0);
	ITEST_ASSERT_EQ_INT(vk.presses[KEY_S], 0);
	ITEST_ASSERT_EQ_INT(vq.presses[KEY_L], 0);
	printf("# S reached the host %d and the guest %d times; L the host %d times, "
	       "through kvmswitch's host "
	       "keyboard %d times; D and K the host %d times\n",
	       vh.presses[KEY_S], vq.presses[KEY_S], vh.presses[KEY_L], vk.presses[KEY_L],
	       vh.presses[KEY_D] + vh.presses[KEY_K]);
	/* Nothing is left held anywhere. */
	for (unsigned c = 0; c < KEY_CNT; c++) {
		ITEST_ASSERT_MSG(!vh.down[c], "key %u is held on the host", c);
		ITEST_ASSERT_MSG(!vk.down[c], "key %u is held on kvmswitch's host keyboard", c);
		ITEST_ASSERT_MSG(!vq.down[c], "key %u is held in the guest", c);
	}
	ITEST_ASSERT_EQ_INT(ksd_held(k, "guest"), 0);
	ITEST_ASSERT_EQ_INT(ksd_held(k, "host"), 0);
	qemu_consumer_stop(q);
	free(gnode);
}
