# Reload: targets are kept by name and type with their key state; keys held
# on a target that disappears are released there first; if the active target
# disappears the host becomes active.
config
[general]
start = win
[target host]
[target win]
[target old]
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> win (start)
kbd: +a
> win keyboard: +a
reload
[target host]
[target extra]
[target win]
end
> leds all 0x0
? active win
? held win 1
kbd: -a
> win keyboard: -a
switch old
> rc -ENOENT
kbd: +b
> win keyboard: +b
reload
[target host]
[target extra]
end
> win keyboard: -b
> leds all 0x0
> switched - -> host (reload)
kbd: -b
> ungrab kbd
