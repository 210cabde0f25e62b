#!/usr/bin/python3
# A "typical user script" peer for the benchmark: grab a device with
# python3-evdev and copy every event to a uinput clone of it, the way the
# python-evdev tutorial does it.
#
#   pyevdev-forward.py SOURCE_NODE OUTPUT_NAME
import sys

import evdev

src = evdev.InputDevice(sys.argv[1])
src.grab()
out = evdev.UInput.from_device(src, name=sys.argv[2])
for ev in src.read_loop():
    out.write_event(ev)
