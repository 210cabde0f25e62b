/* Does a libvirt domain's QEMU hold a device node open? (`follow = start`
 * switches to a domain that starts only once it does, so no keystroke goes
 * into a VM that cannot read it.) Read from /proc, never by touching the
 * node: a second EVIOCGRAB to test it would race QEMU's own.
 *
 * A domain's QEMU is a process whose command line has libvirt's
 * `-name guest=NAME,...` (or `-uuid UUID`); only such processes' fds are
 * read. */
#ifndef KVMSWITCH_HOLDERS_H
#define KVMSWITCH_HOLDERS_H

enum holders_answer {
	HOLDERS_NO = 0,
	HOLDERS_YES = 1,
	/* A QEMU of that domain runs, but its fds are not ours to read
	 * (another user, and kvmswitch is not root). */
	HOLDERS_UNKNOWN = -1,
};

/* domain: the name or the UUID the configuration gives. */
enum holders_answer holders_domain_holds(const char *domain, const char *node);

#endif
