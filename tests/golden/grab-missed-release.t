# A key pressed just before a grab and released just after it: the host read
# the press, but only kvmswitch read the release. The host would hold the
# key forever, so the device is let go and the shell gives the host the
# release (it writes a press and a release into the device; the host's
# reader ignores the press of a key it holds and takes the release).
device kbd keyboard
start
> leds all 0x0
> switched - -> host (start)
kbd: +a
switch guest
> leds all 0x0
> switched host -> guest (command)
10ms
grab-at 10.5ms
kbd: -a
> grab kbd
kbd: @10.4ms +s | @10.6ms -s
> ungrab kbd
> host-release kbd s
? grabbed kbd no
? pending kbd yes
? host-held kbd 1
? held guest 0
# The press and release the shell wrote: every reader gets them, kvmswitch
# as the host's frames; then the device is neutral and grabbed again.
kbd: +s | -s
> grab kbd
? host-held kbd 0
? host-presses kbd 2
? held guest 0
kbd: +d
> guest keyboard: +d
kbd: -d
> guest keyboard: -d
