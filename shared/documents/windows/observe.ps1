# Functions shared by the Windows probe and push. They read a component's state, never a secret.
# Everything here runs unchanged on Windows PowerShell 5.1 (Server 2016 and later, .NET Framework 4.6.2+)
# and on PowerShell 7: no syntax newer than 5.1, .NET for files and crypto, explicit encodings, ASCII text.

# One protocol line on stdout, written directly: PowerShell's formatter could wrap long lines.
function Write-KtrLine([string]$Text) {
  [Console]::Out.WriteLine($Text)
}

# The file-system path .NET needs for a PowerShell path (on Windows, the path itself; a drive that
# does not exist on this host keeps the path as it is, which then simply holds nothing).
function Resolve-KtrPath([string]$Path) {
  try {
    return $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
  } catch {
    return $Path
  }
}

function Get-KtrInstallDir {
  $dir = [string]$env:SSM_WindowsInstallDir
  if ($dir -eq '') { $dir = $DefaultInstallDir }
  if ($dir.Length -gt 3) { $dir = $dir.TrimEnd([char]92) }
  return (Resolve-KtrPath $dir)
}

function Get-KtrServiceName {
  $name = [string]$env:SSM_WindowsServiceName
  if ($name -eq '') { $name = $DefaultServiceName }
  return $name
}

# The reconciler's own directory under ProgramData: sealing keys live there, SYSTEM and Administrators only.
function Get-KtrStateDir {
  $base = [string]$env:ProgramData
  if ($base -eq '') { $base = 'C:\ProgramData' }
  return [System.IO.Path]::Combine((Resolve-KtrPath $base), $StateDirName)
}

function Get-KtrNow {
  return [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
}

function New-KtrUtf8 {
  return (New-Object System.Text.UTF8Encoding($false))
}

# The token's header.payload (never the signature), or none / unreadable.
function Get-KtrToken([string]$ConfigPath, [string]$Section, [string]$Key) {
  try {
    $lines = [System.IO.File]::ReadAllLines($ConfigPath, (New-KtrUtf8))
  } catch {
    return 'unreadable'
  }
  $sectionPattern = '^' + [regex]::Escape($Section) + ':'
  $keyPattern = '^\s+' + [regex]::Escape($Key) + ':\s*(.*)$'
  $inSection = $false
  $raw = $null
  foreach ($line in $lines) {
    if ($line -cmatch $sectionPattern) {
      $inSection = $true
      continue
    }
    if ($inSection -and $line -cmatch '^[^\s#]') { $inSection = $false }
    if ($inSection -and $line -cmatch $keyPattern) {
      $raw = ($Matches[1] -replace '\s+#.*$', '').Trim()
      $raw = $raw -replace '^[''"]|[''"]$', ''
      break
    }
  }
  if ($null -eq $raw -or $raw -eq '' -or $raw -eq 'null' -or $raw -eq '~') { return 'none' }
  if ($raw.Length -le 8000 -and $raw -cmatch '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$') {
    return $raw.Substring(0, $raw.LastIndexOf('.'))
  }
  return 'unreadable'
}

# Seconds since the registration file was written, or absent.
function Get-KtrRegistrationAge([string]$Dir) {
  $file = [System.IO.Path]::Combine($Dir, $RegFile)
  if (-not [System.IO.File]::Exists($file)) { return 'absent' }
  try {
    $age = ([DateTime]::UtcNow - [System.IO.File]::GetLastWriteTimeUtc($file)).TotalSeconds
    return [string][long][Math]::Floor($age)
  } catch {
    return '0'
  }
}

function Test-KtrRegistrationWaiting([string]$Dir) {
  return [System.IO.File]::Exists([System.IO.Path]::Combine($Dir, $RegFile))
}

# Whether the component's Windows service is running: true, false (stopped or not installed) or unknown.
function Get-KtrRunning([string]$ServiceName) {
  if ($null -eq (Get-Command -Name Get-Service -ErrorAction SilentlyContinue)) { return 'unknown' }
  $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
  if ($null -eq $service) { return 'false' }
  if ([string]$service.Status -eq 'Running') { return 'true' }
  return 'false'
}

# Fields describing one installed component; $null when its config is absent.
function Get-KtrFields($Component, [string]$InstallDir, [string]$ServiceName) {
  $config = [System.IO.Path]::Combine($InstallDir, $Component.ConfigFile)
  if (-not [System.IO.File]::Exists($config)) { return $null }
  $token = Get-KtrToken $config $Component.Section $Component.Key
  $age = Get-KtrRegistrationAge $InstallDir
  $running = Get-KtrRunning $ServiceName
  return ('token={0} reg={1} running={2}' -f $token, $age, $running)
}

# Limits a file or directory to SYSTEM and Administrators (full control) with inheritance removed: the
# NTFS counterpart of mode 0600 / 0700. Well-known SIDs, not names, so any display language works.
function Set-KtrPrivateAcl([string]$Path, [bool]$Container) {
  # Continue: with Stop, Windows PowerShell 5.1 turns a native command's stderr line into an exception.
  $ErrorActionPreference = 'Continue'
  $inherit = ''
  if ($Container) { $inherit = '(OI)(CI)' }
  $null = & icacls.exe $Path /inheritance:r /grant:r ('*S-1-5-18:' + $inherit + 'F') /grant:r ('*S-1-5-32-544:' + $inherit + 'F') 2>&1
  return ($LASTEXITCODE -eq 0)
}

# Creates an empty file that did not exist and opens it for writing, shared with nobody.
function New-KtrExclusiveFile([string]$Path) {
  return (New-Object System.IO.FileStream($Path, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None))
}

# Writes text (UTF-8, no BOM) to $Path atomically and privately: a new temp file in the same directory,
# held open and shared with nobody while its ACL is limited to SYSTEM and Administrators and the text is
# written, then renamed over the final name. Returns written, write-denied (no temp file could be
# created) or write-failed (nothing left behind).
function Write-KtrPrivateFile([string]$Path, [string]$Text) {
  $dir = [System.IO.Path]::GetDirectoryName($Path)
  $tmp = [System.IO.Path]::Combine($dir, '.' + [System.IO.Path]::GetFileName($Path) + '.' + [System.IO.Path]::GetRandomFileName() + '.tmp')
  try {
    $stream = New-KtrExclusiveFile $tmp
  } catch {
    return 'write-denied'
  }
  $bytes = $null
  $ok = $false
  try {
    if (Set-KtrPrivateAcl $tmp $false) {
      $bytes = (New-KtrUtf8).GetBytes($Text)
      $stream.Write($bytes, 0, $bytes.Length)
      $stream.Flush()
      $ok = $true
    }
  } catch {
    $ok = $false
  } finally {
    if ($null -ne $bytes) { [Array]::Clear($bytes, 0, $bytes.Length) }
    $stream.Dispose()
  }
  if ($ok) {
    try {
      if ([System.IO.File]::Exists($Path)) { [System.IO.File]::Delete($Path) }
      [System.IO.File]::Move($tmp, $Path)
      return 'written'
    } catch {
      $ok = $false
    }
  }
  try { [System.IO.File]::Delete($tmp) } catch { $null = $_ }
  return 'write-failed'
}

# An RSA object that can do OAEP with SHA-256. On Windows that is RSACng (.NET Framework 4.6 and later,
# and PowerShell 7): .NET Framework's default RSA, RSACryptoServiceProvider, has no OAEP-SHA256. Where
# CNG does not exist (PowerShell 7 off Windows) RSA.Create() gives the platform's implementation.
function New-KtrRsa {
  try {
    return (New-Object System.Security.Cryptography.RSACng -ArgumentList 2048)
  } catch {
    $rsa = [System.Security.Cryptography.RSA]::Create()
    $rsa.KeySize = 2048
    return $rsa
  }
}

function Get-KtrOaepSha256 {
  return [System.Security.Cryptography.RSAEncryptionPadding]::OaepSHA256
}

# 1 when this .NET has the RSA OAEP-SHA256 API the push unseals with (.NET Framework 4.6 and later).
function Test-KtrUnsealSupport {
  if ($null -eq ('System.Security.Cryptography.RSAEncryptionPadding' -as [type])) { return 0 }
  return 1
}
