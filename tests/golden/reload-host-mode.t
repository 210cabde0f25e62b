# Found by fuzz_router: a reload that switches the host from virtual to
# native mode takes its virtual devices away. A key held on them is released
# there first (while they exist), as for a vanishing target; the keyboard
# stays grabbed until the key is up, so the native host never reads a release
# without its press; the physical release reaches nobody.
config
[target host]
mode = virtual
[target g1]
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> host (start)
kbd: +a
> host keyboard: +a
reload
[target host]
[target g1]
end
> host keyboard: -a
> leds all 0x0
> switched - -> host (reload)
? held host 0
? grabbed kbd yes
? pending kbd yes
kbd: -a
> ungrab kbd
# And back to virtual: a key the native host saw go down keeps the keyboard
# free until it is up; then it is grabbed for the virtual host.
kbd: +b
reload
[target host]
mode = virtual
[target g1]
end
> leds all 0x0
> switched - -> host (reload)
? pending kbd yes
kbd: -b
> grab kbd
kbd: +c
> host keyboard: +c
kbd: -c
> host keyboard: -c
