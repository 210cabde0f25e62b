#!/bin/bash
# The Debian 12 packages that kvmswitch's build and tests need: this is the one
# list (`make deps` and `make setup` install it; CI runs `make setup`).
#
#   tests/deps.sh          as root: apt-get update, then one apt-get install
#   tests/deps.sh --list   print the list
set -eu
packages=(
	# build (the Makefile's pkg-config DAEMON_PKGS and TEST_PKGS)
	build-essential pkg-config
	libevdev-dev libudev-dev libvirt-dev libxkbcommon-dev libsystemd-dev
	# the network listener's HMAC and randomness (src/shell/netauth.c, listener.c)
	libsodium-dev
	# reading a domain's XML (src/shell/domxml.c)
	libxml2-dev
	# the CLI's reading of status and list replies (src/shell/views.c)
	libjson-c-dev
	# key names at run time (libxkbcommon's keymaps)
	xkb-data
	# the test VM (tests/vm/run): QEMU, a kernel with uinput, the initramfs,
	# udev inside, the QMP bridge; QEMU is also the input-linux consumer
	qemu-system-x86 linux-image-amd64 busybox-static cpio file kmod udev socat
	# fuzzing (make fuzz: libFuzzer) and the memory checks (make asan, valgrind)
	clang libclang-rt-14-dev valgrind
	# libvirtd inside the test VM (tests/vm/libvirt-setup.sh, usb_libvirt)
	libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	# make bench (tests/bench/run): the peers, syscall counting, the plot
	interception-tools python3-evdev linux-perf strace gnuplot-nox
	# tests/docs-check (the docs against the program)
	python3
	# make deb and tests/deb-check (dpkg-buildpackage, lintian)
	debhelper lintian
	# man pages (scdoc) and test_system: man --warnings, libinput list-devices,
	# systemd-analyze verify and a systemd user manager in the test VM
	scdoc man-db libinput-tools systemd
	# the shell completions' tests (tests/completion/completion): bash is
	# there already; zsh and fish drive completions/_kvmswitch and kvmswitch.fish
	zsh fish
	# test_system: realtime = auto under the user unit, through RealtimeKit on a
	# D-Bus system bus (with polkitd) started in the test VM
	dbus rtkit polkitd
)
case "${1:-}" in
--list) printf '%s\n' "${packages[@]}"; exit 0 ;;
"") ;;
*) echo "usage: tests/deps.sh [--list]" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
	echo "tests/deps.sh: installing packages needs root: sudo make deps" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
