# toggle: from the host to the last VM target that was active, from any VM
# target to the host; next/prev cycle in config order.
config
[target host]
[target a]
[target b]
end
start
> leds all 0x0
> switched - -> host (start)
toggle
> leds all 0x0
> switched host -> a (command)
switch b
> leds all 0x0
> switched a -> b (command)
toggle
> leds all 0x0
> switched b -> host (command)
toggle
> leds all 0x0
> switched host -> b (command)
cycle
> leds all 0x0
> switched b -> host (command)
prev
> leds all 0x0
> switched host -> b (command)
