# A SYN_DROPPED whose lost events straddle a grab change: a key found down by
# the resync may have been pressed before the grab (the host read it) or
# after (kvmswitch alone). It counts as the host's, the grab is given back so
# the host reads its release, and the guest gets nothing of it: a press may
# be lost in a drop, but no key is left held on either side.
device kbd keyboard
start
> leds all 0x0
> switched - -> host (start)
switch guest
> grab kbd
> leds all 0x0
> switched host -> guest (command)
drop kbd
resync kbd: +f
> ungrab kbd
? pending kbd yes
kbd: -f
> grab kbd
? held guest 0
# A drop that does not straddle a change: the state after it is the guest's.
kbd: +a
> guest keyboard: +a
drop kbd
resync kbd: -a +b
> guest keyboard: -a +b
kbd: -b
> guest keyboard: -b
? held guest 0
