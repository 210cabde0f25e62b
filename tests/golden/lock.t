# The lock against accidental switches (issue 15): the lock chord toggles
# it. While locked, the cycling and target hotkeys are swallowed and do
# nothing; commands still switch, the emergency chord still works, and the
# lock survives a reload.
config
[general]
lock = scrolllock
[target host]
[target win]
hotkey = f12
[target linux]
end
device kbd keyboard
start
> leds all 0x0
> switched - -> host (start)
? locked no
kbd: +scrolllock
> lock on
kbd: -scrolllock
? locked yes
kbd: +leftctrl
kbd: +rightctrl
kbd: -rightctrl -leftctrl
kbd: +f12
kbd: -f12
? active host
switch win
> grab kbd
> leds all 0x0
> switched host -> win (command)
# In the guest: the chord's first key reached it, the completing one is
# swallowed (a QEMU with the same grab-toggle must not see it either).
kbd: +leftctrl
> win keyboard: +leftctrl
kbd: +rightctrl
kbd: -rightctrl -leftctrl
> win keyboard: -leftctrl
? active win
? held win 0
kbd: +f12
kbd: -f12
? active win
reload
[general]
lock = scrolllock
[target host]
[target win]
hotkey = f12
[target linux]
end
> leds all 0x0
? locked yes
lock
> rc -EALREADY
# The emergency chord always works.
kbd: +backspace
> win keyboard: +backspace
kbd: +esc
> win keyboard: +esc
kbd: +enter
> win keyboard: -esc -backspace
> ungrab kbd
> leds all 0x0
> switched win -> host (emergency)
kbd: -enter -esc -backspace
? locked yes
unlock
> lock off
kbd: +leftctrl
kbd: +rightctrl
> leds all 0x0
> switched host -> win (hotkey)
kbd: -rightctrl -leftctrl
> grab kbd
# The lock chord in a guest is swallowed too.
kbd: +scrolllock
> lock on
kbd: -scrolllock
? held win 0
? locked yes
