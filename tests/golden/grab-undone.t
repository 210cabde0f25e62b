# A grab the shell takes back at once: right after the grab it found a key
# down on the device, whose press the host may have read (it was queued
# before the grab took effect, and the router had not read it yet). The
# device stays the host's until the key is up; then the grab comes again.
device kbd keyboard
start
> leds all 0x0
> switched - -> host (start)
10ms
grab-undo 10.002ms
switch guest
> grab kbd
> ungrab kbd (undone)
> leds all 0x0
> switched host -> guest (command)
? grabbed kbd no
? pending kbd yes
# The press was queued before the grab: the host read it.
kbd: @9.999ms +k
? host-held kbd 1
kbd: -k
> grab kbd
? host-held kbd 0
? held guest 0
kbd: +l
> guest keyboard: +l
kbd: -l
> guest keyboard: -l
# A press queued in the instant the grab held (after it, before it was taken
# back) was read by kvmswitch alone: it goes to the guest, and so does its
# release, which the host reads too once the grab is gone.
switch host
> ungrab kbd
> leds all 0x0
> switched guest -> host (command)
10ms
grab-undo 20.010ms
switch guest
> grab kbd
> ungrab kbd (undone)
> leds all 0x0
> switched host -> guest (command)
kbd: @20.005ms +m
> guest keyboard: +m
kbd: -m
> guest keyboard: -m
> grab kbd
? held guest 0
? host-held kbd 0
