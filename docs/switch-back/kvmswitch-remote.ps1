# kvmswitch-remote.ps1: switch through a kvmswitch [listener] from Windows
# (Windows PowerShell 5.1 or PowerShell 7), without ssh. The same protocol
# as `kvmswitch remote` (docs/protocol.md, NETWORK LISTENER):
#
#   server: "kvmswitch-auth-1 NONCE"
#   client: HEX(HMAC-SHA256(secret, "kvmswitch-auth-1 NONCE" + " " + COMMAND)) + " " + COMMAND
#   server: "ok ACTIVE" or "error TEXT"
#
#   powershell -NoProfile -ExecutionPolicy Bypass -File kvmswitch-remote.ps1 `
#       -Address 192.168.122.1 -Port 7301 -Command "switch host"
#
# The secret file holds the same text as the host's secret-file (e.g. the
# base64 line `head -c 32 /dev/urandom | base64` made), read by the rule the
# daemon and `kvmswitch remote` use (docs/protocol.md): a UTF-8 byte-order
# mark is dropped, UTF-16 with a byte-order mark (what PowerShell 5.1's `>`
# and Out-File write) is decoded, and trailing blanks and line ends are not
# part of it. Keep it readable by your user only.
# Exit status: 0 switched, 1 refused, 2 bad command or secret file, 3 no
# listener answered.
param(
    [Parameter(Mandatory = $true)] [string] $Address,
    [int] $Port = 7301,
    [string] $SecretFile = (Join-Path $env:APPDATA 'kvmswitch\secret'),
    [string] $Command = 'switch host'
)
$ErrorActionPreference = 'Stop'

# A message on standard error and the exit status: not Write-Error, which
# under $ErrorActionPreference = 'Stop' ends the script with status 1.
function Fail([int] $Status, [string] $Message) {
    [Console]::Error.WriteLine("kvmswitch: $Message")
    exit $Status
}

# The secret: the file's bytes by the daemon's rule (core/auth.h,
# auth_secret_decode).
function Read-Secret([string] $Path) {
    try { $b = [IO.File]::ReadAllBytes($Path) } catch { Fail 2 "cannot read the secret file ${Path}: $($_.Exception.Message)" }
    $n = $b.Length
    if ($n -ge 4 -and $b[0] -eq 0xFF -and $b[1] -eq 0xFE -and $b[2] -eq 0 -and $b[3] -eq 0) {
        Fail 2 "the secret file $Path is not usable: it is UTF-32 text; save it as UTF-8 or UTF-16"
    }
    if ($n -ge 2 -and (($b[0] -eq 0xFF -and $b[1] -eq 0xFE) -or ($b[0] -eq 0xFE -and $b[1] -eq 0xFF))) {
        if ($n % 2) { Fail 2 "the secret file $Path is not usable: it starts with a UTF-16 byte-order mark but has an odd number of bytes" }
        # UnicodeEncoding(bigEndian, byteOrderMark, throwOnInvalidBytes)
        $utf16 = New-Object Text.UnicodeEncoding (($b[0] -eq 0xFE), $false, $true)
        try { $text = $utf16.GetString($b, 2, $n - 2) } catch { Fail 2 "the secret file $Path is not usable: it is not valid UTF-16 (an unpaired surrogate)" }
        $key = (New-Object Text.UTF8Encoding $false).GetBytes($text.TrimEnd([char[]]@(' ', "`t", "`r", "`n")))
    } else {
        $start = 0
        if ($n -ge 3 -and $b[0] -eq 0xEF -and $b[1] -eq 0xBB -and $b[2] -eq 0xBF) { $start = 3 }
        while ($n -gt $start -and (10, 13, 32, 9) -contains $b[$n - 1]) { $n-- }
        $key = New-Object byte[] ($n - $start)
        [Array]::Copy($b, $start, $key, 0, $n - $start)
    }
    if ($key.Length -eq 0) { Fail 2 "the secret file $Path is not usable: it is empty" }
    if ($key.Length -lt 16) { Fail 2 "the secret file $Path is not usable: it is shorter than 16 bytes" }
    if ($key.Length -gt 4096) { Fail 2 "the secret file $Path is not usable: it is longer than 4096 bytes" }
    return , $key
}

# The daemon's command names are lower case: -cnotmatch, not -notmatch.
if ($Command -cnotmatch '^(switch [A-Za-z0-9._-]{1,31}|toggle|next|prev)$') {
    Fail 2 "only 'switch TARGET', toggle, next or prev: '$Command'"
}
$key = Read-Secret $SecretFile

# Every address of the host, IPv6 ones too: a TcpClient made without an
# address family is IPv4-only in Windows PowerShell 5.1 (.NET Framework).
$hostName = $Address.Trim('[', ']')
try { $addresses = [Net.Dns]::GetHostAddresses($hostName) } catch { Fail 3 "cannot resolve ${Address}: $($_.Exception.Message)" }
$client = $null
$why = 'no address'
foreach ($ip in $addresses) {
    $c = New-Object Net.Sockets.TcpClient ($ip.AddressFamily)
    try {
        $connect = $c.BeginConnect($ip, $Port, $null, $null)
        if (-not $connect.AsyncWaitHandle.WaitOne(5000)) { throw "timed out" }
        $c.EndConnect($connect)
        $client = $c
        break
    } catch {
        $why = $_.Exception.Message
        $c.Close()
    }
}
if (-not $client) { Fail 3 "cannot connect to ${Address}:${Port}: $why" }

# Only I/O in the try: `exit` (Fail) is left to the code after it.
$challenge = $null
$reply = $null
$ioError = $null
try {
    $client.ReceiveTimeout = 5000
    $client.SendTimeout = 5000
    $stream = $client.GetStream()
    $reader = New-Object IO.StreamReader ($stream, [Text.Encoding]::ASCII)
    $challenge = $reader.ReadLine()
    if ($challenge -cmatch '^kvmswitch-auth-1 [0-9a-f]{64}$') {
        $hmac = New-Object Security.Cryptography.HMACSHA256 (, $key)
        $mac = $hmac.ComputeHash([Text.Encoding]::ASCII.GetBytes("$challenge $Command"))
        $hex = -join ($mac | ForEach-Object { $_.ToString('x2') })
        $line = [Text.Encoding]::ASCII.GetBytes("$hex $Command`n")
        $stream.Write($line, 0, $line.Length)
        $reply = $reader.ReadLine()
    }
} catch {
    $ioError = $_.Exception.Message
}
$client.Close()
if ($ioError) { Fail 3 "${Address}:${Port}: $ioError" }
if ($challenge -clike 'error *') { Fail 1 "${Address}:${Port}: $($challenge.Substring(6))" }
if ($challenge -cnotmatch '^kvmswitch-auth-1 [0-9a-f]{64}$') { Fail 3 "${Address}:${Port} is not a kvmswitch listener: $challenge" }
if ($null -eq $reply) { Fail 3 "${Address}:${Port}: no reply" }
if ($reply -clike 'ok *') { Write-Output $reply.Substring(3); exit 0 }
Fail 1 ($reply -replace '^error ', '')
