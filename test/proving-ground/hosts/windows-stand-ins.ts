/**
 * The boundary between a Windows step (run for real by PowerShell 7 on Linux) and the simulated Windows
 * host. The step's script runs unchanged; before it, a prelude (dot-sourced, profile-less) does only two
 * things:
 * - maps drive `C:` onto the host's directory (`New-PSDrive C -Root <host>/C`), so `C:\Program Files\Kasm`
 *   and `$env:ProgramData` (set to `C:\ProgramData`) resolve to the host's files;
 * - defines stand-ins for the Windows-only commands the scripts use — `Get-Service`, `Restart-Service`,
 *   `Get-Acl` (the owner's SID and the DACL) and `icacls.exe` — as functions that post each request to a local HTTP endpoint of the proving ground,
 *   which records it and acts on the simulated host (service state, agent restart, ACL model);
 * - models DPAPI where Windows PowerShell uses it: `ConvertFrom-SecureString` / `ConvertTo-SecureString`
 *   without a key encrypt and decrypt with the account's DPAPI key on Windows, and only hex-encode off it.
 *   Here they encrypt with AES-256-GCM under a key the host keeps (its "DPAPI master key"), so what rests
 *   on disk is ciphertext, as on Windows; `-AsPlainText` goes to the real cmdlet.
 * Everything else (files, .NET crypto, parsing, waiting) is the script's own code running on real .NET.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a stand-in received, as the proving ground recorded it. */
export interface StandInCall {
  readonly at: string;
  readonly command: 'icacls' | 'Get-Service' | 'Restart-Service' | 'Get-Acl';
  /** The arguments as the script passed them (icacls) or the service name asked for. */
  readonly args: readonly string[];
  /** What the stand-in answered, in a word: `ok`, `not-found`, `start-failed`, `invalid`, … */
  readonly outcome: string;
  /** icacls: the file as the host sees it (`C:\...`) and the ACL it now has (SDDL style). */
  readonly hostPath?: string;
  readonly acl?: string;
}

export type StandInRequest = { readonly command: string } & Readonly<Record<string, unknown>>;
export type StandInHandler = (request: StandInRequest) => Promise<Record<string, unknown>>;

/** One local endpoint for every simulated Windows host of a fleet: `POST /<secret>/<host id>`. */
export class StandInServer {
  private readonly handlers = new Map<string, StandInHandler>();
  private readonly secret = randomBytes(12).toString('hex');
  private server: Server | undefined;
  private port = 0;

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  register(hostId: string, handler: StandInHandler): void {
    this.handlers.set(hostId, handler);
  }

  url(hostId: string): string {
    return `http://127.0.0.1:${this.port}/${this.secret}/${hostId}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const [, secret, hostId] = (req.url ?? '').split('/');
    const handler = secret === this.secret && hostId ? this.handlers.get(hostId) : undefined;
    if (req.method !== 'POST' || !handler) {
      reply(404, { message: 'no such simulated Windows host' });
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
      const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as StandInRequest;
      if (typeof request?.command !== 'string') throw new Error('request without command');
      reply(200, await handler(request));
    } catch (error) {
      reply(500, { message: `proving ground stand-in failed: ${(error as Error).message}` });
    }
  }
}

/** A PowerShell single-quoted literal. */
function psQuote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * The prelude run (dot-sourced) before a step's script on a simulated Windows host. PowerShell 7 only:
 * it is the proving ground's code, never shipped.
 */
export function standInPrelude(options: {
  readonly driveRoot: string;
  readonly url: string;
  /** The host's DPAPI key for the SYSTEM account: 32 bytes, hex. */
  readonly dpapiKey: string;
}): string {
  return `# Proving ground prelude for a simulated Windows host (PowerShell 7 on Linux). The step's script runs
# unchanged after it. Only drive C: and the Windows-only commands Get-Service, Restart-Service, Get-Acl
# (the owner only) and icacls.exe are provided here; each stand-in asks the proving ground, which records the request.
$null = New-PSDrive -Name C -PSProvider FileSystem -Root ${psQuote(options.driveRoot)} -Scope Global
$global:KtrStandInUrl = ${psQuote(options.url)}

function global:Invoke-KtrStandIn([hashtable]$Request) {
  $body = ConvertTo-Json -InputObject $Request -Compress -Depth 4
  return Invoke-RestMethod -Method Post -Uri $global:KtrStandInUrl -Body $body -ContentType 'application/json' -NoProxy -TimeoutSec 300
}

function global:icacls.exe {
  $arguments = @($args | ForEach-Object { [string]$_ })
  $reply = Invoke-KtrStandIn @{ command = 'icacls'; args = $arguments }
  foreach ($line in @($reply.output)) { $line }
  $global:LASTEXITCODE = [int]$reply.exitCode
}
Set-Alias -Name icacls -Value icacls.exe -Scope Global

function global:Get-Acl {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string]$Path, [string]$LiteralPath)
  $target = $LiteralPath
  if (-not $target) { $target = $Path }
  $reply = Invoke-KtrStandIn @{ command = 'Get-Acl'; path = $target }
  if (-not $reply.found) {
    throw ("Cannot find path '" + $target + "' because it does not exist.")
  }
  $rules = @(foreach ($ace in @($reply.aces)) {
    [pscustomobject]@{ IdentityReference = [pscustomobject]@{ Value = [string]$ace.sid }; AccessControlType = [string]$ace.type; IsInherited = [bool]$ace.inherited }
  })
  $acl = [pscustomobject]@{ Path = $target; Owner = [string]$reply.ownerName; OwnerSid = [string]$reply.owner; AreAccessRulesProtected = [bool]$reply.protected; Rules = $rules }
  $acl | Add-Member -MemberType ScriptMethod -Name GetOwner -Value { param($Type) [pscustomobject]@{ Value = $this.OwnerSid } }
  $acl | Add-Member -MemberType ScriptMethod -Name GetAccessRules -Value {
    param($Explicit, $Inherited, $Type)
    @($this.Rules | Where-Object { ($_.IsInherited -and $Inherited) -or (-not $_.IsInherited -and $Explicit) })
  }
  return $acl
}

$global:KtrDpapiKey = [Convert]::FromHexString(${psQuote(options.dpapiKey)})
# A DPAPI blob's header (version 1, the DPAPI provider GUID), then nonce, tag and ciphertext.
$global:KtrDpapiHeader = '01000000d08c9ddf0115d1118c7a00c04fc297eb'

function global:ConvertFrom-SecureString {
  [CmdletBinding()]
  param([Parameter(Position = 0, ValueFromPipeline = $true)][System.Security.SecureString]$SecureString)
  $plain = [System.Text.Encoding]::Unicode.GetBytes([System.Net.NetworkCredential]::new('', $SecureString).Password)
  $nonce = [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(12)
  $tag = [byte[]]::new(16)
  $cipher = [byte[]]::new($plain.Length)
  $aes = [System.Security.Cryptography.AesGcm]::new($global:KtrDpapiKey, 16)
  try { $aes.Encrypt($nonce, $plain, $cipher, $tag) } finally { $aes.Dispose(); [Array]::Clear($plain, 0, $plain.Length) }
  return $global:KtrDpapiHeader + [Convert]::ToHexString([byte[]]($nonce + $tag + $cipher)).ToLowerInvariant()
}

function global:ConvertTo-SecureString {
  [CmdletBinding()]
  param([Parameter(Position = 0, ValueFromPipeline = $true)][string]$String, [switch]$AsPlainText, [switch]$Force)
  if ($AsPlainText) { return Microsoft.PowerShell.Security\\ConvertTo-SecureString -String $String -AsPlainText -Force }
  if (-not $String.StartsWith($global:KtrDpapiHeader)) { throw 'Key not valid for use in specified state.' }
  $blob = [Convert]::FromHexString($String.Substring($global:KtrDpapiHeader.Length))
  $nonce = $blob[0..11]
  $tag = $blob[12..27]
  $cipher = [byte[]]$blob[28..($blob.Length - 1)]
  $plain = [byte[]]::new($cipher.Length)
  $aes = [System.Security.Cryptography.AesGcm]::new($global:KtrDpapiKey, 16)
  try { $aes.Decrypt([byte[]]$nonce, $cipher, [byte[]]$tag, $plain) } finally { $aes.Dispose() }
  return Microsoft.PowerShell.Security\\ConvertTo-SecureString -String ([System.Text.Encoding]::Unicode.GetString($plain)) -AsPlainText -Force
}

function global:Get-Service {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Name)
  if ($null -eq $Name) { throw 'The proving ground stand-in for Get-Service supports -Name only.' }
  foreach ($n in $Name) {
    $reply = Invoke-KtrStandIn @{ command = 'Get-Service'; name = $n }
    if ($reply.found) {
      [pscustomobject]@{ Name = $reply.name; ServiceName = $reply.name; DisplayName = $reply.displayName; Status = $reply.status }
    } else {
      Write-Error -Message ("Cannot find any service with service name '" + $n + "'.") -Category ObjectNotFound -ErrorId 'NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand' -TargetObject $n
    }
  }
}

function global:Restart-Service {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string[]]$Name, [switch]$Force, [switch]$PassThru)
  foreach ($n in $Name) {
    $reply = Invoke-KtrStandIn @{ command = 'Restart-Service'; name = $n; force = [bool]$Force }
    if (-not $reply.ok) {
      Write-Error -Message $reply.message -Category $reply.category -ErrorId $reply.errorId -TargetObject $n
    } elseif ($PassThru) {
      [pscustomobject]@{ Name = $n; ServiceName = $n; Status = 'Running' }
    }
  }
}
`;
}
