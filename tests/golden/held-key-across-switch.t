# A key held when the target changes is released on the old target at once;
# its physical release later is swallowed, and the new target never sees it.
config
[general]
start = guest
[target host]
mode = virtual
[target guest]
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> guest (start)
kbd: +leftshift
> guest keyboard: +leftshift
kbd: +w
> guest keyboard: +w
switch host
> guest keyboard: -w -leftshift
> leds all 0x0
> switched guest -> host (command)
? held guest 0
? held host 0
kbd: w=2
kbd: -w
kbd: +a
> host keyboard: +a
kbd: -leftshift
? held host 1
kbd: -a
> host keyboard: -a
? held host 0
