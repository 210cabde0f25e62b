#include "core/inputpath.h"

#include <string.h>

/* The mouse buttons QEMU's input-linux passes on (ui/input-linux.c). */
static bool input_linux_button(unsigned code)
{
	return code == BTN_LEFT || code == BTN_RIGHT || code == BTN_MIDDLE || code == BTN_SIDE || code == BTN_EXTRA;
}

bool inputpath_input_linux_losses(const struct inputpath_caps *caps, struct inputpath_losses *out)
{
	memset(out, 0, sizeof(*out));
	out->hwheel = caps->rel & (1u << REL_HWHEEL | 1u << REL_HWHEEL_HI_RES);
	out->hires = caps->rel & (1u << REL_WHEEL_HI_RES);
	for (unsigned c = BTN_MOUSE; c < BTN_JOYSTICK; c++)
		if (keyset_has(&caps->keys, c) && !input_linux_button(c) && out->n_button < INPUTPATH_MAX_BUTTONS)
			out->button[out->n_button++] = (uint16_t)c;
	return out->hwheel || out->hires || out->n_button;
}
