# Two keyboards holding the same key: the target sees one press and one
# release, the release only when the last device lets go.
config
[general]
start = guest
end
device k1 keyboard
device k2 keyboard
start
> grab k1
> grab k2
> leds all 0x0
> switched - -> guest (start)
k1: +leftshift
> guest keyboard: +leftshift
k2: +leftshift
k1: -leftshift
? held guest 1
k2: -leftshift
> guest keyboard: -leftshift
? held guest 0
