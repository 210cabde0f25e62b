# kvmswitch: plain Makefile. `make`, `make check`, `make install`.
VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share
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

all: $(B)/kvmswitch man

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

# Test-only faults, LD_PRELOAD'ed into the daemon by the integration tests
# (tests/preload/NAME.c: $(B)/preload/NAME.so; docs/SECURITY.md), never part
# of the program. Not instrumented, so that they load into the ASan build too.
PRELOADS = $(patsubst tests/preload/%.c,$(B)/preload/%.so,$(wildcard tests/preload/*.c))
$(B)/preload/%.so: tests/preload/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

# No unit-test binary only while tests/unit has no sources (tests/check then
# runs none); with sources, a failing unit build fails `make tests`.
tests: $(B)/kvmswitch $(if $(UNIT_SRC),$(B)/unit-tests) $(ITESTS) $(PRELOADS) man

# Keep the test objects (make would delete them as intermediates).
.SECONDARY: $(TLIB_SRC:%.c=$(B)/%.o) $(ITEST_SRC:%.c=$(B)/%.o)

# ---- man pages (scdoc), systemd units, install
MAN_SRC   = docs/kvmswitch.1.scd docs/kvmswitch.conf.5.scd
MANS      = $(MAN_SRC:docs/%.scd=$(B)/man/%)
# Opt-in udev rules: installed as examples, active only once copied to /etc.
OPTIN_RULES = udev/70-kvmswitch-uaccess.rules udev/72-kvmswitch-group.rules

man: $(MANS)

$(B)/man/%: docs/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@

# The units name $(BINDIR), so they are made as they are installed.
install: $(B)/kvmswitch man
	install -Dm755 $(B)/kvmswitch $(DESTDIR)$(BINDIR)/kvmswitch
	install -Dm644 $(B)/man/kvmswitch.1 $(DESTDIR)$(MANDIR)/man1/kvmswitch.1
	install -Dm644 $(B)/man/kvmswitch.conf.5 $(DESTDIR)$(MANDIR)/man5/kvmswitch.conf.5
	install -Dm644 udev/71-kvmswitch.rules $(DESTDIR)$(UDEVDIR)/rules.d/71-kvmswitch.rules
	install -d $(DESTDIR)$(SYSTEMDUSERDIR) $(DESTDIR)$(SYSTEMDSYSTEMDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/user/kvmswitch.service.in > $(DESTDIR)$(SYSTEMDUSERDIR)/kvmswitch.service
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/system/kvmswitch.service.in > $(DESTDIR)$(SYSTEMDSYSTEMDIR)/kvmswitch.service
	chmod 644 $(DESTDIR)$(SYSTEMDUSERDIR)/kvmswitch.service $(DESTDIR)$(SYSTEMDSYSTEMDIR)/kvmswitch.service
	install -d $(DESTDIR)$(DATADIR)/kvmswitch/udev $(DESTDIR)$(DOCDIR)
	install -m644 $(OPTIN_RULES) $(DESTDIR)$(DATADIR)/kvmswitch/udev/
	install -m644 $(wildcard docs/*.md) $(DESTDIR)$(DOCDIR)/
	install -Dm755 docs/switch-back/kvmswitch-ssh-switch $(DESTDIR)$(DOCDIR)/switch-back/kvmswitch-ssh-switch
	install -m644 docs/switch-back/kvmswitch-remote.ps1 docs/switch-back/kvmswitch.ahk $(DESTDIR)$(DOCDIR)/switch-back/
	@echo 'Installed. To apply the udev rules now: udevadm control --reload && udevadm trigger --subsystem-match=input'

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kvmswitch
	rm -f $(DESTDIR)$(MANDIR)/man1/kvmswitch.1 $(DESTDIR)$(MANDIR)/man5/kvmswitch.conf.5
	rm -f $(DESTDIR)$(UDEVDIR)/rules.d/71-kvmswitch.rules
	rm -f $(DESTDIR)$(SYSTEMDUSERDIR)/kvmswitch.service $(DESTDIR)$(SYSTEMDSYSTEMDIR)/kvmswitch.service
	rm -rf $(DESTDIR)$(DATADIR)/kvmswitch $(DESTDIR)$(DOCDIR)

# Fails if a core file includes an I/O or library header.
core-check:
	@tests/core-check.sh $(CORE_SRC) $(wildcard include/core/*.h)

# The fuzzers run briefly first (natively, a minute or so), then the unit
# and integration tests.
check: tests core-check fuzz-check
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

# `make check` against an AddressSanitizer + UBSan build in build-asan: the
# unit tests, and the integration tests in the VM with that build's daemon.
# Any report fails: UBSan aborts, ASan exits non-zero (a leak at exit too),
# and the tests check the daemon's exit status. Timeouts are scaled for it.
ASAN_ENV = ITEST_TIMEOUT_FACTOR=3 KVMSWITCH_VM_TIMEOUT=3600 KVMSWITCH_TEST_PROGRAM_TIMEOUT=2400 \
	ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_invalid_pointer_pairs=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# (-O1 changes what gcc's format-truncation analysis sees; the plain build
# is the one that enforces warnings.)
ASAN_CFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
	-Wno-error=format-truncation
asan:
	$(MAKE) B=build-asan CFLAGS="$(ASAN_CFLAGS)" LDFLAGS="-fsanitize=address,undefined" tests
	@$(ASAN_ENV) KVMSWITCH_BUILD=$(CURDIR)/build-asan tests/check

# libFuzzer harnesses (tests/fuzz/fuzz_NAME.c) against the core only, built
# with clang, ASan and UBSan. `make fuzz` runs each for FUZZ_SECONDS from the
# seeds in tests/fuzz/corpus/NAME (FUZZERS="router proto" picks some);
# `make check` runs them briefly (FUZZ_CHECK_SECONDS each).
FUZZ_CC      ?= clang
FUZZ_B        = $(B)/fuzz
FUZZ_FLAGS    = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_NAMES    = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS     = $(FUZZ_NAMES:%=$(FUZZ_B)/fuzz_%)
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 15
FUZZERS      ?= $(FUZZ_NAMES)

$(FUZZ_B)/obj/%.o: %.c $(B)/gen/evcodes.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -I$(B)/gen -Itests/unit -std=gnu11 $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
		-MMD -MP -c -o $@ $<

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/tests/fuzz/fuzz_%.o $(FUZZ_B)/obj/tests/unit/names.o $(CORE_SRC:%.c=$(FUZZ_B)/obj/%.o)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^

.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_B)/obj/tests/fuzz/fuzz_%.o) $(FUZZ_B)/obj/tests/unit/names.o \
	$(CORE_SRC:%.c=$(FUZZ_B)/obj/%.o)

fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || { echo "make: $(FUZZ_CC) not found: the fuzzers need clang and libclang-rt-14-dev (sudo make deps)" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: fuzz-build
	@KVMSWITCH_BUILD=$(B) tests/fuzz/run $(FUZZ_SECONDS) $(FUZZERS)

fuzz-check: fuzz-build
	@KVMSWITCH_BUILD=$(B) tests/fuzz/run $(FUZZ_CHECK_SECONDS) $(FUZZ_NAMES)

# The benchmark (docs/PERFORMANCE.md): tests/bench/run boots the test VM, runs
# $(B)/bench/kvmbench in it (the floor, kvmswitch and peers), then regenerates
# the tables of docs/PERFORMANCE.md and docs/perf/latency-cdf*.png. About 40
# minutes; KVMBENCH_QUICK=1 for a short development run (tests/bench/bench.c
# lists the knobs).
$(B)/tests/bench/bench.o: tests/bench/bench.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/lib $(PKG_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/kvmbench: $(B)/tests/bench/bench.o $(TLIB_SRC:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# The baseline for the cost of measuring the hop (src/shell/latstats.c):
# kvmswitch without latstats_record.
$(B)/bench/nolatstats/src/shell/daemon.o: src/shell/daemon.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DKVMSWITCH_NO_LATSTATS $(PKG_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/kvmswitch-nolatstats: $(CORE_OBJ) $(filter-out $(B)/src/shell/daemon.o,$(SHELL_OBJ)) \
		$(B)/bench/nolatstats/src/shell/daemon.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench: $(B)/kvmswitch $(B)/bench/kvmbench $(B)/bench/kvmswitch-nolatstats
	@KVMSWITCH_BUILD=$(B) tests/bench/run

deps:
	tests/deps.sh

format:
	clang-format -i $(CORE_SRC) $(SHELL_SRC) include/*.h include/*/*.h $(UNIT_SRC) $(TLIB_SRC) $(ITEST_SRC) \
		$(wildcard tests/fuzz/*.c)

clean:
	rm -rf $(B) build-asan

.PHONY: bench all tests check man install uninstall core-check asan deps setup format clean fuzz fuzz-build fuzz-check
-include $(shell find $(B) -name '*.d' 2>/dev/null)
