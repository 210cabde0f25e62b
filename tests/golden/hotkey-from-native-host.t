# From the native host the chord is seen by the host (nothing is grabbed);
# the mouse is grabbed at once, the keyboard only when no key is held on it,
# so the host gets the releases of both Ctrl keys and never a half chord.
device kbd keyboard
device mouse
start
> leds all 0x0
> switched - -> host (start)
kbd: +leftctrl
kbd: +rightctrl
> grab mouse
> leds all 0x0
> switched host -> guest (hotkey)
? pending kbd yes
? grabbed kbd no
# Motion goes to the guest right away; the keyboard is still the host's.
mouse: rel_x=1
> guest pointer: rel_x=1
kbd: -leftctrl
? pending kbd yes
kbd: -rightctrl
> grab kbd
? pending kbd no
# Nothing of the chord reached the guest.
? held guest 0
kbd: +a
> guest keyboard: +a
kbd: -a
> guest keyboard: -a
