# hotkey-action = toggle: the global hotkey goes from the host to the VM
# target used last (the first one before any was) and from any VM target to
# the host, like QEMU's ctrl-ctrl; the target hotkeys still jump.
config
[general]
hotkey-action = toggle
[target host]
mode = virtual
[target a]
[target b]
hotkey = f12
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> host (start)
kbd: +leftctrl
> host keyboard: +leftctrl
kbd: +rightctrl
> host keyboard: -leftctrl
> leds all 0x0
> switched host -> a (hotkey)
kbd: -rightctrl -leftctrl
kbd: +f12
> leds all 0x0
> switched a -> b (target-hotkey)
kbd: -f12
kbd: +leftctrl
> b keyboard: +leftctrl
kbd: +rightctrl
> b keyboard: -leftctrl
> leds all 0x0
> switched b -> host (hotkey)
kbd: -rightctrl -leftctrl
kbd: +leftctrl
> host keyboard: +leftctrl
kbd: +rightctrl
> host keyboard: -leftctrl
> leds all 0x0
> switched host -> b (hotkey)
kbd: -rightctrl -leftctrl
# A last target that refuses: the hotkey does nothing (no cycling on).
switch host
> leds all 0x0
> switched b -> host (command)
refuse b
kbd: +leftctrl
> host keyboard: +leftctrl
kbd: +rightctrl
kbd: -rightctrl -leftctrl
> host keyboard: -leftctrl
? active host
