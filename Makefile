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
# Where each shell looks for completions: bash-completion's directory (its
# pkg-config file, under PREFIX), zsh's vendor directory for /usr (Debian's
# fpath) and site-functions elsewhere, fish's vendor directory.
BASHCOMPDIR ?= $(shell pkg-config --define-variable=prefix=$(PREFIX) --variable=completionsdir bash-completion \
	2>/dev/null || echo $(DATADIR)/bash-completion/completions)
ZSHCOMPDIR ?= $(if $(filter /usr,$(PREFIX)),$(DATADIR)/zsh/vendor-completions,$(DATADIR)/zsh/site-functions)
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
B        ?= build

CC       ?= cc
# pkg-config packages, each as NAME:DEBIAN-PACKAGE (tests/deps.sh installs
# them). The daemon's:
DAEMON_PKGS = libevdev:libevdev-dev libudev:libudev-dev libvirt:libvirt-dev libvirt-qemu:libvirt-dev \
              xkbcommon:libxkbcommon-dev libsystemd:libsystemd-dev libsodium:libsodium-dev libxml-2.0:libxml2-dev \
              json-c:libjson-c-dev
# The test programs' (tests/lib, tests/integration, tests/bench): uinput
# devices and udev, libvirt for usb_libvirt, libsodium for test_ctl's
# listener. libinput is in neither list: nothing links it (test_system runs
# the `libinput` tool of libinput-tools in the VM, to see what a compositor
# sees).
TEST_PKGS   = libevdev:libevdev-dev libudev:libudev-dev libvirt:libvirt-dev libsodium:libsodium-dev
pkg_names   = $(foreach p,$(1),$(firstword $(subst :, ,$(p))))
WARN      = -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wvla \
            -Wshadow -Wformat=2 -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -DKVMSWITCH_VERSION='"$(VERSION)"' -Iinclude
ALL_CFLAGS = -std=gnu11 $(WARN) -fstack-protector-strong -fPIE $(CFLAGS)
DAEMON_CFLAGS := $(shell pkg-config --cflags $(call pkg_names,$(DAEMON_PKGS)) 2>/dev/null)
DAEMON_LIBS   := $(shell pkg-config --libs $(call pkg_names,$(DAEMON_PKGS)) 2>/dev/null)
TEST_CFLAGS   := $(shell pkg-config --cflags $(call pkg_names,$(TEST_PKGS)) 2>/dev/null)
TEST_LIBS     := $(shell pkg-config --libs $(call pkg_names,$(TEST_PKGS)) 2>/dev/null)
XML_LIBS      := $(shell pkg-config --libs libxml-2.0 2>/dev/null)
JSON_LIBS     := $(shell pkg-config --libs json-c 2>/dev/null)
LDFLAGS  += -pie -Wl,-z,relro,-z,now -Wl,--as-needed

# The man pages need scdoc; without it `make` and `make install` do the rest
# and say so (`make man` and `make tests` still need it).
SCDOC    ?= scdoc
HAVE_SCDOC := $(shell command -v $(SCDOC) 2>/dev/null)
MAN_OR_NOTE = $(if $(HAVE_SCDOC),man,no-man)

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

all: $(B)/kvmswitch $(MAN_OR_NOTE)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Core objects are compiled without any library include paths, so a leaked
# I/O header fails the build (and `make core-check` says which).
$(CORE_OBJ): $(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(SHELL_OBJ): $(B)/%.o: %.c | pkgs-daemon
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DAEMON_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/kvmswitch: $(CORE_OBJ) $(SHELL_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

# pkg-config drops every flag of a list when one package of it is missing,
# and the build then fails on some header: say which package is missing.
check_pkgs = @for p in $(1); do pkg-config --exists "$${p%%:*}" || { echo "make: pkg-config package \
	$${p%%:*} not found: install its development package (Debian, Ubuntu: $${p\#*:}; README.md names \
	Fedora's and Arch's; sudo make setup installs every one on Debian)" >&2; exit 1; }; done
pkgs-daemon:
	$(call check_pkgs,$(DAEMON_PKGS))
pkgs-tests:
	$(call check_pkgs,$(TEST_PKGS))

# Unit tests link the core, and of the shell only domxml.o and hotadd.o:
# reading a domain's XML is libxml2's work and QMP's JSON json-c's, so their
# cases run against those libraries (their headers name no library type;
# the test objects still get no library include path).
UNIT_SHELL_OBJ = $(B)/src/shell/domxml.o $(B)/src/shell/hotadd.o
$(B)/unit-tests: $(UNIT_SRC:%.c=$(B)/%.o) $(CORE_OBJ) $(UNIT_SHELL_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(XML_LIBS) $(JSON_LIBS)

$(B)/gen/evcodes.h: tests/unit/gen-evcodes.sh
	@mkdir -p $(dir $@)
	tests/unit/gen-evcodes.sh > $@

$(UNIT_SRC:%.c=$(B)/%.o): $(B)/%.o: %.c $(B)/gen/evcodes.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(B)/gen -Itests/unit $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/lib/%.o: tests/lib/%.c | pkgs-tests
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/lib $(TEST_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/integration/%.o: tests/integration/%.c | pkgs-tests
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/lib $(TEST_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%: $(B)/tests/integration/%.o $(TLIB_SRC:%.c=$(B)/%.o)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

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

no-man:
	@echo "make: $(SCDOC) not found: the man pages are not built. Install scdoc (package scdoc on Debian, \
	Ubuntu, Fedora and Arch) and run make again; make install installs everything else." >&2

$(B)/man/%: docs/%.scd
	@mkdir -p $(dir $@)
	$(SCDOC) < $< > $@.tmp && mv $@.tmp $@

# The units name $(BINDIR), so they are made as they are installed.
install: $(B)/kvmswitch $(MAN_OR_NOTE)
	install -Dm755 $(B)/kvmswitch $(DESTDIR)$(BINDIR)/kvmswitch
	@if [ -f $(B)/man/kvmswitch.1 ] && [ -f $(B)/man/kvmswitch.conf.5 ]; then \
		echo install -Dm644 $(B)/man/kvmswitch.1 $(DESTDIR)$(MANDIR)/man1/kvmswitch.1; \
		install -Dm644 $(B)/man/kvmswitch.1 $(DESTDIR)$(MANDIR)/man1/kvmswitch.1 && \
		echo install -Dm644 $(B)/man/kvmswitch.conf.5 $(DESTDIR)$(MANDIR)/man5/kvmswitch.conf.5 && \
		install -Dm644 $(B)/man/kvmswitch.conf.5 $(DESTDIR)$(MANDIR)/man5/kvmswitch.conf.5; \
	else \
		echo "make install: no man pages in $(B)/man ($(SCDOC) not found): they are not installed" >&2; \
	fi
	install -Dm644 udev/71-kvmswitch.rules $(DESTDIR)$(UDEVDIR)/rules.d/71-kvmswitch.rules
	install -d $(DESTDIR)$(SYSTEMDUSERDIR) $(DESTDIR)$(SYSTEMDSYSTEMDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/user/kvmswitch.service.in > $(DESTDIR)$(SYSTEMDUSERDIR)/kvmswitch.service
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/system/kvmswitch.service.in > $(DESTDIR)$(SYSTEMDSYSTEMDIR)/kvmswitch.service
	chmod 644 $(DESTDIR)$(SYSTEMDUSERDIR)/kvmswitch.service $(DESTDIR)$(SYSTEMDSYSTEMDIR)/kvmswitch.service
	install -d $(DESTDIR)$(DATADIR)/kvmswitch/udev $(DESTDIR)$(DOCDIR)
	install -m644 $(OPTIN_RULES) $(DESTDIR)$(DATADIR)/kvmswitch/udev/
	install -m644 $(wildcard docs/*.md) docs/kvmswitch.conf.example $(DESTDIR)$(DOCDIR)/
	install -Dm755 docs/switch-back/kvmswitch-ssh-switch $(DESTDIR)$(DOCDIR)/switch-back/kvmswitch-ssh-switch
	install -m644 docs/switch-back/kvmswitch-remote.ps1 docs/switch-back/kvmswitch.ahk $(DESTDIR)$(DOCDIR)/switch-back/
	install -Dm644 completions/kvmswitch.bash $(DESTDIR)$(BASHCOMPDIR)/kvmswitch
	install -Dm644 completions/_kvmswitch $(DESTDIR)$(ZSHCOMPDIR)/_kvmswitch
	install -Dm644 completions/kvmswitch.fish $(DESTDIR)$(FISHCOMPDIR)/kvmswitch.fish
	@echo 'Installed. To apply the udev rules now: udevadm control --reload && udevadm trigger --subsystem-match=input'

# Removes what install installed, then names what it leaves because install
# did not put it there: rules copied to /etc (they keep granting access to
# the input devices), units still enabled, drop-ins, /etc/kvmswitch.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kvmswitch
	rm -f $(DESTDIR)$(MANDIR)/man1/kvmswitch.1 $(DESTDIR)$(MANDIR)/man5/kvmswitch.conf.5
	rm -f $(DESTDIR)$(UDEVDIR)/rules.d/71-kvmswitch.rules
	rm -f $(DESTDIR)$(SYSTEMDUSERDIR)/kvmswitch.service $(DESTDIR)$(SYSTEMDSYSTEMDIR)/kvmswitch.service
	rm -rf $(DESTDIR)$(DATADIR)/kvmswitch $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(BASHCOMPDIR)/kvmswitch $(DESTDIR)$(ZSHCOMPDIR)/_kvmswitch $(DESTDIR)$(FISHCOMPDIR)/kvmswitch.fish
	@etc=$(DESTDIR)$(SYSCONFDIR); \
	for f in $$etc/udev/rules.d/70-kvmswitch-uaccess.rules $$etc/udev/rules.d/72-kvmswitch-group.rules \
		 $$etc/udev/rules.d/71-kvmswitch.rules; do \
		[ -e "$$f" ] && echo "make uninstall: left $$f, a rule copied there by hand, which keeps giving \
	access to input devices: sudo rm $$f && sudo udevadm control --reload"; \
	done; \
	for f in $$etc/systemd/system/*.wants/kvmswitch.service; do \
		[ -L "$$f" ] && echo "make uninstall: left $$f: the system unit is still enabled: sudo systemctl \
	disable --now kvmswitch.service"; \
	done; \
	homes=$$(for u in "$${SUDO_USER:-}" "$$(id -un)"; do [ -n "$$u" ] && getent passwd "$$u" | cut -d: -f6; done); \
	for f in $$etc/systemd/user/*.wants/kvmswitch.service \
		 $$(for h in $$homes; do echo $(DESTDIR)$$h/.config/systemd/user/*.wants/kvmswitch.service; done); do \
		[ -L "$$f" ] && echo "make uninstall: left $$f: the user unit is still enabled: systemctl --user \
	disable --now kvmswitch.service (as that user; for $$etc/systemd/user: sudo systemctl --global disable \
	kvmswitch.service)"; \
	done; \
	for d in $$etc/systemd/system/kvmswitch.service.d $$etc/systemd/user/kvmswitch.service.d; do \
		[ -d "$$d" ] && echo "make uninstall: left $$d: drop-ins made with systemctl edit: sudo rm -r $$d"; \
	done; \
	[ -d "$$etc/kvmswitch" ] && echo "make uninstall: left $$etc/kvmswitch: your configuration (and any \
	listener secret); remove it yourself when you no longer want it: sudo rm -r $$etc/kvmswitch"; \
	true

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

# The unit tests' key names and config comparison (tests/unit/names.c,
# config_eq.c) are the fuzzers' too.
FUZZ_UNIT_OBJ = $(FUZZ_B)/obj/tests/unit/names.o $(FUZZ_B)/obj/tests/unit/config_eq.o
$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/tests/fuzz/fuzz_%.o $(FUZZ_UNIT_OBJ) $(CORE_SRC:%.c=$(FUZZ_B)/obj/%.o)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^

.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_B)/obj/tests/fuzz/fuzz_%.o) $(FUZZ_UNIT_OBJ) \
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
$(B)/tests/bench/bench.o: tests/bench/bench.c | pkgs-tests
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/lib $(TEST_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/kvmbench: $(B)/tests/bench/bench.o $(TLIB_SRC:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) -lm

# The baseline for the cost of measuring the hop (src/shell/latstats.c):
# kvmswitch without latstats_record.
$(B)/bench/nolatstats/src/shell/daemon.o: src/shell/daemon.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DKVMSWITCH_NO_LATSTATS $(DAEMON_CFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/kvmswitch-nolatstats: $(CORE_OBJ) $(filter-out $(B)/src/shell/daemon.o,$(SHELL_OBJ)) \
		$(B)/bench/nolatstats/src/shell/daemon.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

bench: $(B)/kvmswitch $(B)/bench/kvmbench $(B)/bench/kvmswitch-nolatstats
	@KVMSWITCH_BUILD=$(B) tests/bench/run

# A Debian package (debian/): dpkg-buildpackage in a copy of the tree under
# $(B)/deb, so nothing is written outside the build directory. Gives
# $(B)/deb/kvmswitch_$(VERSION)_ARCH.deb; tests/deb-check runs lintian on it
# and installs and removes it in the test VM.
DEB_DIR = $(B)/deb
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || { echo "make: dpkg-buildpackage \
	or dh not found: install dpkg-dev and debhelper (sudo make setup)" >&2; exit 1; }
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); [ "$$v" = "$(VERSION)" ] || { echo "make deb: \
	debian/changelog is at version $$v, the Makefile at $(VERSION): add a changelog entry" >&2; exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/kvmswitch-$(VERSION)
	tar -c --exclude='./build*' --exclude=./.git --exclude='./debian/kvmswitch' --exclude='./debian/.debhelper' . | \
		tar -x -C $(DEB_DIR)/kvmswitch-$(VERSION)
	cd $(DEB_DIR)/kvmswitch-$(VERSION) && dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/kvmswitch_$(VERSION)_*.deb

deps:
	tests/deps.sh

format:
	clang-format -i $(CORE_SRC) $(SHELL_SRC) $(wildcard src/shell/*.h) include/*.h include/*/*.h $(UNIT_SRC) $(TLIB_SRC) $(ITEST_SRC) \
		$(wildcard tests/fuzz/*.c)

clean:
	rm -rf $(B) build-asan

.PHONY: pkgs-daemon pkgs-tests bench all tests check man no-man install uninstall core-check asan deps setup format clean \
	fuzz fuzz-build fuzz-check deb
-include $(shell find $(B) -path $(DEB_DIR) -prune -o -name '*.d' -type f -print 2>/dev/null)
