# In the guest, the first Ctrl reaches the guest before anyone knows it is a
# chord; the second completes it. The first is released on the guest, the
# second never reaches it, and the host gets neither: the keyboard is
# ungrabbed only once both are up.
config
[general]
start = guest
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> guest (start)
kbd: +leftctrl
> guest keyboard: +leftctrl
kbd: +rightctrl
> guest keyboard: -leftctrl
> leds all 0x0
> switched guest -> host (hotkey)
? held guest 0
? grabbed kbd yes
? pending kbd yes
kbd: -rightctrl
kbd: -leftctrl
> ungrab kbd
? grabbed kbd no
