# Keys that stay on the host (issue 15): a host key goes to the host whatever
# target is active, through kvmswitch's host devices while a VM has the
# device. Held across a switch it stays held on the host and is released
# there once, when it goes up; the guest never sees it.
config
[general]
start = guest
host-keys = volumeup mute btn_side
end
device kbd keyboard
device mouse
start
> grab kbd
> grab mouse
> leds all 0x0
> switched - -> guest (start)
kbd: +a
> guest keyboard: +a
kbd: +volumeup
> host keyboard: +volumeup
kbd: -volumeup -a
> host keyboard: -volumeup
> guest keyboard: -a
# A mouse button can be one too (push-to-talk on a side button).
mouse: +btn_side rel_x=3
> host pointer: +btn_side
> guest pointer: rel_x=3
mouse: -btn_side
> host pointer: -btn_side
? held host 0
# Held while the native host becomes active: the keyboard stays grabbed
# until it is up, and its release reaches the host through kvmswitch's host
# keyboard, once. The mouse goes to the host at once.
kbd: +mute
> host keyboard: +mute
switch host
> ungrab mouse
> leds all 0x0
> switched guest -> host (command)
? held host 1
? pending kbd yes
kbd: -mute
> host keyboard: -mute
> ungrab kbd
? held host 0
? held guest 0
? host-presses kbd 0
# On the native host the host reads the device itself: held there, it
# delays the keyboard's grab like any key (the host must read its release).
kbd: +volumeup
switch guest
> grab mouse
> leds all 0x0
> switched host -> guest (command)
? pending kbd yes
kbd: -volumeup
> grab kbd
? host-held kbd 0
? host-presses kbd 1
? held guest 0
# The emergency chord fires with a host key held, and releases it too.
kbd: +volumeup
> host keyboard: +volumeup
kbd: +backspace
> guest keyboard: +backspace
kbd: +esc
> guest keyboard: +esc
kbd: +enter
> host keyboard: -volumeup
> guest keyboard: -esc -backspace
> ungrab kbd
> ungrab mouse
> leds all 0x0
> switched guest -> host (emergency)
? held host 0
? held guest 0
kbd: -volumeup -enter -esc -backspace
? held host 0
