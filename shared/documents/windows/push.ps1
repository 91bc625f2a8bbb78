# Unseals the registration token, writes it next to each named config, and sees it consumed: the
# Windows agent reads the file only when its service starts, so when the file is still waiting after
# about one heartbeat (half of WaitSeconds; the function's default wait is two heartbeats plus 5 s) the
# running service is restarted once. A stopped service is left stopped. Never prints the token.
# Answers in the host line protocol, as the Linux push does (shared/documents/README.md).
# @@CATALOG@@
# @@COMMON@@
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

Write-KtrLine 'ktr-push v1'
# SSM Agents before 3.3.2746.0 set no SSM_* variables; they splice each parameter's value into this
# text at its placeholder instead (AWS's documented fallback, parameter-troubleshooting.html). Spliced
# only inside single quotes, where PowerShell interprets nothing but ' and the Unicode single quotes
# U+2018-U+201B, which no allowedPattern admits (nor any control character):
# test/documents/splice.test.ts proves it from the patterns themselves.
if ($null -eq $env:SSM_RunId) { $env:SSM_RunId = '{{RunId}}' }
if ($null -eq $env:SSM_Deliveries) { $env:SSM_Deliveries = '{{Deliveries}}' }
if ($null -eq $env:SSM_WaitSeconds) { $env:SSM_WaitSeconds = '{{WaitSeconds}}' }
if ($null -eq $env:SSM_NotAfter) { $env:SSM_NotAfter = '{{NotAfter}}' }
if ($null -eq $env:SSM_WindowsInstallDir) { $env:SSM_WindowsInstallDir = '{{WindowsInstallDir}}' }
if ($null -eq $env:SSM_WindowsServiceName) { $env:SSM_WindowsServiceName = '{{WindowsServiceName}}' }
if (-not (Test-KtrParameters @('RunId', 'Deliveries', 'WaitSeconds', 'NotAfter', 'WindowsInstallDir', 'WindowsServiceName'))) {
  Stop-KtrMissingParameters
}
$installDir = Get-KtrInstallDir
$serviceName = Get-KtrServiceName
$stateDir = Get-KtrStateDir
$runId = [string]$env:SSM_RunId
$keyFile = [System.IO.Path]::Combine($stateDir, 'seal-' + $runId + '.key')
# The key once this push claimed it (renamed under the host's lock): only a push killed half-way leaves one.
$claimedKey = $keyFile + '.used'
$waitSeconds = 0
if ([string]$env:SSM_WaitSeconds -match '^[0-9]{1,3}$') { $waitSeconds = [int]$env:SSM_WaitSeconds }

function Remove-KtrKey {
  foreach ($file in @($keyFile, $claimedKey)) {
    try {
      if ([System.IO.File]::Exists($file) -and -not (Test-KtrReparsePoint $file)) { [System.IO.File]::Delete($file) }
    } catch {
      $null = $_
    }
  }
}

# A push that arrives after the run gave up on it (agent offline, delivery queued) does nothing.
$notAfter = [long]0
if ([string]$env:SSM_NotAfter -match '^[0-9]{1,12}$') { $notAfter = [long]$env:SSM_NotAfter }
if ((Get-KtrNow) -gt $notAfter) {
  Remove-KtrKey
  Write-KtrLine 'host result=too-late'
  Write-KtrLine 'end'
  exit 0
}

# One entry per host is all the function sends (lambda/steps/deliver.ts deliveriesValue); should a second
# one for this host appear, the last one counts, as on Linux.
$entry = $null
$prefix = [string]$env:AWS_SSM_INSTANCE_ID + ':'
foreach ($delivery in ([string]$env:SSM_Deliveries -split ' ')) {
  if ($prefix.Length -gt 1 -and $delivery.StartsWith($prefix, [System.StringComparison]::Ordinal)) {
    $entry = $delivery.Substring($prefix.Length)
  }
}
if ($null -eq $entry -or $entry.IndexOf(':') -lt 1) {
  Write-KtrLine 'host result=no-delivery'
  Write-KtrLine 'end'
  exit 0
}
$wanted = $entry.Substring(0, $entry.IndexOf(':')) -split '\+'
$sealed = $entry.Substring($entry.IndexOf(':') + 1)

$lock = $null
function Stop-KtrAll([string]$Reason) {
  Remove-KtrKey
  foreach ($name in $wanted) { Write-KtrLine ('comp {0} push=failed reason={1}' -f $name, $Reason) }
  Write-KtrLine 'end'
  if ($null -ne $lock) { $lock.Dispose() }
  exit 0
}

# From here until every file is written, this push holds the host's lock: overlapping runs check and
# write one at a time, and what a killed push left is swept before anything else. A state directory
# someone else could have made (or redirected, or opened to others) is not trusted with the key.
if (-not (Test-KtrStateDirTrusted $stateDir)) { Stop-KtrAll 'state-dir-unsafe' }
if (-not [System.IO.File]::Exists($keyFile) -or (Test-KtrReparsePoint $keyFile)) { Stop-KtrAll 'key-missing' }
$lock = Enter-KtrHostLock $stateDir
if ($null -eq $lock) { Stop-KtrAll 'host-busy' }
Remove-KtrLeftovers $stateDir $installDir
$keyMade = [DateTime]::MinValue
try {
  $keyMade = [System.IO.File]::GetLastWriteTimeUtc($keyFile)
  [System.IO.File]::Move($keyFile, $claimedKey)
} catch {
  Stop-KtrAll 'key-missing'
}
if (((Get-KtrNow) - [DateTimeOffset]::new($keyMade).ToUnixTimeSeconds()) -gt 900) {
  Stop-KtrAll 'key-expired'
}
$secret = $null
$plain = $null
$rsa = $null
try {
  $rsa = New-KtrRsa
  $rsa.FromXmlString((Unprotect-KtrText ([System.IO.File]::ReadAllText($claimedKey, (New-KtrUtf8)))))
  $plain = $rsa.Decrypt([Convert]::FromBase64String($sealed), (Get-KtrOaepSha256))
  $secret = (New-Object System.Text.UTF8Encoding($false, $true)).GetString($plain)
} catch {
  $secret = $null
} finally {
  if ($null -ne $plain) { [Array]::Clear($plain, 0, $plain.Length) }
  if ($null -ne $rsa) { $rsa.Dispose() }
  Remove-KtrKey
}
if ($null -eq $secret) { Stop-KtrAll 'unseal-failed' }
$secret = $secret.TrimEnd([char[]]@([char]13, [char]10))
if (-not ($secret -cmatch '^[A-Za-z0-9+/=._-]+$')) {
  $secret = $null
  Stop-KtrAll 'unsealed-value-invalid'
}
Write-KtrLine 'host result=unsealed'

# Whether $Path was written after this run's key was made (by the probe, before it read the components).
function Test-KtrNewerThanKey([string]$Path) {
  try {
    return ([System.IO.File]::GetLastWriteTimeUtc($Path) -gt $keyMade)
  } catch {
    return $false
  }
}

$status = @{}
$deliveredDirs = New-Object System.Collections.Generic.List[string]
foreach ($component in $Components) {
  if ($wanted -notcontains $component.Name) { continue }
  $config = [System.IO.Path]::Combine($installDir, $component.ConfigFile)
  if (-not [System.IO.File]::Exists($config)) {
    $status[$component.Name] = 'config-missing'
    continue
  }
  $regPath = [System.IO.Path]::Combine($installDir, $RegFile)
  if ([System.IO.Directory]::Exists($regPath)) {
    $status[$component.Name] = 'target-not-regular'
    continue
  }
  $regPresent = [System.IO.File]::Exists($regPath) -or (Test-KtrReparsePoint $regPath)
  if ($regPresent -and -not (Test-KtrTrusted $regPath)) {
    $status[$component.Name] = 'target-not-trusted'
    continue
  }
  # Another run's file, written after this run's probe: it waits to be read (a file older than that is
  # one this run meant to write again, so that the restart makes the service read it).
  if ($regPresent -and (Test-KtrNewerThanKey $regPath)) {
    $status[$component.Name] = 'already-waiting'
    continue
  }
  # The component saved a new config (a new token) after this run's probe: another run got there first.
  if (Test-KtrNewerThanKey $config) {
    $status[$component.Name] = 'config-changed'
    continue
  }
  # File.Replace keeps the replaced file's DACL: one an administrator placed (inheriting the folder's, which
  # lets Users read) is limited first, and one with anyone else's explicit entry is not replaced at all.
  if ($regPresent -and -not (Test-KtrPrivateAcl $regPath)) {
    $null = Set-KtrPrivateAcl $regPath $false
    if (-not (Test-KtrPrivateAcl $regPath)) {
      $status[$component.Name] = 'target-not-trusted'
      continue
    }
  }
  # The first delivery of a file that then waits is remembered, so the next run can tell a service that
  # did not read it even after its restart (stuck) from one that just needs the restart.
  $marker = Get-KtrDeliveryMarker $stateDir $component.Name
  $firstDelivery = -not ($regPresent -and [System.IO.File]::Exists($marker))
  $written = Write-KtrPrivateFile $regPath $secret
  $status[$component.Name] = $written
  if ($written -eq 'written') {
    if ($firstDelivery) { $null = Write-KtrPrivateFile $marker ([string](Get-KtrNow)) }
    if (-not $deliveredDirs.Contains($installDir)) { $deliveredDirs.Add($installDir) }
  }
}
$secret = $null
$lock.Dispose()
$lock = $null

function Test-KtrAnyWaiting {
  foreach ($dir in $deliveredDirs) {
    if (Test-KtrRegistrationWaiting $dir) { return $true }
  }
  return $false
}

# Waits until no delivered file is left or $Seconds of the run's wait have passed.
function Wait-KtrConsumed([double]$Seconds) {
  while ($clock.Elapsed.TotalSeconds -lt $Seconds -and (Test-KtrAnyWaiting)) {
    Start-Sleep -Milliseconds 250
  }
}

$clock = [System.Diagnostics.Stopwatch]::StartNew()
$restarted = $null
if ($deliveredDirs.Count -gt 0) {
  Wait-KtrConsumed ([Math]::Floor($waitSeconds / 2))
  if ((Test-KtrAnyWaiting) -and (Get-KtrRunning $serviceName) -eq 'true') {
    try {
      Restart-Service -Name $serviceName -ErrorAction Stop -WarningAction SilentlyContinue
      $restarted = 'true'
    } catch {
      $restarted = 'false'
      [Console]::Error.WriteLine('Restart-Service ' + $serviceName + ' failed: ' + $_.Exception.Message)
    }
    Wait-KtrConsumed $waitSeconds
  }
}
Write-KtrLine ('host waited={0}' -f [long][Math]::Floor($clock.Elapsed.TotalSeconds))

# A file the component consumed needs no memory of its delivery.
if (-not (Test-KtrAnyWaiting)) {
  foreach ($component in $Components) {
    if ($status.ContainsKey($component.Name)) { $null = Get-KtrFirstDeliveryAge $stateDir $component.Name $false }
  }
}

foreach ($component in $Components) {
  if (-not $status.ContainsKey($component.Name)) { continue }
  $outcome = $status[$component.Name]
  if (@('written', 'already-waiting', 'config-changed') -notcontains $outcome) {
    Write-KtrLine ('comp {0} push=failed reason={1}' -f $component.Name, $outcome)
    continue
  }
  $fields = Get-KtrFields $component $installDir $serviceName ''
  if ($null -eq $fields) {
    Write-KtrLine ('comp {0} push=failed reason=config-missing' -f $component.Name)
    continue
  }
  if ($outcome -eq 'already-waiting') {
    Write-KtrLine ('comp {0} push=skipped reason=already-waiting {1}' -f $component.Name, $fields)
    continue
  }
  if ($outcome -eq 'config-changed') {
    Write-KtrLine ('comp {0} push=skipped reason=config-changed {1}' -f $component.Name, $fields)
    continue
  }
  $line = 'comp {0} push=written {1}' -f $component.Name, $fields
  if ($null -ne $restarted) { $line = $line + ' restarted=' + $restarted }
  Write-KtrLine $line
}
Write-KtrLine 'end'
exit 0
