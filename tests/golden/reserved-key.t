# Found by fuzz_router: KEY_RESERVED (code 0) is no key of any target device
# (the virtual keyboard does not carry it), so it is not forwarded; a device
# that reports it held is still not regrabbed until it is up.
config
[general]
start = guest
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> guest (start)
kbd: +reserved +a
> guest keyboard: +a
kbd: -a -reserved
> guest keyboard: -a
kbd: +reserved
switch host
> leds all 0x0
> switched guest -> host (command)
? pending kbd yes
kbd: -reserved
> ungrab kbd
? held guest 0
