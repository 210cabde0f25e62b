# Autorepeat (value 2) from the source is never forwarded: the virtual
# keyboard repeats by itself (EV_REP). Releases of keys never seen pressed,
# double presses, and joystick buttons are dropped.
config
[general]
start = guest
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> guest (start)
kbd: +a
> guest keyboard: +a
kbd: a=2
kbd: a=2
kbd: +a
kbd: -a
> guest keyboard: -a
kbd: -z
kbd: +btn_trigger
kbd: -btn_trigger
? held guest 0
