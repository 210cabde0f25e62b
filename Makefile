# kvmswitch: plain Makefile. `make`, `make check`, `make install`.
VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/kvmswitch
SYSCONFDIR ?= /etc
UDEVDIR  ?= $(shell pkg-config --variable=udevdir udev 2>/dev/null || echo /usr/lib/udev)
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user
SYSTEMDSYSTEMDIR ?= $(PREFIX)/lib/systemd/system
B        ?= build

CC       ?= cc
PKGS      = libevdev libudev libvirt xkbcommon libinput libsystemd libsodium
WARN      = -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wvla \
            -Wshadow -Wformat=2 -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -DKVMSWITCH_VERSION='"$(VERSION)"' -Iinclude
ALL_CFLAGS = -std=gnu11 $(WARN) -fstack-protector-strong -fPIE $(CFLAGS)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDFLAGS  += -pie -Wl,-z,relro,-z,now -Wl,--as-needed

# The pure core: no I/O, no library headers beyond libc and <linux/input.h>.
CORE_SRC  = $(wildcard src/core/*.c)
# The I/O shell around it.
SHELL_SRC = $(wildcard src/shell/*.c)
CORE_OBJ  = $(CORE_SRC:%.c=$(B)/%.o)
SHELL_OBJ = $(SHELL_SRC:%.c=$(B)/%.o)

UNIT_SRC  = $(wildcard tests/unit/*.c)
TLIB_SRC  = $(wildcard tests/lib/*.c)
ITEST_SRC = $(wildcard tests/integration/*.c)
ITESTS    = $(ITEST_SRC:tests/integration/%.c=$(B)/tests/%)

all: $(B)/kvmswitch

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Core objects are compiled without any library include paths, so a leaked
# I/O header fails the build (and `make core-check` says which).
$(CORE_OBJ): $(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(SHELL_OBJ): $(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/kvmswitch: $(CORE_OBJ) $(SHELL_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Unit tests link the core only.
$(B)/unit-tests: $(UNIT_SRC:%.c=$(B)/%.o) $(CORE_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^

$(B)/gen/evcodes.h: tests/unit/gen-evcodes.sh
	@mkdir -p $(dir $@)
	tests/unit/gen-evcodes.sh > $@

$(UNIT_SRC:%.c=$(B)/%.o): $(B)/%.o: %.c $(B)/gen/evcodes.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(B)/gen -Itests/unit $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/lib/%.o: tests/lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/lib $(PKG_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/integration/%.o: tests/integration/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/lib $(PKG_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%: $(B)/tests/integration/%.o $(TLIB_SRC:%.c=$(B)/%.o)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# No unit-test binary only while tests/unit has no sources (tests/check then
# runs none); with sources, a failing unit build fails `make tests`.
tests: $(B)/kvmswitch $(if $(UNIT_SRC),$(B)/unit-tests) $(ITESTS)

# Keep the test objects (make would delete them as intermediates).
.SECONDARY: $(TLIB_SRC:%.c=$(B)/%.o) $(ITEST_SRC:%.c=$(B)/%.o)

# Fails if a core file includes an I/O or library header.
core-check:
	@tests/core-check.sh $(CORE_SRC) $(wildcard include/core/*.h)

check: tests core-check
	@KVMSWITCH_BUILD=$(B) tests/check

# First-time set-up, the same for a new user and CI: the Debian packages
# (tests/deps.sh, as root), then `all` and `tests`, built as the invoking
# user (under sudo: as $SUDO_USER, so the build dir is not root's).
setup:
	@if [ "$$(id -u)" = 0 ]; then tests/deps.sh; else sudo tests/deps.sh; fi
	@if [ "$$(id -u)" = 0 ] && [ -n "$${SUDO_USER:-}" ] && [ "$$SUDO_USER" != root ]; then \
		echo "make setup: building as $$SUDO_USER"; \
		runuser -u "$$SUDO_USER" -- $(MAKE) all tests; \
	else \
		$(MAKE) all tests; \
	fi

asan:
	$(MAKE) B=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" tests
	KVMSWITCH_BUILD=$(CURDIR)/build-asan tests/check

deps:
	tests/deps.sh

format:
	clang-format -i $(CORE_SRC) $(SHELL_SRC) include/*.h include/*/*.h $(UNIT_SRC) $(TLIB_SRC) $(ITEST_SRC)

clean:
	rm -rf $(B) build-asan

.PHONY: all tests check core-check asan deps setup format clean
-include $(shell find $(B) -name '*.d' 2>/dev/null)
