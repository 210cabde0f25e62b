#!/bin/bash
# Brings up libvirtd inside the test VM (tests/vm/run), as the libvirt tests
# need it: the QEMU driver running guests as root without a security driver,
# cgroups or virtlogd (see /work/shared/TESTING.md, libvirt), and without a
# private /dev per domain (libvirt-hotplug adds nodes to a running QEMU,
# which a /dev made at its start would lack: docs/libvirt.md, section 7). Only for the
# throw-away VM: it writes /etc/libvirt (the VM's tmpfs overlay).
#
#   tests/vm/libvirt-setup.sh            start libvirtd (if not running), wait for its socket
#   tests/vm/libvirt-setup.sh --stop     stop it (SIGTERM, wait)
#   tests/vm/libvirt-setup.sh --restart  stop, then start again
#
# Exit status 0 when qemu:///system answers; 1 with a message otherwise.
# libvirtd's log: /var/log/libvirt/libvirtd.log.
set -u
if [ "${KVMSWITCH_IN_VM:-}" != 1 ]; then
	echo "libvirt-setup.sh: refusing to run outside the test VM (it rewrites /etc/libvirt)" >&2
	exit 1
fi
sock=/run/libvirt/libvirt-sock
pidfile=/run/libvirtd.pid

running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop() {
	running || return 0
	local pid
	pid=$(cat "$pidfile")
	kill "$pid"
	for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	rm -f "$pidfile"
}

start() {
	if running; then return 0; fi
	getent passwd libvirt-qemu >/dev/null || useradd -r -U -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
	getent group libvirt >/dev/null || groupadd -r libvirt
	mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt /run/libvirt /etc/libvirt/qemu
	# libvirtd probes QEMU's capabilities at start (slow under TCG); the cache
	# survives VM boots in the shared build directory when one is given.
	if [ -n "${KVMSWITCH_LIBVIRT_CACHE:-}" ]; then
		mkdir -p "$KVMSWITCH_LIBVIRT_CACHE" && mount --bind "$KVMSWITCH_LIBVIRT_CACHE" /var/cache/libvirt
	fi
	cat > /etc/libvirt/qemu.conf <<-'CONF'
	user = "root"
	group = "root"
	dynamic_ownership = 0
	security_driver = "none"
	cgroup_controllers = [ ]
	stdio_handler = "file"
	remember_owner = 0
	namespaces = [ ]
	CONF
	cat > /etc/libvirt/libvirtd.conf <<-'CONF'
	unix_sock_group = "root"
	unix_sock_rw_perms = "0770"
	auth_unix_rw = "none"
	auth_unix_ro = "none"
	log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
	CONF
	rm -f /etc/libvirt/qemu/networks/autostart/*
	libvirtd --daemon --pid-file "$pidfile" || { echo "libvirt-setup.sh: libvirtd failed to start" >&2; return 1; }
	for _ in $(seq 600); do
		if [ -S "$sock" ] && virsh -q -c qemu:///system uri >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "libvirt-setup.sh: qemu:///system does not answer after 60 s; libvirtd.log:" >&2
	tail -n 20 /var/log/libvirt/libvirtd.log >&2
	return 1
}

case "${1:-}" in
"") start ;;
--stop) stop ;;
--restart) stop && start ;;
*) echo "usage: tests/vm/libvirt-setup.sh [--stop|--restart]" >&2; exit 2 ;;
esac
