# MSC_SCAN travels with the event it describes (benchmarks number frames with
# it), before or after it in the frame; it is dropped when nothing is forwarded.
config
[general]
start = guest
end
device mouse
device kbd keyboard
start
> grab mouse
> grab kbd
> leds all 0x0
> switched - -> guest (start)
mouse: msc_scan=7 rel_x=1
> guest pointer: msc_scan=7 rel_x=1
mouse: rel_y=2 msc_scan=8
> guest pointer: rel_y=2 msc_scan=8
kbd: msc_scan=9
switch host
> ungrab mouse
> ungrab kbd
> leds all 0x0
> switched guest -> host (command)
mouse: msc_scan=10 rel_x=1
