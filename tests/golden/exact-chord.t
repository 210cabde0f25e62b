# A chord fires only when exactly its keys are held: Ctrl+Ctrl while Shift is
# down is an ordinary key combination for the target.
config
[general]
start = guest
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> guest (start)
kbd: +leftshift
> guest keyboard: +leftshift
kbd: +leftctrl
> guest keyboard: +leftctrl
kbd: +rightctrl
> guest keyboard: +rightctrl
? active guest
kbd: -leftshift -leftctrl -rightctrl
> guest keyboard: -leftshift -leftctrl -rightctrl
