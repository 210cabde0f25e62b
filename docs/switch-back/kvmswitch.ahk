; kvmswitch.ahk: hotkeys in a Windows guest that hand the keyboard back to
; the host (AutoHotkey v2). Useful above all for `type = usb` targets,
; where the keyboard itself is in the guest and the host's hotkey cannot
; see it. Put it (or a shortcut to it) in shell:startup.
;
; Two ways to reach the host; keep the one you set up (docs/switch-back.md):
;  - ssh with a key whose authorized_keys line forces kvmswitch-ssh-switch,
;  - the [listener], through kvmswitch-remote.ps1 next to this script.
#Requires AutoHotkey v2.0
#SingleInstance Force

HostAddress := "192.168.122.1"   ; the libvirt bridge's address
SshUser := "me"                  ; the host user running the kvmswitch daemon
SshKey := EnvGet("USERPROFILE") "\.ssh\kvmswitch_ed25519"
ListenerPort := 7301

; Scroll Lock: back to the host over ssh.
ScrollLock:: {
    cmd := 'ssh.exe -i "' SshKey '" -o BatchMode=yes -o ConnectTimeout=5 ' SshUser "@" HostAddress " switch host"
    if RunWait(cmd, , "Hide") != 0
        TrayTip("kvmswitch", "switching to the host failed (ssh)", 3)
}

; Ctrl+Alt+Home: back to the host through the listener.
^!Home:: {
    ps := 'powershell.exe -NoProfile -ExecutionPolicy Bypass -File "' A_ScriptDir '\kvmswitch-remote.ps1"'
    cmd := ps " -Address " HostAddress " -Port " ListenerPort ' -Command "switch host"'
    if RunWait(cmd, , "Hide") != 0
        TrayTip("kvmswitch", "switching to the host failed (listener)", 3)
}
