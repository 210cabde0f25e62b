# A target that cannot be entered (its domain is not running): a switch to it
# is an error and changes nothing; the cycling hotkey skips it.
config
[target host]
[target win]
[target linux]
end
device kbd keyboard
start
> leds all 0x0
> switched - -> host (start)
refuse win
switch win
> rc -EHOSTDOWN
? active host
? grabbed kbd no
kbd: +leftctrl
kbd: +rightctrl
> leds all 0x0
> switched host -> linux (hotkey)
switch nosuch
> rc -ENOENT
