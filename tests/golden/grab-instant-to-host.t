# Switching from a VM to the native host: what the kernel queued while
# kvmswitch still held the grab was read by kvmswitch alone. It is never
# dropped: it reaches the host, now the active target, through kvmswitch's
# host devices (issue 12).
config
[general]
start = guest
end
device kbd keyboard
device mouse
start
> grab kbd
> grab mouse
> leds all 0x0
> switched - -> guest (start)
kbd: +a
> guest keyboard: +a
switch host
> guest keyboard: -a
> ungrab mouse
> leds all 0x0
> switched guest -> host (command)
? pending kbd yes
# A comes up and S goes down in one read: both were queued while the
# keyboard was grabbed, so the host read neither. S goes to the host through
# kvmswitch's host keyboard, and the ungrab waits for S. (Before, S went
# nowhere and the ungrab came after A's frame: a lost keystroke.)
kbd: -a | +s
> host keyboard: +s
? grabbed kbd yes
? host-held kbd 0
kbd: -s
> host keyboard: -s
> ungrab kbd
? held host 0
? host-presses kbd 0
# The kernel's queue at the ungrab: the ungrab takes effect at 10ms; a press
# queued at 9.9ms is read after it. Only kvmswitch read that press: it goes
# through the host keyboard, and so does its release, which the host also
# reads from the device itself (a release it never saw pressed, which a
# reader ignores).
switch guest
> grab kbd
> grab mouse
> leds all 0x0
> switched host -> guest (command)
10ms
grab-at 10ms
switch host
> ungrab kbd
> ungrab mouse
> leds all 0x0
> switched guest -> host (command)
kbd: @9.9ms +d
> host keyboard: +d
mouse: @9.95ms rel_x=3 | @9.97ms +btn_left
> host pointer: rel_x=3
> host pointer: +btn_left
mouse: -btn_left
> host pointer: -btn_left
kbd: -d
> host keyboard: -d
? held host 0
? host-held kbd 0
? host-presses kbd 0
# After the ungrab, the host reads the devices itself.
kbd: +e
kbd: -e
? host-presses kbd 1
? held host 0
