# Found by fuzz_router: a device changes grab only after the whole frame in
# which its last key came up, because every reader already has that frame.
# Here the keyboard appears with Ctrl down (the host saw the press), so it is
# not grabbed; in one frame Ctrl goes up and A goes down: the host read both,
# so A is the host's, and the grab waits for A too.
config
[general]
start = guest
end
start
> leds all 0x0
> switched - -> guest (start)
device kbd keyboard held leftctrl
> leds kbd 0x0
? pending kbd yes
kbd: -leftctrl +a
? grabbed kbd no
? pending kbd yes
kbd: -a
> grab kbd
kbd: +b
> guest keyboard: +b
# The other way: switching to the native host, the keyboard stays grabbed
# while B is down on the guest. In the frame that releases B, C goes down:
# the host did not read that frame (still grabbed), so only kvmswitch has C.
# It reaches the host, the active target, through kvmswitch's host keyboard,
# and the ungrab waits for it. (Before, C went nowhere: a lost keystroke.)
switch host
> guest keyboard: -b
> leds all 0x0
> switched guest -> host (command)
kbd: -b +c
> host keyboard: +c
? grabbed kbd yes
kbd: -c
> host keyboard: -c
> ungrab kbd
? held guest 0
? held host 0
? host-presses kbd 1
