# Where each event went, as `kvmswitch monitor` shows it (router_set_trace):
# to a target, read by the host itself, a hotkey's completing key, or
# nowhere; host, shared and host-only keys say so. Autorepeats are not
# shown. Nothing of this is reported while no monitor is on.
config
[general]
start = guest
host-keys = volumeup
shared-keys = v
end
device kbd keyboard
device mouse
device pad keyboard host-only
start
> grab kbd
> grab mouse
> leds all 0x0
> switched - -> guest (start)
kbd: +a
> guest keyboard: +a
monitor on
kbd: -a
> route kbd -a guest
> guest keyboard: -a
kbd: +a
> route kbd +a guest
> guest keyboard: +a
mouse: rel_x=1 +btn_left
> route mouse rel_x=1 guest
> route mouse +btn_left guest
> guest pointer: rel_x=1 +btn_left
kbd: +volumeup
> route kbd +volumeup host host-key
> host keyboard: +volumeup
kbd: +v
> host keyboard: +v
> route kbd +v guest shared
> guest keyboard: +v
# One source frame: the host's copies go out in one frame, the guest's in
# another.
kbd: -volumeup -v -a
> route kbd -volumeup host host-key
> host keyboard: -volumeup -v
> route kbd -v guest shared
> route kbd -a guest
> guest keyboard: -v -a
# A second press of a key already down reaches nobody.
kbd: +a +a
> route kbd +a guest
> route kbd +a nowhere
> guest keyboard: +a
kbd: -a
> route kbd -a guest
> guest keyboard: -a
# A host-only device on the native host: never grabbed, the host reads it.
pad: +f1
> route pad +f1 host-read
pad: -f1
> route pad -f1 host-read
kbd: a=2
kbd: +leftctrl
> route kbd +leftctrl guest
> guest keyboard: +leftctrl
kbd: +rightctrl
> guest keyboard: -leftctrl
> guest pointer: -btn_left
> leds all 0x0
> switched guest -> host (hotkey)
> route kbd +rightctrl hotkey
# The mouse waits for its button to come up before the ungrab: what only
# kvmswitch read goes to the host through its pointer, and the button's
# release, released on the guest at the switch already, reaches nobody.
mouse: rel_x=2 -btn_left
> route mouse rel_x=2 host
> route mouse -btn_left nowhere
> host pointer: rel_x=2
> ungrab mouse
kbd: -rightctrl -leftctrl
> route kbd -rightctrl nowhere
> route kbd -leftctrl nowhere
> ungrab kbd
# On the native host the host reads the chord itself; it still switches.
kbd: +leftctrl
> route kbd +leftctrl host-read
kbd: +rightctrl
> grab mouse
> leds all 0x0
> switched host -> guest (hotkey)
> route kbd +rightctrl host-read chord
kbd: -rightctrl -leftctrl
> route kbd -rightctrl host-read
> route kbd -leftctrl host-read
> grab kbd
monitor off
kbd: +a
> guest keyboard: +a
kbd: -a
> guest keyboard: -a
