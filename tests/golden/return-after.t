# return-after: a VM target that goes back to the host by itself.
config
[target host]
[target win]
return-after = 1.5
end
device kbd keyboard
start
> leds all 0x0
> switched - -> host (start)
? deadline none
switch win
> grab kbd
> leds all 0x0
> switched host -> win (command)
? deadline 1500
1000ms
kbd: +a
> win keyboard: +a
499ms
? active win
1ms
> win keyboard: -a
> leds all 0x0
> switched win -> host (timer)
? deadline none
kbd: -a
> ungrab kbd
