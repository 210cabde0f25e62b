# After SYN_DROPPED the shell feeds libevdev's resync: the differences between
# what we saw and the device's real state, as ordinary events. Keys the
# target missed the release of are released; keys pressed while events were
# lost are pressed.
config
[general]
start = guest
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> guest (start)
kbd: +a +s
> guest keyboard: +a +s
drop kbd
resync kbd: -a +d
> guest keyboard: -a +d
kbd: -s -d
> guest keyboard: -s -d
? held guest 0
