/* What QEMU's input-linux drops of a pointing device (kvmswitch doctor). */
#include "core/inputpath.h"
#include "test.h"

TEST(inputpath_plain_mouse_loses_nothing)
{
	struct inputpath_caps caps = { .rel = 1u << REL_X | 1u << REL_Y | 1u << REL_WHEEL };
	keyset_set(&caps.keys, BTN_LEFT, true);
	keyset_set(&caps.keys, BTN_RIGHT, true);
	keyset_set(&caps.keys, BTN_MIDDLE, true);
	keyset_set(&caps.keys, BTN_SIDE, true);
	keyset_set(&caps.keys, BTN_EXTRA, true);
	keyset_set(&caps.keys, KEY_A, true); /* a keyboard's keys are not the pointer paths' business */
	struct inputpath_losses l;
	CHECK(!inputpath_input_linux_losses(&caps, &l));
	CHECK(!l.hwheel);
	CHECK(!l.hires);
	CHECK_INT(l.n_button, 0);
}

TEST(inputpath_gaming_mouse_loses_wheel_tilt_hires_and_buttons)
{
	struct inputpath_caps caps = { .rel = 1u << REL_X | 1u << REL_Y | 1u << REL_WHEEL | 1u << REL_WHEEL_HI_RES |
					      1u << REL_HWHEEL | 1u << REL_HWHEEL_HI_RES };
	for (unsigned c = BTN_LEFT; c <= BTN_TASK; c++)
		keyset_set(&caps.keys, c, true);
	struct inputpath_losses l;
	CHECK(inputpath_input_linux_losses(&caps, &l));
	CHECK(l.hwheel);
	CHECK(l.hires);
	CHECK_INT(l.n_button, 3);
	CHECK_INT(l.button[0], BTN_FORWARD);
	CHECK_INT(l.button[1], BTN_BACK);
	CHECK_INT(l.button[2], BTN_TASK);
}

TEST(inputpath_tilt_wheel_alone)
{
	struct inputpath_caps caps = { .rel = 1u << REL_HWHEEL };
	struct inputpath_losses l;
	CHECK(inputpath_input_linux_losses(&caps, &l));
	CHECK(l.hwheel);
	CHECK(!l.hires);
}
