# Exit: every key on every target is released and every device ungrabbed,
# even with keys still physically down.
config
[general]
start = guest
end
device kbd keyboard
device mouse
start
> grab kbd
> grab mouse
> leds all 0x0
> switched - -> guest (start)
kbd: +leftalt +tab
> guest keyboard: +leftalt +tab
mouse: +btn_middle
> guest pointer: +btn_middle
shutdown
> guest keyboard: -tab -leftalt
> guest pointer: -btn_middle
> ungrab kbd
> ungrab mouse
? held guest 0
