# LEDs: what a consumer writes to a target's keyboard shows on the physical
# keyboards while that target is active; each target's state comes back when
# it is active again; the native host's LEDs are the ones the host set (seen
# as the keyboard's echo while the host reads it directly).
config
[target host]
[target win]
[target linux]
end
device kbd keyboard leds 0x1
start
> leds all 0x1
> switched - -> host (start)
# The host turns on caps lock: the keyboard echoes it.
kbd: led_capsl=1
? leds host 0x3
switch win
> grab kbd
> leds all 0x0
> switched host -> win (command)
led win numl 1
> leds all 0x1
# A write to an inactive target's keyboard comes from the host side (the
# VT keyboard handler, a compositor), not from that guest: ignored.
led linux scrolll 1
? leds linux 0x0
# Our own write echoes back while win is active: not the host's.
kbd: led_numl=1
? leds host 0x3
switch linux
> leds all 0x0
> switched win -> linux (command)
led linux scrolll 1
> leds all 0x4
switch win
> leds all 0x1
> switched linux -> win (command)
switch host
> ungrab kbd
> leds all 0x3
> switched win -> host (command)
