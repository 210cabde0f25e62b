#!/bin/sh
# Generates a name table of the kernel's event codes for the unit tests'
# scripts (the daemon itself takes names from libevdev and libxkbcommon).
hdr=${1:-/usr/include/linux/input-event-codes.h}
echo "/* generated from $hdr by tests/unit/gen-evcodes.sh */"
awk '$1 == "#define" && $2 ~ /^(KEY|BTN|REL|ABS|MSC|LED|SYN|EV)_/ &&
     $2 !~ /_(MAX|CNT)$/ && $2 !~ /^(KEY_MIN_INTERESTING|BTN_MISC|BTN_MOUSE|BTN_JOYSTICK|BTN_GAMEPAD|BTN_DIGI|BTN_WHEEL|BTN_TRIGGER_HAPPY)$/ {
	print "\t{ \"" $2 "\", " $2 " },"
}' "$hdr"
