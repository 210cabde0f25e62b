# An absolute device goes to the tablet device, scaled to 0..32767; its
# buttons go with it. Other absolute axes are not forwarded.
config
[general]
start = guest
end
start
> leds all 0x0
> switched - -> guest (start)
device tab absolute 0 1000
> grab tab
tab: abs_x=500 abs_y=1000 abs_pressure=7
> guest tablet: abs_x=16383 abs_y=32767
tab: abs_x=-5 +btn_left
> guest tablet: abs_x=0 +btn_left
tab: +btn_touch -btn_left
> guest tablet: +btn_touch -btn_left
