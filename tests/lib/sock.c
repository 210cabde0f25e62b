/* Sockets for tests that talk to the daemon directly: its control socket,
 * its network listener. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"

int tsock_unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ITEST_ASSERT_SYSCALL(fd);
	ITEST_ASSERT_SYSCALL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	return fd;
}

int tsock_free_tcp_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);
	ITEST_ASSERT_SYSCALL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	ITEST_ASSERT_SYSCALL(getsockname(fd, (struct sockaddr *)&sa, &l));
	close(fd);
	return ntohs(sa.sin_port);
}

int tsock_tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ITEST_ASSERT_SYSCALL(fd);
	ITEST_ASSERT_SYSCALL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
	return fd;
}

void tsock_send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	int64_t deadline = itest_now_ms() + 20000;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { fd, POLLOUT, 0 };
			ITEST_ASSERT_MSG(itest_now_ms() < deadline, "the peer stopped reading");
			poll(&pf, 1, 200);
			continue;
		}
		ITEST_ASSERT_SYSCALL(w);
		p += w;
		n -= (size_t)w;
	}
}

void tsock_send_str(int fd, const char *s)
{
	tsock_send_all(fd, s, strlen(s));
}

char *tsock_recv_line(int fd, int timeout_ms)
{
	size_t cap = 256, n = 0;
	char *s = malloc(cap);
	int64_t deadline = itest_now_ms() + timeout_ms;
	for (;;) {
		int left = (int)(deadline - itest_now_ms());
		struct pollfd pf = { fd, POLLIN, 0 };
		if (left <= 0 || poll(&pf, 1, left) <= 0)
			break;
		char c;
		ssize_t r = recv(fd, &c, 1, 0);
		if (r <= 0)
			break;
		if (c == '\n') {
			s[n] = '\0';
			return s;
		}
		if (n + 2 > cap)
			s = realloc(s, cap *= 2);
		s[n++] = c;
	}
	free(s);
	return NULL;
}

bool tsock_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = itest_now_ms() + timeout_ms;
	char buf[4096];
	while (itest_now_ms() < deadline) {
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			return true;
	}
	return false;
}

void tsock_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	ITEST_ASSERT_SYSCALL(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(fd);
}

char *tsock_auth_response(const char *challenge, const char *secret, const char *cmd)
{
	char msg[1024];
	ITEST_ASSERT(sodium_init() >= 0);
	snprintf(msg, sizeof(msg), "%s %s", challenge, cmd);
	unsigned char mac[32];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, mac);
	char hex[65];
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	char *line;
	ITEST_ASSERT(asprintf(&line, "%s %s\n", hex, cmd) > 0);
	return line;
}

char *tsock_auth_challenge(int fd, int timeout_ms)
{
	char *c = tsock_recv_line(fd, timeout_ms);
	ITEST_ASSERT_MSG(c != NULL, "no challenge");
	ITEST_ASSERT_MSG(strncmp(c, "kvmswitch-auth-1 ", 17) == 0 && strlen(c) == 17 + 64, "bad challenge '%s'", c);
	return c;
}
