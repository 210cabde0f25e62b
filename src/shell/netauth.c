/* What the network listener and `kvmswitch remote` share: the secret file,
 * the MAC, the address syntax. */
#include "netauth.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int netauth_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void netauth_secret_free(unsigned char *secret, size_t len)
{
	(void)len;
	if (secret)
		sodium_free(secret); /* zeroes it */
}

int netauth_read_secret(const char *path, unsigned char **secret, size_t *len, char *err, size_t errlen)
{
	char why[200];
	if (netauth_init() < 0) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the secret file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat the secret file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "the secret file %s is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "the secret file %s is accessible by group or others (mode %04o); run: chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen, "the secret file %s belongs to uid %u, not to this user (uid %u) or root", path,
			 (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return -1;
	}
	/* Both buffers are libsodium's guarded, zeroed-on-free memory: the
	 * file's bytes are the secret too. */
	size_t cap = AUTH_SECRET_FILE_MAX + 1, n = 0;
	unsigned char *buf = sodium_malloc(cap), *key = sodium_malloc(AUTH_SECRET_MAX);
	if (!buf || !key) {
		snprintf(err, errlen, "cannot read the secret file %s: out of memory", path);
		goto bad;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "cannot read the secret file %s: %s", path, strerror(errno));
			goto bad;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			snprintf(err, errlen, "the secret file %s is too big (a secret has at most %d bytes)", path,
				 AUTH_SECRET_MAX);
			goto bad;
		}
	}
	long sl = auth_secret_decode(buf, n, key, why, sizeof(why));
	if (sl < 0) {
		snprintf(err, errlen, "the secret file %s is not usable: %s", path, why);
		goto bad;
	}
	close(fd);
	sodium_free(buf);
	*secret = key;
	*len = (size_t)sl;
	return 0;
bad:
	close(fd);
	if (buf)
		sodium_free(buf);
	if (key)
		sodium_free(key);
	return -1;
}

int netauth_mac(const unsigned char *secret, size_t secret_len, const void *msg, size_t msg_len,
		uint8_t mac[AUTH_MAC_BYTES])
{
	crypto_auth_hmacsha256_state st;
	if (netauth_init() < 0 || crypto_auth_hmacsha256_init(&st, secret, secret_len) != 0 ||
	    crypto_auth_hmacsha256_update(&st, msg, msg_len) != 0 || crypto_auth_hmacsha256_final(&st, mac) != 0) {
		sodium_memzero(&st, sizeof(st));
		return -1;
	}
	sodium_memzero(&st, sizeof(st));
	return 0;
}

static int parse_number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int netauth_parse_address(const char *text, bool passive, struct sockaddr_storage *sa, socklen_t *salen,
			  char *err, size_t errlen)
{
	const char *colon = strrchr(text, ':');
	memset(sa, 0, sizeof(*sa));
	bool tcp = !strncmp(text, "tcp:", 4), vsock = !strncmp(text, "vsock:", 6);
	const char *host = text + (tcp ? 4 : 6);
	if ((!tcp && !vsock) || !colon || colon < host) {
		snprintf(err, errlen, "bad address '%s' (expected tcp:ADDRESS:PORT or vsock:CID:PORT)", text);
		return -1;
	}
	char h[256];
	snprintf(h, sizeof(h), "%.*s", (int)(colon - host), host);
	const char *port = colon + 1;
	unsigned long pn, cid;
	if (vsock) {
		if (parse_number(port, 0xffffffffu, &pn) < 0) {
			snprintf(err, errlen, "bad vsock port '%s' in '%s'", port, text);
			return -1;
		}
		if (!strcmp(h, "any"))
			cid = VMADDR_CID_ANY;
		else if (!strcmp(h, "host"))
			cid = VMADDR_CID_HOST;
		else if (!strcmp(h, "local"))
			cid = 1; /* VMADDR_CID_LOCAL */
		else if (parse_number(h, 0xffffffffu, &cid) < 0) {
			snprintf(err, errlen, "bad vsock CID '%s' in '%s' (a number, any, host or local)", h, text);
			return -1;
		}
		struct sockaddr_vm *vm = (struct sockaddr_vm *)sa;
		vm->svm_family = AF_VSOCK;
		vm->svm_cid = (unsigned)cid;
		vm->svm_port = (unsigned)pn;
		*salen = sizeof(*vm);
		return 0;
	}
	if (parse_number(port, 65535, &pn) < 0 || pn == 0) {
		snprintf(err, errlen, "bad TCP port '%s' in '%s'", port, text);
		return -1;
	}
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		memmove(h, h + 1, hl - 2);
		h[hl - 2] = '\0';
	}
	if (!h[0]) {
		snprintf(err, errlen, "no host in '%s' (e.g. tcp:192.168.122.1:%s)", text, port);
		return -1;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_NUMERICHOST | AI_PASSIVE : AI_ADDRCONFIG);
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(h, port, &hints, &res);
	if (rc != 0 || !res) {
		if (passive && rc == EAI_NONAME)
			snprintf(err, errlen, "'%s' is not an IP address (the listener binds to one, e.g. the libvirt bridge's 192.168.122.1)",
				 h);
		else
			snprintf(err, errlen, "cannot resolve '%s': %s", h, gai_strerror(rc));
		if (res)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
