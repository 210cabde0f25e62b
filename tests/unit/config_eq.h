/* Are two configurations the same, line numbers and path aside? For the
 * printer's round trip (test_config.c, fuzz_config.c). */
#ifndef KVMSWITCH_TEST_CONFIG_EQ_H
#define KVMSWITCH_TEST_CONFIG_EQ_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* True if a and b are equal in every setting (and resolved chord); else
 * false with the first difference named in why. */
bool config_equal(const struct config *a, const struct config *b, char *why, size_t len);

#endif
