# The emergency chord (Backspace+Escape+Enter) releases every key on every
# target and ungrabs everything at once, even with keys still held, even if
# the host is in virtual mode. The next switch takes the devices back.
config
[general]
start = win
[target host]
mode = virtual
[target win]
end
device kbd keyboard
device mouse
start
> grab kbd
> grab mouse
> leds all 0x0
> switched - -> win (start)
mouse: +btn_left
> win pointer: +btn_left
kbd: +backspace
> win keyboard: +backspace
kbd: +esc
> win keyboard: +esc
kbd: +enter
> win keyboard: -esc -backspace
> win pointer: -btn_left
> ungrab kbd
> ungrab mouse
> leds all 0x0
> switched win -> host (emergency)
? held win 0
? grabbed kbd no
? active host
# Released: the host reads the keyboard itself; nothing is forwarded.
kbd: +a
kbd: -a -enter -esc -backspace
mouse: -btn_left
switch host
> grab kbd
> grab mouse
> leds all 0x0
> switched host -> host (command)
