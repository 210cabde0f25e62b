# A target's own hotkey jumps straight to it; on the active target it does
# nothing and is still swallowed; the cycling hotkey goes in config order.
config
[general]
hotkey = scrolllock
[target host]
mode = virtual
[target win]
hotkey = Pause
[target linux]
hotkey = KEY_F12+leftmeta
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> host (start)
kbd: +pause
> leds all 0x0
> switched host -> win (target-hotkey)
kbd: -pause
kbd: +pause
kbd: -pause
? active win
kbd: +leftmeta
> win keyboard: +leftmeta
kbd: +f12
> win keyboard: -leftmeta
> leds all 0x0
> switched win -> linux (target-hotkey)
kbd: -f12
kbd: -leftmeta
kbd: +scrolllock
> leds all 0x0
> switched linux -> host (hotkey)
kbd: -scrolllock
kbd: +scrolllock
> leds all 0x0
> switched host -> win (hotkey)
kbd: -scrolllock
? held win 0
? held host 0
