/* What a guest gets of a pointing device on each of the two ways QEMU reads
 * kvmswitch's devices. Pure.
 *
 * input-linux (QEMU's -object input-linux, libvirt's <input type='evdev'>)
 * turns the events into QEMU's own input events for an emulated device:
 * only the left, right, middle, side and extra buttons, relative X and Y,
 * and the vertical wheel as one notch per frame whatever the value: no
 * horizontal wheel, no high-resolution scrolling, no other buttons.
 * virtio-input-host (-device virtio-input-host-pci, libvirt's
 * <input type='passthrough'>) hands the guest the evdev device as it is:
 * everything arrives, in a guest with a virtio-input driver. */
#ifndef KVMSWITCH_CORE_INPUTPATH_H
#define KVMSWITCH_CORE_INPUTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/keys.h"

#define INPUTPATH_MAX_BUTTONS 16

/* A device's capabilities, as far as the paths differ on them. */
struct inputpath_caps {
	struct keyset keys; /* EV_KEY codes */
	uint32_t rel;       /* bit per REL_* code */
};

/* What input-linux drops. */
struct inputpath_losses {
	bool hwheel;  /* REL_HWHEEL or REL_HWHEEL_HI_RES: no horizontal scrolling */
	bool hires;   /* REL_WHEEL_HI_RES: smooth scrolling arrives as whole notches, one per frame */
	uint16_t button[INPUTPATH_MAX_BUTTONS]; /* mouse buttons it drops (BTN_FORWARD, BTN_BACK, ...) */
	size_t n_button;
};

/* Fills out; returns true if input-linux drops anything of this device. */
bool inputpath_input_linux_losses(const struct inputpath_caps *caps, struct inputpath_losses *out);

#endif
