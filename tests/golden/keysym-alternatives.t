# A hotkey element may stand for several keys (an XKB keysym on two keys):
# either one completes it, both held still match.
config
[general]
hotkey = Either_Ctrl+F12
end
device kbd keyboard
start
> leds all 0x0
> switched - -> host (start)
kbd: +rightctrl
kbd: +f12
> leds all 0x0
> switched host -> guest (hotkey)
kbd: -f12 -rightctrl
> grab kbd
kbd: +leftctrl
> guest keyboard: +leftctrl
kbd: +rightctrl
> guest keyboard: +rightctrl
kbd: +f12
> guest keyboard: -leftctrl -rightctrl
> leds all 0x0
> switched guest -> host (hotkey)
