# Checks PowerShell host scripts without running them: they must parse, be plain ASCII, and use
# nothing newer than Windows PowerShell 5.1 (the SSM agent runs powershell.exe 5.1 on Windows Server).
# Needs PowerShell 7 (its parser knows the newer syntax, so it can find it).
#
#   pwsh -NoProfile -File test/pwsh-check.ps1 FILE...
#
# Prints one "FILE:LINE:COLUMN: problem" line per finding and exits 1 if there is any.
param([Parameter(Mandatory = $true, ValueFromRemainingArguments = $true)][string[]]$Path)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# Cmdlets that Windows PowerShell 5.1 does not have.
$newCmdlets = @(
  'Get-Error', 'Join-String', 'Test-Json', 'Get-Uptime', 'Remove-Alias', 'Remove-Service', 'Start-ThreadJob',
  'ConvertFrom-Markdown', 'Show-Markdown', 'Get-MarkdownOption', 'Set-MarkdownOption', 'Clear-RecycleBin',
  'Get-ExperimentalFeature', 'Enable-ExperimentalFeature', 'Disable-ExperimentalFeature', 'Get-PSSubsystem',
  'ConvertTo-CliXml', 'ConvertFrom-CliXml'
)
# Parameters that exist only in PowerShell 6 and later: command -> parameter names (full, lower case).
$newParameters = @{
  'foreach-object'   = @('parallel', 'throttlelimit', 'timeoutseconds', 'asjob', 'usenewrunspace')
  '%'                = @('parallel', 'throttlelimit', 'timeoutseconds', 'asjob', 'usenewrunspace')
  'foreach'          = @('parallel', 'throttlelimit', 'timeoutseconds', 'asjob', 'usenewrunspace')
  'convertfrom-json' = @('ashashtable', 'depth', 'noenumerate')
  'convertto-json'   = @('enumsasstrings', 'asarray', 'escapehandling')
  'join-path'        = @('additionalchildpath', 'extension')
  'split-path'       = @('leafbase', 'extension')
  'get-content'      = @('asbytestream')
  'set-content'      = @('asbytestream')
  'add-content'      = @('asbytestream')
  'invoke-webrequest' = @('skipcertificatecheck', 'authentication', 'token', 'sslprotocol', 'skipheadervalidation',
    'resume', 'skiphttperrorcheck', 'noproxy', 'form', 'retryintervalsec', 'maximumretrycount')
  'invoke-restmethod' = @('skipcertificatecheck', 'authentication', 'token', 'sslprotocol', 'skipheadervalidation',
    'resume', 'skiphttperrorcheck', 'statuscodevariable', 'responseheadersvariable', 'noproxy', 'form',
    'retryintervalsec', 'maximumretrycount', 'followrellink')
  'get-childitem'    = @('followsymlink')
  'select-string'    = @('raw', 'noemphasis')
  'test-connection'  = @('ping', 'tcpport', 'traceroute', 'mtusize', 'repeat', 'detailed')
  'out-file'         = @('nonewline')
  'start-process'    = @('environment')
  'where-object'     = @('not')
  'sort-object'      = @('top', 'bottom', 'stable')
  'get-random'       = @('shuffle')
}
# .NET members that .NET Framework 4.x (what Windows PowerShell 5.1 runs on) does not have.
$newMembers = @(
  'ExportSubjectPublicKeyInfo', 'ImportSubjectPublicKeyInfo', 'ExportRSAPublicKey', 'ImportRSAPublicKey',
  'ExportRSAPrivateKey', 'ImportRSAPrivateKey', 'ExportPkcs8PrivateKey', 'ImportPkcs8PrivateKey',
  'ExportEncryptedPkcs8PrivateKey', 'ImportEncryptedPkcs8PrivateKey', 'ImportFromPem', 'ImportFromEncryptedPem',
  'ExportSubjectPublicKeyInfoPem', 'ExportRSAPublicKeyPem', 'ExportPkcs8PrivateKeyPem', 'SetUnixFileMode',
  'GetUnixFileMode', 'GetRelativePath', 'ReplaceLineEndings', 'ToHexString', 'FromHexString', 'HashData',
  'Fill', 'GetHexString', 'GetItems', 'CreateSymbolicLink', 'ResolveLinkTarget'
)
# Automatic variables that only PowerShell 6 and later set.
$newVariables = @('IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR', 'PSStyle', 'EnabledExperimentalFeatures', 'PSNativeCommandUseErrorActionPreference')
# Number literals PowerShell 5.1 reads: decimal (with exponent), hex, type suffixes d and l, multipliers.
$numberPattern = '^(?:0x[0-9a-f]+|[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)(?:l|d)?(?:kb|mb|gb|tb|pb)?$'

$problems = New-Object System.Collections.Generic.List[string]

function Add-Problem([string]$File, $Extent, [string]$Message) {
  $problems.Add(('{0}:{1}:{2}: {3}' -f $File, $Extent.StartLineNumber, $Extent.StartColumnNumber, $Message))
}

foreach ($file in $Path) {
  $text = [System.IO.File]::ReadAllText($file)
  $lineNumber = 0
  foreach ($line in $text.Split("`n")) {
    $lineNumber++
    if ($line -match '[^\x09\x0A\x0D\x20-\x7E]') {
      $problems.Add(('{0}:{1}:1: not plain ASCII (Windows PowerShell 5.1 reads a script without a BOM as the ANSI code page)' -f $file, $lineNumber))
    }
  }

  $tokens = $null
  $errors = $null
  $ast = [System.Management.Automation.Language.Parser]::ParseInput($text, $file, [ref]$tokens, [ref]$errors)
  foreach ($e in $errors) { Add-Problem $file $e.Extent ('parse error: ' + $e.Message) }

  foreach ($t in $tokens) {
    $kind = [string]$t.Kind
    if ($kind -eq 'QuestionQuestion' -or $kind -eq 'QuestionQuestionEquals') {
      Add-Problem $file $t.Extent ("null-coalescing operator '" + $t.Text + "' needs PowerShell 7")
    } elseif ($kind -eq 'QuestionDot' -or $kind -eq 'QuestionLBracket') {
      Add-Problem $file $t.Extent ("null-conditional operator '" + $t.Text + "' needs PowerShell 7")
    } elseif ($kind -eq 'AndAnd' -or $kind -eq 'OrOr') {
      Add-Problem $file $t.Extent ("pipeline chain operator '" + $t.Text + "' needs PowerShell 7")
    } elseif ($kind -eq 'Number' -and $t.Text -notmatch $numberPattern) {
      Add-Problem $file $t.Extent ("number literal '" + $t.Text + "' (suffix or binary form) needs PowerShell 6 or later")
    } elseif ($kind -eq 'StringExpandable' -or $kind -eq 'HereStringExpandable') {
      if ($t.Text -cmatch '`e|`u\{') {
        Add-Problem $file $t.Extent 'escape sequence `e / `u{} needs PowerShell 6 or later'
      }
    }
  }

  $found = $ast.FindAll({ $true }, $true)
  foreach ($node in $found) {
    $type = $node.GetType().Name
    if ($type -eq 'PipelineChainAst') {
      Add-Problem $file $node.Extent 'pipeline chain (&& / ||) needs PowerShell 7'
    } elseif ($type -eq 'TernaryExpressionAst') {
      Add-Problem $file $node.Extent 'ternary operator ?: needs PowerShell 7'
    } elseif ($type -eq 'PipelineAst' -and $node.Background) {
      Add-Problem $file $node.Extent 'background operator & needs PowerShell 6 or later'
    } elseif ($type -eq 'ScriptBlockAst' -and $null -ne $node.CleanBlock) {
      Add-Problem $file $node.Extent 'clean block needs PowerShell 7.3'
    } elseif ($type -eq 'FileRedirectionAst') {
      Add-Problem $file $node.Extent 'file redirection writes with the default encoding; write files with [System.IO.File] and an explicit encoding'
    } elseif ($type -eq 'VariableExpressionAst' -and $newVariables -contains $node.VariablePath.UserPath) {
      Add-Problem $file $node.Extent ('automatic variable $' + $node.VariablePath.UserPath + ' does not exist in Windows PowerShell 5.1')
    } elseif ($type -eq 'InvokeMemberExpressionAst' -or $type -eq 'MemberExpressionAst') {
      $member = $node.Member
      if ($member -is [System.Management.Automation.Language.StringConstantExpressionAst] -and $newMembers -contains $member.Value) {
        Add-Problem $file $node.Extent ('.NET member ' + $member.Value + ' does not exist in .NET Framework 4.x')
      }
      if ($node.NullConditional) { Add-Problem $file $node.Extent 'null-conditional member access needs PowerShell 7' }
      if ($type -eq 'InvokeMemberExpressionAst' -and $node.Static -and $member -is [System.Management.Automation.Language.StringConstantExpressionAst] -and $member.Value -eq 'Move' -and $null -ne $node.Arguments -and $node.Arguments.Count -gt 2) {
        Add-Problem $file $node.Extent '[System.IO.File]::Move with an overwrite argument does not exist in .NET Framework 4.x'
      }
    } elseif ($type -eq 'IndexExpressionAst' -and $node.NullConditional) {
      Add-Problem $file $node.Extent 'null-conditional index needs PowerShell 7'
    } elseif ($type -eq 'CommandAst') {
      $name = $node.GetCommandName()
      if ($null -eq $name) { continue }
      if ($newCmdlets -contains $name) { Add-Problem $file $node.Extent ("cmdlet $name does not exist in Windows PowerShell 5.1") }
      $key = $name.ToLowerInvariant()
      $positional = 0
      foreach ($element in $node.CommandElements | Select-Object -Skip 1) {
        if ($element -is [System.Management.Automation.Language.CommandParameterAst]) {
          $parameter = $element.ParameterName.ToLowerInvariant()
          if ($newParameters.ContainsKey($key)) {
            foreach ($newer in $newParameters[$key]) {
              if ($parameter.Length -ge 2 -and $newer.StartsWith($parameter)) {
                Add-Problem $file $element.Extent ("$name -$($element.ParameterName) needs PowerShell 6 or later")
              }
            }
          }
          if ($parameter -eq 'encoding' -and $null -ne $element.Argument -and $element.Argument.Extent.Text -match 'utf8(No)?BOM|ansi') {
            Add-Problem $file $element.Extent ("-Encoding $($element.Argument.Extent.Text) needs PowerShell 6 or later")
          }
        } else {
          $positional++
        }
      }
      if ($key -eq 'join-path' -and $positional -gt 2) {
        Add-Problem $file $node.Extent 'Join-Path with more than two paths needs PowerShell 6 or later'
      }
      if (@('set-content', 'add-content', 'out-file') -contains $key) {
        Add-Problem $file $node.Extent ("$name writes with a version-dependent default encoding; use [System.IO.File] with an explicit encoding")
      }
    }
  }
}

foreach ($p in $problems) { [Console]::Out.WriteLine($p) }
if ($problems.Count -gt 0) { exit 1 }
[Console]::Out.WriteLine(('pwsh-check: {0} file(s) parse and use nothing newer than Windows PowerShell 5.1' -f $Path.Count))
exit 0
