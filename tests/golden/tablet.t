# An absolute device goes to the tablet device (an absolute pointer), scaled
# to 0..32767; its buttons go with it. A touch or pen tip is the left button,
# the pen's buttons right and middle; tool changes and other axes stay home.
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
tab: abs_x=-5 +btn_right
> guest tablet: abs_x=0 +btn_right
tab: +btn_tool_pen +btn_touch -btn_right
> guest tablet: +btn_left -btn_right
tab: +btn_stylus
> guest tablet: +btn_right
# The pen tip and a mouse-style left button held together: one press.
tab: +btn_left
tab: -btn_touch
? held guest 2
tab: -btn_left -btn_stylus -btn_tool_pen
> guest tablet: -btn_left -btn_right
? held guest 0
