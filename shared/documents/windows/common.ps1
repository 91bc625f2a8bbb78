# Functions common to the Windows probe and push documents, spliced into both by ssm-documents.ts.
# They read a component's state, never a secret.
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

# Whether every parameter named was given: its SSM_ variable (set by the agent, or by the script's
# fallback from the value an older agent spliced in) is neither empty nor the literal placeholder, which
# an agent that did neither leaves. The placeholder is built at run time: SSM reads a literal double
# brace in document text as a parameter reference.
function Test-KtrParameters([string[]]$Names) {
  foreach ($name in $Names) {
    $value = [string][Environment]::GetEnvironmentVariable('SSM_' + $name)
    if ($value -eq '' -or $value -ceq ('{' + '{' + $name + '}' + '}')) { return $false }
  }
  return $true
}

# Prints the line that tells the function the agent passed no parameters, and stops.
function Stop-KtrMissingParameters {
  Write-KtrLine 'host error=missing-parameters'
  Write-KtrLine 'end'
  exit 1
}

function Get-KtrInstallDir {
  $dir = [string]$env:SSM_WindowsInstallDir
  if ($dir.Length -gt 3) { $dir = $dir.TrimEnd([char]92) }
  return (Resolve-KtrPath $dir)
}

function Get-KtrServiceName {
  return [string]$env:SSM_WindowsServiceName
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

# Most of a config file that is read: Kasm's are a few kilobytes.
$KtrConfigMaxBytes = 1048576

# The lines of at most the first KtrConfigMaxBytes of a config file (UTF-8), or $null when it cannot be read.
function Read-KtrConfigLines([string]$Path) {
  try {
    $stream = New-Object System.IO.FileStream($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::ReadWrite)
  } catch {
    return $null
  }
  try {
    $buffer = New-Object byte[] $KtrConfigMaxBytes
    $total = 0
    while ($total -lt $buffer.Length) {
      $read = $stream.Read($buffer, $total, $buffer.Length - $total)
      if ($read -le 0) { break }
      $total += $read
    }
    return ,((New-KtrUtf8).GetString($buffer, 0, $total) -split '\r?\n')
  } catch {
    return $null
  } finally {
    $stream.Dispose()
  }
}

# The token's header.payload (never the signature), or none / unreadable.
function Get-KtrToken([string]$ConfigPath, [string]$Section, [string]$Key) {
  $lines = Read-KtrConfigLines $ConfigPath
  if ($null -eq $lines) { return 'unreadable' }
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

# Fields describing one installed component; $null when its config is absent. With a state directory,
# a waiting file the push already delivered (and restarted the service for) adds delivered=<seconds
# since that first delivery>: the function then reports it stuck instead of restarting the service again.
function Get-KtrFields($Component, [string]$InstallDir, [string]$ServiceName, [string]$StateDir) {
  $config = [System.IO.Path]::Combine($InstallDir, $Component.ConfigFile)
  if (-not [System.IO.File]::Exists($config)) { return $null }
  $token = Get-KtrToken $config $Component.Section $Component.Key
  $age = Get-KtrRegistrationAge $InstallDir
  $running = Get-KtrRunning $ServiceName
  $fields = 'token={0} reg={1} running={2}' -f $token, $age, $running
  if ($StateDir -ne '') {
    $delivered = Get-KtrFirstDeliveryAge $StateDir $Component.Name ($age -ne 'absent')
    if ($null -ne $delivered) { $fields = $fields + ' delivered=' + $delivered }
  }
  return $fields
}

# The marker the push leaves in the state directory at a component's first delivery: the epoch seconds
# of that delivery. Later pushes keep it while the file waits; once the file is gone it is removed.
function Get-KtrDeliveryMarker([string]$StateDir, [string]$Name) {
  return [System.IO.Path]::Combine($StateDir, 'delivered-' + $Name + '.txt')
}

# Seconds since the first delivery of the file that still waits, or $null (no marker, or no file:
# then a leftover marker is removed).
function Get-KtrFirstDeliveryAge([string]$StateDir, [string]$Name, [bool]$Waiting) {
  $marker = Get-KtrDeliveryMarker $StateDir $Name
  if (-not [System.IO.File]::Exists($marker)) { return $null }
  if (-not $Waiting) {
    try { [System.IO.File]::Delete($marker) } catch { $null = $_ }
    return $null
  }
  try {
    $first = [long]([System.IO.File]::ReadAllText($marker, (New-KtrUtf8)).Trim())
    return [string][Math]::Max([long]0, (Get-KtrNow) - $first)
  } catch {
    return $null
  }
}

# Well-known SIDs that may own the state directory and the registration file: LocalSystem, Administrators.
$KtrTrustedOwners = @('S-1-5-18', 'S-1-5-32-544')

# Whether a file or directory is a reparse point (a junction, symlink or mount point).
function Test-KtrReparsePoint([string]$Path) {
  try {
    $attributes = [System.IO.File]::GetAttributes($Path)
  } catch {
    return $false
  }
  return (($attributes -band [System.IO.FileAttributes]::ReparsePoint) -ne 0)
}

# The owner's SID of a file or directory, or '' when it cannot be read.
function Get-KtrOwnerSid([string]$Path) {
  try {
    $acl = Get-Acl -LiteralPath $Path
    return [string]$acl.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
  } catch {
    return ''
  }
}

# An existing file or directory that is no reparse point and belongs to SYSTEM or Administrators.
function Test-KtrTrusted([string]$Path) {
  if (Test-KtrReparsePoint $Path) { return $false }
  return ($KtrTrustedOwners -contains (Get-KtrOwnerSid $Path))
}

# Whether a file or directory's DACL is exactly what this product sets: inheritance off, and nothing but
# Allow entries for SYSTEM and Administrators (icacls /grant:r keeps other explicit entries, so a DACL is
# never fixed up in place: what is not exactly this is set aside or refused).
function Test-KtrPrivateAcl([string]$Path) {
  try {
    $acl = Get-Acl -LiteralPath $Path
    if (-not $acl.AreAccessRulesProtected) { return $false }
    foreach ($rule in @($acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier]))) {
      if ([string]$rule.AccessControlType -ne 'Allow') { return $false }
      if ($KtrTrustedOwners -notcontains [string]$rule.IdentityReference.Value) { return $false }
    }
    return $true
  } catch {
    return $false
  }
}

# Whether anything (a file, a directory, a link, even a dangling one) is at $Path.
function Test-KtrPresent([string]$Path) {
  try {
    $null = [System.IO.File]::GetAttributes($Path)
    return $true
  } catch {
    return $false
  }
}

# A state directory this product can trust: a real directory, owned by SYSTEM or Administrators, with
# exactly the private DACL.
function Test-KtrStateDirTrusted([string]$Path) {
  return ([System.IO.Directory]::Exists($Path) -and (Test-KtrTrusted $Path) -and (Test-KtrPrivateAcl $Path))
}

# A name beside $Path that nobody can guess: `<Path>.<what>-<UTC time>-<random>`.
function Get-KtrSiblingName([string]$Path, [string]$What) {
  $random = [System.IO.Path]::GetRandomFileName().Replace('.', '')
  return ($Path + '.' + $What + '-' + [DateTime]::UtcNow.ToString('yyyyMMddHHmmss') + '-' + $random)
}

# Moves whatever stands at $Path out of the way, unread and unchanged, to a sibling named
# `<Path>.untrusted-<time>-<random>` for an administrator to look at. Renaming a link or junction moves the link itself,
# never what it points at; SYSTEM may rename any entry of ProgramData (it may delete its children).
function Move-KtrAside([string]$Path) {
  $aside = Get-KtrSiblingName $Path 'untrusted'
  try {
    [System.IO.Directory]::Move($Path, $aside)
    return $true
  } catch {
    $null = $_
  }
  try {
    [System.IO.File]::Move($Path, $aside)
    return $true
  } catch {
    return $false
  }
}

# Creates a directory whose protected DACL gives SYSTEM and Administrators full control and nobody
# else anything, from its first moment: on .NET Framework (Windows PowerShell 5.1) the directory is
# created with that security descriptor, so no non-administrator ever holds an inherited right to it.
# Where .NET has no Windows ACL API (PowerShell 7 off Windows, the proving ground) it is created, then
# restricted with icacls (a new directory has no explicit entry but the ones icacls grants).
function New-KtrPrivateDirectory([string]$Path) {
  $security = $null
  try {
    $security = New-Object System.Security.AccessControl.DirectorySecurity
    $security.SetAccessRuleProtection($true, $false)
    $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    foreach ($sid in $KtrTrustedOwners) {
      $identity = New-Object System.Security.Principal.SecurityIdentifier($sid)
      $rule = New-Object System.Security.AccessControl.FileSystemAccessRule($identity, [System.Security.AccessControl.FileSystemRights]::FullControl, $inherit, [System.Security.AccessControl.PropagationFlags]::None, [System.Security.AccessControl.AccessControlType]::Allow)
      $security.AddAccessRule($rule)
    }
  } catch {
    $security = $null
  }
  if ($null -ne $security) {
    try {
      $null = [System.IO.Directory]::CreateDirectory($Path, $security)
      return
    } catch [System.Management.Automation.MethodException] {
      # PowerShell 7 on Windows: .NET has no CreateDirectory(path, security); fall through to icacls.
      $null = $_
    }
  }
  $null = [System.IO.Directory]::CreateDirectory($Path)
  $null = Set-KtrPrivateAcl $Path $true
}

# Makes the state directory usable, or says it cannot ($false: do not use it). One that is exactly as
# this product makes it is used as it is. Anything else at that name (a directory a user made, which
# ProgramData lets any user do; a link or junction; a file; a DACL with another entry) is moved aside
# unread, and a fresh private directory is made beside, then renamed into place: a rename fails when
# something took the name meanwhile, where a create would silently accept it. A few tries, then give up
# for this run (the next run tries again): a user can at most make runs fail, never read or plant a key.
function Initialize-KtrStateDir([string]$Path) {
  for ($try = 0; $try -lt 3; $try++) {
    if (Test-KtrStateDirTrusted $Path) { return $true }
    if ((Test-KtrPresent $Path) -and -not (Move-KtrAside $Path)) { return $false }
    $fresh = Get-KtrSiblingName $Path 'new'
    try {
      New-KtrPrivateDirectory $fresh
      if (-not (Test-KtrStateDirTrusted $fresh)) { throw 'not private' }
      [System.IO.Directory]::Move($fresh, $Path)
    } catch {
      try { [System.IO.Directory]::Delete($fresh, $true) } catch { $null = $_ }
    }
  }
  return (Test-KtrStateDirTrusted $Path)
}

# Limits a file or directory to SYSTEM and Administrators (full control) with inheritance removed: the
# NTFS counterpart of mode 0600 / 0700. Well-known SIDs, not names, so any display language works. Only
# used on objects this product just created, which hold no explicit entry of anyone else's.
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
# written, then put in place in one step: File.Replace (ReplaceFile) over an existing file, File.Move
# where there is none, so the name never stands empty. Returns written, write-denied (no temp file could
# be created) or write-failed (nothing left behind).
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
      if ([System.IO.File]::Exists($Path)) {
        # [NullString]::Value: PowerShell would pass $null to a string parameter as an empty string.
        [System.IO.File]::Replace($tmp, $Path, [NullString]::Value)
      } else {
        [System.IO.File]::Move($tmp, $Path)
      }
      return 'written'
    } catch {
      $ok = $false
    }
  }
  try { [System.IO.File]::Delete($tmp) } catch { $null = $_ }
  return 'write-failed'
}

# The private key as it rests on disk: encrypted with DPAPI for the account the step runs as (SYSTEM), so
# the file alone (a backup, a disk image, a misplaced ACL) opens nothing. ConvertFrom-SecureString without
# a key is DPAPI (CurrentUser scope) in Windows PowerShell 5.1 and PowerShell 7 on Windows.
function Protect-KtrText([string]$Text) {
  $secure = ConvertTo-SecureString -String $Text -AsPlainText -Force
  try {
    return (ConvertFrom-SecureString -SecureString $secure)
  } finally {
    $secure.Dispose()
  }
}

# The text Protect-KtrText protected; throws when DPAPI cannot open it (another account or machine).
function Unprotect-KtrText([string]$Protected) {
  $secure = ConvertTo-SecureString -String $Protected
  $bstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($secure)
  try {
    return [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr)
  } finally {
    [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr)
    $secure.Dispose()
  }
}

# The host's lock, for overlapping runs: a lock file in the (trusted, private) state directory, opened
# for nobody else (FileShare.None), tried for 10 s. Held only while a step sweeps, claims its key and
# checks and writes; a killed step's handle closes with it. $null: another step kept it all that time.
function Enter-KtrHostLock([string]$StateDir) {
  $path = [System.IO.Path]::Combine($StateDir, 'host.lock')
  $clock = [System.Diagnostics.Stopwatch]::StartNew()
  while ($true) {
    try {
      return (New-Object System.IO.FileStream($path, [System.IO.FileMode]::OpenOrCreate, [System.IO.FileAccess]::ReadWrite, [System.IO.FileShare]::None))
    } catch {
      if ($clock.Elapsed.TotalSeconds -ge 10) { return $null }
      Start-Sleep -Milliseconds 100
    }
  }
}

# Removes what a step killed half-way (the run's timeout or cancel: no finally block runs) can have left:
# a key a push had claimed, the temp files of Write-KtrPrivateFile in the state directory, and the temp
# files beside the config, which may hold the token. Called with the host's lock held, so nothing of a
# live step goes.
function Remove-KtrLeftovers([string]$StateDir, [string]$InstallDir) {
  $found = @()
  try { $found += [System.IO.Directory]::GetFiles($StateDir, 'seal-*.key.used') } catch { $null = $_ }
  try { $found += [System.IO.Directory]::GetFiles($StateDir, '.*.tmp') } catch { $null = $_ }
  try { $found += [System.IO.Directory]::GetFiles($InstallDir, '.' + $RegFile + '.*.tmp') } catch { $null = $_ }
  foreach ($file in $found) {
    try {
      if (-not (Test-KtrReparsePoint $file)) { [System.IO.File]::Delete($file) }
    } catch {
      $null = $_
    }
  }
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
