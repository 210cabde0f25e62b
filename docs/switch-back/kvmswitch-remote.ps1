# kvmswitch-remote.ps1: switch through a kvmswitch [listener] from Windows
# (PowerShell 5.1 or 7), without ssh. The same protocol as
# `kvmswitch remote` (docs/protocol.md, NETWORK LISTENER):
#
#   server: "kvmswitch-auth-1 NONCE"
#   client: HEX(HMAC-SHA256(secret, "kvmswitch-auth-1 NONCE" + " " + COMMAND)) + " " + COMMAND
#   server: "ok ACTIVE" or "error TEXT"
#
#   powershell -NoProfile -ExecutionPolicy Bypass -File kvmswitch-remote.ps1 `
#       -Address 192.168.122.1 -Port 7301 -Command "switch host"
#
# The secret file holds the same text as the host's secret-file (e.g. the
# base64 line `head -c 32 /dev/urandom | base64` made); trailing blanks
# and line ends are not part of it. Keep it readable by your user only.
# Exit status: 0 switched, 1 refused, 3 no listener answered.
param(
    [Parameter(Mandatory = $true)] [string] $Address,
    [int] $Port = 7301,
    [string] $SecretFile = (Join-Path $env:APPDATA 'kvmswitch\secret'),
    [string] $Command = 'switch host'
)
$ErrorActionPreference = 'Stop'
if ($Command -notmatch '^(switch [A-Za-z0-9._-]{1,31}|toggle|next|prev)$') {
    Write-Error "kvmswitch: only 'switch TARGET', toggle, next or prev: '$Command'"
    exit 2
}
$secret = [IO.File]::ReadAllBytes($SecretFile)
$len = $secret.Length
while ($len -gt 0 -and (10, 13, 32, 9) -contains $secret[$len - 1]) { $len-- }
if ($len -eq 0) { Write-Error "kvmswitch: the secret file $SecretFile is empty"; exit 2 }
$key = New-Object byte[] $len
[Array]::Copy($secret, $key, $len)

$client = New-Object Net.Sockets.TcpClient
try {
    $connect = $client.BeginConnect($Address, $Port, $null, $null)
    if (-not $connect.AsyncWaitHandle.WaitOne(5000)) { throw "timed out" }
    $client.EndConnect($connect)
} catch {
    Write-Error "kvmswitch: cannot connect to ${Address}:${Port}: $_"
    exit 3
}
try {
    $client.ReceiveTimeout = 5000
    $client.SendTimeout = 5000
    $stream = $client.GetStream()
    $reader = New-Object IO.StreamReader($stream, [Text.Encoding]::ASCII)
    $challenge = $reader.ReadLine()
    if ($challenge -notmatch '^kvmswitch-auth-1 [0-9a-f]{64}$') {
        Write-Error "kvmswitch: ${Address}:${Port}: $challenge"
        exit $(if ($challenge -like 'error *') { 1 } else { 3 })
    }
    $hmac = New-Object Security.Cryptography.HMACSHA256 -ArgumentList (, $key)
    $mac = $hmac.ComputeHash([Text.Encoding]::ASCII.GetBytes("$challenge $Command"))
    $hex = -join ($mac | ForEach-Object { $_.ToString('x2') })
    $line = [Text.Encoding]::ASCII.GetBytes("$hex $Command`n")
    $stream.Write($line, 0, $line.Length)
    $reply = $reader.ReadLine()
} catch {
    Write-Error "kvmswitch: ${Address}:${Port}: $_"
    exit 3
} finally {
    $client.Close()
}
if ($reply -like 'ok *') { Write-Output $reply.Substring(3); exit 0 }
Write-Error "kvmswitch: $reply"
exit 1
