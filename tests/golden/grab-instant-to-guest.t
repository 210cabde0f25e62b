# Switching from the native host to a VM: who read each frame around the
# grab is what the kernel decided as it queued the frame, told by the frame's
# stamp against the instant of the grab (issue 12).
device kbd keyboard
start
> leds all 0x0
> switched - -> host (start)
kbd: +a
switch guest
> leds all 0x0
> switched host -> guest (command)
? pending kbd yes
# Fast typing: the release of A and the press of S come in one read(). The
# kernel queued both while nothing was grabbed, so the host read both: S is
# the host's, the grab waits for its release, and the guest never sees it.
# (Before, the grab came after A's frame and S went to the guest as well: a
# key stuck on the host and a keystroke doubled.)
kbd: -a | +s
? grabbed kbd no
? pending kbd yes
? host-held kbd 1
kbd: -s
> grab kbd
? host-held kbd 0
? host-presses kbd 2
? held guest 0
kbd: +d
> guest keyboard: +d
kbd: -d
> guest keyboard: -d
? host-presses kbd 2
switch host
> ungrab kbd
> leds all 0x0
> switched guest -> host (command)
# The kernel's queue at the grab: the grab takes effect at 20ms; a press the
# kernel queued at 19.8ms is read only after it. The host read that press,
# so it must read the release too: the grab is given back at once and taken
# again when the key is up. The guest gets nothing of it.
20ms
kbd: +f
switch guest
> leds all 0x0
> switched host -> guest (command)
? pending kbd yes
10ms
grab-at 31ms
kbd: -f
> grab kbd
kbd: @30.9ms +g
> ungrab kbd
? grabbed kbd no
? pending kbd yes
? host-held kbd 1
kbd: -g
> grab kbd
? host-held kbd 0
? held guest 0
# What the kernel queued after the grab is the guest's alone.
kbd: +h
> guest keyboard: +h
kbd: -h
> guest keyboard: -h
? host-presses kbd 4
