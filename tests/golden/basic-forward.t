# Default config: host (native) + guest (evdev). Start on the host, switch
# to the guest by command, forward keys and motion, come back.
device kbd keyboard
device mouse
start
> leds all 0x0
> switched - -> host (start)
? active host
? grabbed kbd no
kbd: +a
kbd: -a
switch guest
> grab kbd
> grab mouse
> leds all 0x0
> switched host -> guest (command)
kbd: msc_scan=458756 +a
> guest keyboard: msc_scan=458756 +a
kbd: a=2
kbd: -a
> guest keyboard: -a
mouse: rel_x=5 rel_y=-3
> guest pointer: rel_x=5 rel_y=-3
mouse: +btn_left
> guest pointer: +btn_left
mouse: -btn_left rel_wheel=1
> guest pointer: -btn_left rel_wheel=1
switch guest
> rc -EALREADY
switch host
> ungrab kbd
> ungrab mouse
> leds all 0x0
> switched guest -> host (command)
kbd: +b
kbd: -b
? held guest 0
