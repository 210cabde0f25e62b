# A device someone else holds (EVIOCGRAB fails with EBUSY) is not retried on
# every event; the next switch tries again.
config
[general]
start = guest
end
start
> leds all 0x0
> switched - -> guest (start)
device kbd keyboard nograb
> grab kbd
> leds kbd 0x0
? grabbed kbd no
? pending kbd no
kbd: +a
kbd: -a
switch host
> leds all 0x0
> switched guest -> host (command)
switch guest
> grab kbd
> leds all 0x0
> switched host -> guest (command)
