# start-locked: the daemon starts locked. Only the start counts: a reload
# leaves the lock as it is (here: unlocked by a command, and a reload does
# not lock it again).
config
[general]
start-locked = yes
end
device kbd keyboard
start
> lock on
> leds all 0x0
> switched - -> host (start)
kbd: +leftctrl
kbd: +rightctrl
kbd: -rightctrl -leftctrl
? active host
unlock
> lock off
reload
[general]
start-locked = yes
end
> leds all 0x0
? locked no
unlock
> rc -EALREADY
