#include <stdarg.h>
#include <stdlib.h>
#include <fnmatch.h>

#include "test.h"

bool test_failed;
char test_reason[512];

static struct test_case cases[512];
static size_t n_cases;

void test_register(const char *name, void (*fn)(void))
{
	if (n_cases < sizeof(cases) / sizeof(cases[0]))
		cases[n_cases++] = (struct test_case){ name, fn };
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(test_reason, sizeof(test_reason), "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(test_reason + n, sizeof(test_reason) - (size_t)n, fmt, ap);
	va_end(ap);
	test_failed = true;
}

int golden_run_all(const char *dir, const char *filter, int *failed);

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	const char *golden = getenv("KVMSWITCH_GOLDEN_DIR");
	int failed = 0;
	for (size_t i = 0; i < n_cases; i++) {
		char name[256];
		snprintf(name, sizeof(name), "unit/%s", cases[i].name);
		if (filter && fnmatch(filter, name, 0) != 0)
			continue;
		test_failed = false;
		cases[i].fn();
		if (test_failed) {
			printf("not ok %s - %s\n", name, test_reason);
			failed++;
		} else {
			printf("ok %s\n", name);
		}
		fflush(stdout);
	}
	golden_run_all(golden ? golden : "tests/golden", filter, &failed);
	return failed ? 1 : 0;
}
