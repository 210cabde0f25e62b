# A device that disappears with keys and buttons down: they are released on
# the target they went to, and other devices' keys stay down.
config
[general]
start = guest
end
start
> leds all 0x0
> switched - -> guest (start)
device kbd keyboard
> grab kbd
> leds kbd 0x0
device mouse
> grab mouse
device kbd2 keyboard
> grab kbd2
> leds kbd2 0x0
kbd: +a +leftctrl
> guest keyboard: +a +leftctrl
kbd2: +b
> guest keyboard: +b
mouse: +btn_right
> guest pointer: +btn_right
remove kbd
> guest keyboard: -leftctrl -a
remove mouse
> guest pointer: -btn_right
? held guest 1
# Replugged with a key already down: not grabbed until it is released.
device kbd keyboard held x
> leds kbd 0x0
? pending kbd yes
kbd: -x
> grab kbd
