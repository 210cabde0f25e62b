# An evdev target that also takes USB devices whole (usb = ... with a
# domain): kvmswitch forwards the other devices, and lets go of the ones the
# target takes (libvirt attaches them to its domain) once their keys are up,
# so the host reads the releases and the device leaves with nothing held.
# Frames read from it meanwhile are the host's.
config
[target win]
domain = win
usb = 0627:0001
[target lin]
end
device kbd keyboard
device mouse
device pad keyboard moved-by win
start
> leds all 0x0
> switched - -> host (start)
# The hotkey on the keyboard that stays: the mouse is grabbed at once, the
# keyboard when its keys are up; the moved device is never grabbed.
kbd: +leftctrl
kbd: +rightctrl
> grab mouse
> leds all 0x0
> switched host -> win (hotkey)
kbd: -rightctrl
kbd: -leftctrl
> grab kbd
? grabbed pad no
pad: +a
pad: -a
kbd: +b
> win keyboard: +b
kbd: -b
> win keyboard: -b
? held win 0
# Back to the host: every device is the host's.
switch host
> ungrab kbd
> ungrab mouse
> leds all 0x0
> switched win -> host (command)
# From a target that forwards every device, the moved one is grabbed; a
# key held on it keeps the grab until it is up. A key pressed after the
# switch, which only kvmswitch read, goes to the host, through kvmswitch's
# host keyboard: the device is the host's now.
switch lin
> grab kbd
> grab mouse
> grab pad
> leds all 0x0
> switched host -> lin (command)
pad: +a
> lin keyboard: +a
switch win
> lin keyboard: -a
> leds all 0x0
> switched lin -> win (command)
? pending pad yes
pad: +b
> host keyboard: +b
pad: -b
> host keyboard: -b
pad: -a
> ungrab pad
? grabbed pad no
? grabbed kbd yes
? held lin 0
? held host 0
