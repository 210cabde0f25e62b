# A host-only device ([input] host-only, issue 15: a macro pad, a headset's
# buttons) is forwarded to the host, never to a VM. With a native host it is
# never grabbed, so the host reads it directly; its keys can still be
# hotkeys (kvmswitch reads it too).
config
[general]
start = guest
[target host]
[target guest]
hotkey = f14
end
device kbd keyboard
device pad keyboard host-only
start
> grab kbd
> leds all 0x0
> switched - -> guest (start)
? grabbed pad no
? pending pad no
pad: +f13
? host-held pad 1
pad: -f13
? held guest 0
? held host 0
switch host
> ungrab kbd
> leds all 0x0
> switched guest -> host (command)
pad: +f14
> grab kbd
> leds all 0x0
> switched host -> guest (target-hotkey)
pad: -f14
? grabbed pad no
? host-presses pad 2
? held guest 0
# With a virtual host it is grabbed whatever target is active, and its
# keys go to the host's devices; held across a switch they stay there.
reload
[general]
start = guest
[target host]
mode = virtual
[target guest]
hotkey = f14
end
> grab pad
> leds all 0x0
pad: +f13
> host keyboard: +f13
switch host
> leds all 0x0
> switched guest -> host (command)
switch guest
> leds all 0x0
> switched host -> guest (command)
? held host 1
? held guest 0
pad: -f13
> host keyboard: -f13
# Its hotkey still switches, and reaches nobody.
switch host
> leds all 0x0
> switched guest -> host (command)
pad: +f14
> leds all 0x0
> switched host -> guest (target-hotkey)
pad: -f14
? held host 0
? held guest 0
# The emergency path lets go of it like of every device.
release
> ungrab kbd
> ungrab pad
> leds all 0x0
> switched guest -> host (emergency)
switch host
> grab kbd
> grab pad
> leds all 0x0
> switched host -> host (command)
