; kvmswitch.ahk: hotkeys in a Windows guest that hand the keyboard back to
; the host (AutoHotkey v2, https://www.autohotkey.com). Useful above all for
; `type = usb` targets, where the keyboard itself is in the guest and the
; host's hotkey cannot see it.
;
; Keep this file and kvmswitch-remote.ps1 together in one folder (e.g.
; %APPDATA%\kvmswitch) and put a *shortcut* to this file into shell:startup
; (Win+R, shell:startup): a copy there would not find kvmswitch-remote.ps1.
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

; Runs cmd hidden; a tray message if it cannot start or fails. RunWait
; throws when the program cannot be started at all (ssh.exe missing: the
; OpenSSH client is an optional feature of Windows).
RunOrTell(cmd, what, missing) {
    try {
        rc := RunWait(cmd, , "Hide")
    } catch {
        TrayTip("cannot run " what ": " missing, "kvmswitch", 3)
        return
    }
    if rc != 0
        TrayTip("switching to the host failed (" what " exit status " rc ")", "kvmswitch", 3)
}

; Scroll Lock: back to the host over ssh. StrictHostKeyChecking=accept-new
; lets the first connection record the host's key (BatchMode alone would
; refuse it: "Host key verification failed"); a changed key is refused.
ScrollLock:: {
    cmd := 'ssh.exe -i "' SshKey '" -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=5 '
        . SshUser "@" HostAddress " switch host"
    RunOrTell(cmd, "ssh.exe", "install the OpenSSH client (Settings, Apps, Optional features)")
}

; Ctrl+Alt+Home: back to the host through the listener.
^!Home:: {
    ps1 := A_ScriptDir "\kvmswitch-remote.ps1"
    if !FileExist(ps1) {
        TrayTip(ps1 " is missing: keep it next to kvmswitch.ahk", "kvmswitch", 3)
        return
    }
    cmd := 'powershell.exe -NoProfile -ExecutionPolicy Bypass -File "' ps1 '"'
        . " -Address " HostAddress " -Port " ListenerPort ' -Command "switch host"'
    RunOrTell(cmd, "powershell.exe", "Windows PowerShell is not available")
}
