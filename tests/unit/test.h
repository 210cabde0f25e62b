/* A tiny test harness for the core's unit tests: TEST(name) registers a case,
 * CHECK* fail it with file:line and the values. Output: one "ok NAME" or
 * "not ok NAME - reason" line per case. */
#ifndef KVMSWITCH_TEST_H
#define KVMSWITCH_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

extern bool test_failed;
extern char test_reason[512];

void test_register(const char *name, void (*fn)(void));
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define TEST(name)                                                                         \
	static void test_##name(void);                                                     \
	__attribute__((constructor)) static void register_##name(void)                     \
	{                                                                                  \
		test_register(#name, test_##name);                                         \
	}                                                                                  \
	static void test_##name(void)

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                  \
			return;                                                            \
		}                                                                          \
	} while (0)

#define CHECK_INT(a, b)                                                                    \
	do {                                                                               \
		long long _a = (long long)(a), _b = (long long)(b);                        \
		if (_a != _b) {                                                            \
			test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, _a, #b, _b); \
			return;                                                            \
		}                                                                          \
	} while (0)

#define CHECK_STR(a, b)                                                                    \
	do {                                                                               \
		const char *_a = (a), *_b = (b);                                           \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                   \
			test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,        \
				  _a ? _a : "(null)", _b ? _b : "(null)");                \
			return;                                                            \
		}                                                                          \
	} while (0)

/* The unit tests' stand-in for the shell's key-name resolver: evdev names from
 * the kernel header, plus a few XKB keysym names. */
struct keyname_resolver;
extern const struct keyname_resolver test_resolver;
int test_code_from_name(const char *name, unsigned *type, unsigned *code);
const char *test_code_name(unsigned type, unsigned code);

#endif
