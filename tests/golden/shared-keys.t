# Shared keys (issue 15): the host gets them and so does the active target
# (a push-to-talk key for a voice chat on the host, which the game in the
# VM may also want). Held across a switch, a shared key is released on the
# old target and stays held on the host until it goes up.
config
[general]
start = guest
shared-keys = v btn_extra
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> guest (start)
kbd: +v
> host keyboard: +v
> guest keyboard: +v
kbd: -v
> host keyboard: -v
> guest keyboard: -v
kbd: +v
> host keyboard: +v
> guest keyboard: +v
switch host
> guest keyboard: -v
> leds all 0x0
> switched guest -> host (command)
? held guest 0
? held host 1
? pending kbd yes
kbd: v=2
kbd: -v
> host keyboard: -v
> ungrab kbd
? held host 0
? host-presses kbd 0
# On the native host the host reads it from the device itself. Held, it
# does not stop the hotkey (push-to-talk while switching), but it delays the
# keyboard's grab until it is up, and the guest never sees it.
kbd: +v
kbd: +leftctrl
kbd: +rightctrl
> leds all 0x0
> switched host -> guest (hotkey)
kbd: -rightctrl -leftctrl
? pending kbd yes
kbd: -v
> grab kbd
? host-held kbd 0
? held guest 0
# In the guest, with push-to-talk held, the hotkey fires too; the guest's
# copy is released at the switch, the host's when the key is up.
kbd: +v
> host keyboard: +v
> guest keyboard: +v
kbd: +leftctrl
> guest keyboard: +leftctrl
kbd: +rightctrl
> guest keyboard: -leftctrl -v
> leds all 0x0
> switched guest -> host (hotkey)
? held host 1
kbd: -rightctrl -leftctrl
kbd: -v
> host keyboard: -v
> ungrab kbd
? held host 0
? held guest 0
? host-held kbd 0
