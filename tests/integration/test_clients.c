/* Clients of the control socket and the network listener that die in every
 * way while others keep switching. A status bar running `kvmswitch
 * subscribe` that exits at the wrong moment must not take the daemon (and
 * with it the user's keyboard) down: once, a subscriber whose send failed
 * during a switch was freed while the request that caused the switch was
 * still being handled (free(): double free, SIGABRT). Under `make asan` the
 * same run also proves that no memory error happens on the way (the daemon's
 * exit status is checked). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest.h"
#include "ksd.h"

#define T 5000 /* ms to wait for what must come */
#define ROUNDS 500
#define SLOW_MAX 4
#define SECRET "c2VjcmV0LXRoYXQtaXMtbG9uZy1lbm91Z2gtZm9yLWhtYWMK"

/* The switch requests a switcher sends in one burst (one write: the daemon
 * handles them in one go, with the dying clients' data in the same batch). */
static const char burst[] = "switch guest\nswitch host\ntoggle\nnext\nprev\nrelease\ntoggle\n";
#define BURST_REQUESTS 7

/* A connection whose lines we count. */
struct reader {
	int fd;
	char buf[4096];
	size_t len;
	long lines, events; /* lines read; those that start "event switch " */
};

/* Reads what has arrived; counts complete lines. Fails the case if the
 * daemon closed the connection. */
static void reader_drain(struct reader *r, const char *who)
{
	for (;;) {
		ssize_t n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		ITEST_ASSERT_MSG(n > 0, "the daemon closed the %s's connection (%s)", who, n ? strerror(errno) : "EOF");
		r->len += (size_t)n;
		char *start = r->buf, *nl;
		while ((nl = memchr(start, '\n', r->len - (size_t)(start - r->buf)))) {
			r->lines++;
			if (strncmp(start, "event switch ", 13) == 0)
				r->events++;
			else
				ITEST_ASSERT_MSG(strncmp(start, "ok ", 3) == 0, "%s got '%.*s'", who, (int)(nl - start),
						 start);
			start = nl + 1;
		}
		r->len -= (size_t)(start - r->buf);
		memmove(r->buf, start, r->len);
	}
}

/* Waits until r has `lines` lines (or `events` events with lines < 0). */
static bool reader_wait(struct reader *r, const char *who, long lines, long events)
{
	int64_t deadline = itest_now_ms() + 20000;
	for (;;) {
		reader_drain(r, who);
		if (lines >= 0 ? r->lines >= lines : r->events >= events)
			return true;
		if (itest_now_ms() >= deadline)
			return false;
		struct pollfd p = { r->fd, POLLIN, 0 };
		poll(&p, 1, 100);
	}
}

static long long status_number(struct ksd *k, const char *key)
{
	char *s = ksd_request(k, "status");
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(s, pat);
	ITEST_ASSERT_MSG(p != NULL, "no %s in status: %.200s", key, s);
	long long v = atoll(p + strlen(pat));
	free(s);
	return v;
}

/* A subscriber that asks for status replies and reads nothing: its replies
 * and events pile up until the daemon drops it, in the middle of whatever
 * it is doing then (its own requests, or a switch's broadcast). */
static int slow_subscriber(struct ksd *k, int round)
{
	int fd = tsock_unix_connect(ksd_socket(k));
	int n = 60 + round * 37 % 300;
	char *reqs = malloc((size_t)n * 7 + 16);
	ITEST_ASSERT_NOT_NULL(reqs);
	strcpy(reqs, "subscribe\n");
	for (int i = 0; i < n; i++)
		memcpy(reqs + 10 + i * 7, "status\n", 7);
	ssize_t w = send(fd, reqs, 10 + (size_t)n * 7, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w; /* a full socket is what this client is about */
	free(reqs);
	return fd;
}

/* A listener client that dies: at once, or after its response (so the
 * daemon switches, then answers into a reset connection). */
static void dying_remote(int port, int round)
{
	int fd = tsock_tcp_connect(port);
	if (round % 3 == 0) {
		tsock_reset(fd);
		return;
	}
	char *ch = tsock_auth_challenge(fd, T);
	char *resp = tsock_auth_response(ch, SECRET, round % 2 ? "toggle" : "next");
	ssize_t w = send(fd, resp, strlen(resp), MSG_NOSIGNAL);
	(void)w;
	tsock_reset(fd);
	free(ch);
	free(resp);
}

/* One good exchange with the listener: the reply is "ok TARGET". */
static void good_remote(int port)
{
	int fd = tsock_tcp_connect(port);
	char *ch = tsock_auth_challenge(fd, T);
	char *resp = tsock_auth_response(ch, SECRET, "switch guest");
	tsock_send_str(fd, resp);
	char *reply = tsock_recv_line(fd, T);
	ITEST_ASSERT_MSG(reply != NULL, "no reply from the listener");
	ITEST_ASSERT_STR_EQ(reply, "ok guest");
	close(fd);
	free(ch);
	free(resp);
	free(reply);
}

ITEST_TIMEOUT(subscribers_dying_during_a_switch_storm, 300)
{
	char *secret = itest_tmpfile_with("secret", SECRET "\n", 0600);
	int port = tsock_free_tcp_port();
	char cfg[2048];
	snprintf(cfg, sizeof(cfg),
		 KSD_MATCH_TEST_DEVICES "[listener]\nenable = yes\naddress = tcp:127.0.0.1:%d\nsecret-file = %s\n"
					"rate-limit = 100000\n",
		 port, secret);
	struct ksd *k = ksd_start(cfg);
	pid_t pid = tproc_pid(ksd_proc(k));

	/* A well-behaved subscriber: it must get every switch, whoever dies. */
	struct reader healthy = { .fd = tsock_unix_connect(ksd_socket(k)) };
	tsock_send_str(healthy.fd, "subscribe\n");
	ITEST_ASSERT(reader_wait(&healthy, "subscriber", 1, 0));
	long long switches0 = status_number(k, "switches");
	usleep(200000); /* the daemon has closed that status request's connection */
	int fds0 = tproc_fd_count(pid);

	struct reader sw[2] = { { .fd = tsock_unix_connect(ksd_socket(k)) },
				{ .fd = tsock_unix_connect(ksd_socket(k)) } };
	long sent = 0;
	int64_t t0 = itest_now_ms();
	int slow[SLOW_MAX] = { -1, -1, -1, -1 };
	int reset_next = -1;
	for (int round = 0; round < ROUNDS; round++) {
		/* Subscribers that send their last words and go at once. */
		int a = tsock_unix_connect(ksd_socket(k));
		tsock_send_str(a, "subscribe\nrelease\n");
		close(a);
		int b = tsock_unix_connect(ksd_socket(k));
		tsock_send_str(b, round % 2 ? "subscribe\nswitch guest\n" : "subscribe\nswitch host\n");
		close(b);
		/* One subscribed in the last round, replies unread: reset. */
		if (reset_next >= 0)
			tsock_reset(reset_next);
		reset_next = tsock_unix_connect(ksd_socket(k));
		tsock_send_str(reset_next, "subscribe\n");
		/* Every 4th round one that stops reading; the oldest of them goes. */
		int *s = &slow[round / 4 % SLOW_MAX];
		if (round % 4 == 0 && *s >= 0)
			close(*s);
		if (round % 4 == 0)
			*s = slow_subscriber(k, round);
		dying_remote(port, round);

		/* Meanwhile the others keep switching. */
		tsock_send_str(sw[round % 2].fd, burst);
		sent++;
		if (round % 20 == 0)
			good_remote(port);
		reader_drain(&sw[0], "switcher");
		reader_drain(&sw[1], "switcher");
		reader_drain(&healthy, "subscriber");
		if (!tproc_running(ksd_proc(k)))
			ITEST_FAIL("the daemon died in round %d (exit status %d)", round, tproc_wait(ksd_proc(k), 0));
	}
	for (int i = 0; i < SLOW_MAX; i++)
		if (slow[i] >= 0)
			close(slow[i]);
	tsock_reset(reset_next);

	/* Every request of the switchers got its reply. */
	ITEST_ASSERT_MSG(reader_wait(&sw[0], "switcher", (sent + 1) / 2 * BURST_REQUESTS, 0) &&
				 reader_wait(&sw[1], "switcher", sent / 2 * BURST_REQUESTS, 0),
			 "replies missing: %ld and %ld of %ld", sw[0].lines, sw[1].lines, sent * BURST_REQUESTS);
	close(sw[0].fd);
	close(sw[1].fd);
	ITEST_ASSERT(tproc_running(ksd_proc(k)));
	char *pong = ksd_request(k, "ping");
	ITEST_ASSERT_STR_EQ(pong, "ok pong");
	free(pong);

	/* The healthy subscriber saw every switch, one event each. */
	long long switches = status_number(k, "switches") - switches0;
	itest_log("%lld switches in %d rounds, %lld ms", switches, ROUNDS, (long long)(itest_now_ms() - t0));
	ITEST_ASSERT_GT_INT(switches, ROUNDS);
	ITEST_ASSERT_MSG(reader_wait(&healthy, "subscriber", -1, switches), "the subscriber got %ld of %lld events",
			 healthy.events, switches);
	usleep(200000);
	reader_drain(&healthy, "subscriber");
	ITEST_ASSERT_EQ_INT(healthy.events, switches);

	/* The dead are gone: no client and no fd left behind. */
	int64_t deadline = itest_now_ms() + 10000;
	long long clients;
	while ((clients = status_number(k, "clients")) > 2 && itest_now_ms() < deadline)
		usleep(100000);
	ITEST_ASSERT_EQ_INT(clients, 2); /* the subscriber and this status request */
	int fds;
	while ((fds = tproc_fd_count(pid)) > fds0 && itest_now_ms() < deadline)
		usleep(100000);
	ITEST_ASSERT_LE_INT(fds, fds0);

	close(healthy.fd);
	ITEST_ASSERT_EQ_INT(ksd_stop(k), 0);
	free(secret);
}
