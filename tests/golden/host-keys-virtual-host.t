# A host key with a virtual host: held when a VM becomes active, it stays
# held on the host (a switch releases only what was typed for the old
# target) and is released there once, when it goes up. The VM never sees it,
# whichever side pressed it. A shared key pressed while the host is active
# goes to the host once, and stays there too.
config
[general]
host-keys = volumeup
shared-keys = v
[target host]
mode = virtual
[target guest]
end
device kbd keyboard
start
> grab kbd
> leds all 0x0
> switched - -> host (start)
kbd: +volumeup +a
> host keyboard: +volumeup +a
switch guest
> host keyboard: -a
> leds all 0x0
> switched host -> guest (command)
? held host 1
kbd: -a
kbd: +b
> guest keyboard: +b
kbd: volumeup=2
kbd: -volumeup -b
> host keyboard: -volumeup
> guest keyboard: -b
? held host 0
? held guest 0
# Pressed in the guest, held while the host comes back: the same.
kbd: +volumeup
> host keyboard: +volumeup
switch host
> leds all 0x0
> switched guest -> host (command)
kbd: -volumeup
> host keyboard: -volumeup
? held host 0
kbd: +v
> host keyboard: +v
switch guest
> leds all 0x0
> switched host -> guest (command)
? held host 1
? held guest 0
kbd: -v
> host keyboard: -v
switch host
> leds all 0x0
> switched guest -> host (command)
# Unplugged while held: released on the host.
kbd: +volumeup
> host keyboard: +volumeup
remove kbd
> host keyboard: -volumeup
? held host 0
