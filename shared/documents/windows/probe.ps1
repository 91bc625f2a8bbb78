# Observes each installed Kasm Windows component; makes the sealing key with KeyPair=create, or with
# KeyPair=auto where a component is locked out by the host's own reading of the rule.
# Answers in the host line protocol, as the Linux probe does (shared/documents/README.md).
# @@CATALOG@@
# @@COMMON@@
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0
$KeyTtlSeconds = 900

# A fresh RSA-2048 key whose public half is returned as base64 DER SubjectPublicKeyInfo and whose private
# half is kept, DPAPI-protected, in the state directory for the push. The key is proven able to unseal
# before it is kept. Made under the host's lock, after sweeping what a killed step left.
function New-KtrSealingKey([string]$StateDir, [string]$RunId, [string]$InstallDir) {
  if (-not (Initialize-KtrStateDir $StateDir)) { return 'key error=state-dir-unsafe' }
  $lock = Enter-KtrHostLock $StateDir
  if ($null -eq $lock) { return 'key error=host-busy' }
  $rsa = New-KtrRsa
  try {
    Remove-KtrLeftovers $StateDir $InstallDir
    $public = $rsa.ExportParameters($false)
    $spki = ConvertTo-KtrSpki $public.Modulus $public.Exponent
    $probe = New-Object byte[] 32
    $random = [System.Security.Cryptography.RandomNumberGenerator]::Create()
    $random.GetBytes($probe)
    $random.Dispose()
    $opened = $rsa.Decrypt($rsa.Encrypt($probe, (Get-KtrOaepSha256)), (Get-KtrOaepSha256))
    if ([Convert]::ToBase64String($opened) -ne [Convert]::ToBase64String($probe)) { return 'key error=oaep-self-test-failed' }
    $keyFile = [System.IO.Path]::Combine($StateDir, 'seal-' + $RunId + '.key')
    $written = Write-KtrPrivateFile $keyFile (Protect-KtrText ($rsa.ToXmlString($true)))
    if ($written -ne 'written') { return 'key error=key-' + $written }
    return 'key spki=' + [Convert]::ToBase64String($spki)
  } catch {
    return 'key error=keygen-failed'
  } finally {
    $rsa.Dispose()
    $lock.Dispose()
  }
}

# `exp` of a token's header.payload (base64url JSON), or $null when it has none that is a whole number.
function Get-KtrTokenExp([string]$HeaderAndPayload) {
  $payload = $HeaderAndPayload.Substring($HeaderAndPayload.IndexOf('.') + 1).Replace('-', '+').Replace('_', '/')
  switch ($payload.Length % 4) { 2 { $payload += '==' } 3 { $payload += '=' } }
  try {
    $json = (New-KtrUtf8).GetString([Convert]::FromBase64String($payload))
  } catch {
    return $null
  }
  $match = [regex]::Match($json, '"exp"\s*:\s*([0-9]{1,12})(?:[^0-9.eE]|$)')
  if (-not $match.Success) { return $null }
  return [long]$match.Groups[1].Value
}

# Whether a component whose fields Get-KtrFields gave needs a delivery, by the host's own reading of the
# rule the function applies (shared/token-rules.ts decide): its token expired at least GraceSeconds ago
# (host clock), and no file waits that a push already delivered (the agent reads the file only at start,
# so a waiting file no push delivered still needs one). The function decides again by its own clock;
# this only says whether to make a sealing key now.
function Test-KtrLockedOut([string]$Fields, [long]$GraceSeconds) {
  $token = [regex]::Match($Fields, '(?:^| )token=(\S+)').Groups[1].Value
  if ($token -eq '' -or $token -eq 'none' -or $token -eq 'unreadable') { return $false }
  if ($Fields -match '(?:^| )delivered=') { return $false }
  $exp = Get-KtrTokenExp $token
  if ($null -eq $exp) { return $false }
  return (Get-KtrNow) -ge ($exp + $GraceSeconds)
}

# DER: one tag-length-value.
function Add-KtrDer([System.IO.MemoryStream]$Out, [byte]$Tag, [byte[]]$Content) {
  $Out.WriteByte($Tag)
  $length = $Content.Length
  if ($length -lt 128) {
    $Out.WriteByte([byte]$length)
  } else {
    $lengthBytes = New-Object System.Collections.Generic.List[byte]
    while ($length -gt 0) {
      $lengthBytes.Insert(0, [byte]($length -band 0xFF))
      $length = $length -shr 8
    }
    $Out.WriteByte([byte](0x80 -bor $lengthBytes.Count))
    $Out.Write($lengthBytes.ToArray(), 0, $lengthBytes.Count)
  }
  $Out.Write($Content, 0, $Content.Length)
}

# DER INTEGER content of an unsigned big-endian number: no leading zeros, a 0x00 when the top bit is set.
function ConvertTo-KtrDerUnsigned([byte[]]$Bytes) {
  $start = 0
  while ($start -lt ($Bytes.Length - 1) -and $Bytes[$start] -eq 0) { $start++ }
  $content = New-Object System.Collections.Generic.List[byte]
  if ($Bytes[$start] -ge 0x80) { $content.Add([byte]0) }
  for ($i = $start; $i -lt $Bytes.Length; $i++) { $content.Add($Bytes[$i]) }
  return ,$content.ToArray()
}

# SubjectPublicKeyInfo (RFC 5280) of an RSA public key (RFC 8017 RSAPublicKey), built by hand because
# .NET Framework has no ExportSubjectPublicKeyInfo.
function ConvertTo-KtrSpki([byte[]]$Modulus, [byte[]]$Exponent) {
  $integers = New-Object System.IO.MemoryStream
  Add-KtrDer $integers 0x02 (ConvertTo-KtrDerUnsigned $Modulus)
  Add-KtrDer $integers 0x02 (ConvertTo-KtrDerUnsigned $Exponent)
  $rsaPublicKey = New-Object System.IO.MemoryStream
  Add-KtrDer $rsaPublicKey 0x30 $integers.ToArray()
  $bitString = New-Object System.IO.MemoryStream
  $bitString.WriteByte(0)
  $inner = $rsaPublicKey.ToArray()
  $bitString.Write($inner, 0, $inner.Length)
  # AlgorithmIdentifier: rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters.
  [byte[]]$algorithm = 0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00
  $body = New-Object System.IO.MemoryStream
  $body.Write($algorithm, 0, $algorithm.Length)
  Add-KtrDer $body 0x03 $bitString.ToArray()
  $spki = New-Object System.IO.MemoryStream
  Add-KtrDer $spki 0x30 $body.ToArray()
  return ,$spki.ToArray()
}

Write-KtrLine 'ktr-probe v1'
# SSM Agents before 3.3.2746.0 set no SSM_* variables; they splice each parameter's value into this
# text at its placeholder instead (AWS's documented fallback, parameter-troubleshooting.html). Spliced
# only inside single quotes, where PowerShell interprets nothing but ' and the Unicode single quotes
# U+2018-U+201B, which no allowedPattern admits (nor any control character):
# test/documents/splice.test.ts proves it from the patterns themselves.
if ($null -eq $env:SSM_RunId) { $env:SSM_RunId = '{{RunId}}' }
if ($null -eq $env:SSM_KeyPair) { $env:SSM_KeyPair = '{{KeyPair}}' }
if ($null -eq $env:SSM_GraceSeconds) { $env:SSM_GraceSeconds = '{{GraceSeconds}}' }
if ($null -eq $env:SSM_WindowsInstallDir) { $env:SSM_WindowsInstallDir = '{{WindowsInstallDir}}' }
if ($null -eq $env:SSM_WindowsServiceName) { $env:SSM_WindowsServiceName = '{{WindowsServiceName}}' }
if (-not (Test-KtrParameters @('RunId', 'KeyPair', 'GraceSeconds', 'WindowsInstallDir', 'WindowsServiceName'))) { Stop-KtrMissingParameters }
$installDir = Get-KtrInstallDir
$serviceName = Get-KtrServiceName
$stateDir = Get-KtrStateDir
$runId = [string]$env:SSM_RunId
# This host can unseal a sealed token when its .NET has RSA-OAEP-SHA256 (the push unseals with it).
$canUnseal = Test-KtrUnsealSupport
Write-KtrLine ('host unseal={0} now={1}' -f $canUnseal, (Get-KtrNow))

# Sealing keys of runs that ended without pushing are useless: remove them. A state directory that is
# not exactly as this product makes it is never looked into. What a killed step left is swept under the
# host's lock (without it when there is no state directory: then no push can be writing).
$trustedStateDir = ''
if (Test-KtrStateDirTrusted $stateDir) { $trustedStateDir = $stateDir }
if ($trustedStateDir -ne '') {
  foreach ($old in [System.IO.Directory]::GetFiles($trustedStateDir, '*seal-*')) {
    try {
      if (([DateTime]::UtcNow - [System.IO.File]::GetLastWriteTimeUtc($old)).TotalSeconds -gt $KeyTtlSeconds) {
        [System.IO.File]::Delete($old)
      }
    } catch {
      $null = $_
    }
  }
}

$graceSeconds = [long]([string]$env:SSM_GraceSeconds)
# Each installed component's line; whether one is locked out by this host's reading of the rule.
function Read-KtrComponents([string]$trusted) {
  $lines = New-Object System.Collections.Generic.List[string]
  $lockedOut = $false
  foreach ($component in $Components) {
    $fields = Get-KtrFields $component $installDir $serviceName $trusted
    if ($null -eq $fields) { continue }
    $lines.Add(('comp {0} {1}' -f $component.Name, $fields))
    if (Test-KtrLockedOut $fields $graceSeconds) { $lockedOut = $true }
  }
  return @{ Lines = $lines; LockedOut = $lockedOut }
}
$read = Read-KtrComponents $trustedStateDir
$needKey = $env:SSM_KeyPair -eq 'auto' -and $read.LockedOut

if (($env:SSM_KeyPair -eq 'create' -or $needKey) -and $canUnseal -eq 1) {
  $keyLine = 'key error=keygen-failed'
  try {
    $keyLine = New-KtrSealingKey $stateDir $runId $installDir
  } catch {
    $null = $_
  }
  Write-KtrLine $keyLine
  # The push stands back from a component whose config was saved after the key was made
  # (config-changed), trusting that the probe which made the key reported each component as it was
  # from then on: read again.
  if ($keyLine.StartsWith('key spki=')) {
    $trusted = ''
    if (Test-KtrStateDirTrusted $stateDir) { $trusted = $stateDir }
    $read = Read-KtrComponents $trusted
  }
} elseif ($trustedStateDir -ne '') {
  $lock = Enter-KtrHostLock $trustedStateDir
  if ($null -ne $lock) {
    try { Remove-KtrLeftovers $trustedStateDir $installDir } finally { $lock.Dispose() }
  }
} elseif (-not (Test-KtrPresent $stateDir)) {
  Remove-KtrLeftovers $stateDir $installDir
}

foreach ($line in $read.Lines) { Write-KtrLine $line }
Write-KtrLine 'end'
exit 0
