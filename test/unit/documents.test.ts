import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { PROBE_EXECUTION_SECONDS } from '../../lambda/steps/observe.ts';
import {
  DEFAULT_WINDOWS_INSTALL_DIR,
  DEFAULT_WINDOWS_SERVICE_NAME,
  REGISTRATION_FILE_NAME,
  WINDOWS_COMPONENTS,
  WINDOWS_STATE_DIR_NAME,
} from '../../shared/catalog.ts';
import {
  type DocumentRole,
  linuxScript,
  windowsScript,
  withoutCommentLines,
} from '../../shared/documents/ssm-documents.ts';
import { MAX_INSTANCES_PER_COMMAND } from '../../shared/limits.ts';

/**
 * "The content of the document must not exceed 64KB. This quota also includes the content
 * specified for input parameters at runtime."
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html
 */
const DOCUMENT_QUOTA = 64 * 1024;
const sealedEntry = (n: number) =>
  `i-${n.toString(16).padStart(17, '0')}:agent+guac+rdp_gateway+rdp_https_gateway:${'A'.repeat(342)}==`;

/**
 * The documents module evaluated afresh before each test: its parameters and patterns are
 * module-level values, so a test that reads them from the import at the top of the file sees
 * them as they were before the test began (and a mutation run counts them as never checked).
 */
let docs: typeof import('../../shared/documents/ssm-documents.ts');
beforeEach(async () => {
  vi.resetModules();
  docs = await import('../../shared/documents/ssm-documents.ts');
});

describe('the SSM documents', () => {
  it('fit the 64 KB quota even with the largest push parameters', () => {
    const deliveries = Array.from({ length: docs.MAX_DELIVERIES_PER_PUSH }, (_, i) => sealedEntry(i)).join(
      ' ',
    );
    expect(new RegExp(docs.PARAMETER_PATTERNS.deliveries).test(deliveries)).toBe(true);
    expect(JSON.stringify(docs.pushDocument()).length + deliveries.length).toBeLessThan(DOCUMENT_QUOTA);
    expect(JSON.stringify(docs.probeDocument()).length).toBeLessThan(DOCUMENT_QUOTA);
  });

  it('carry the scripts without their comment lines, but the shebang and shellcheck directives', () => {
    // Prepare
    const script = [
      '#!/usr/bin/env bash',
      '# why',
      '  # indented why',
      '# shellcheck disable=SC2016',
      'echo "#x" # tail',
    ];

    // Act
    const kept = docs.withoutCommentLines(script.join('\n'));

    // Assess
    expect(kept.split('\n')).toEqual([
      '#!/usr/bin/env bash',
      '# shellcheck disable=SC2016',
      'echo "#x" # tail',
    ]);
    expect(docs.linuxScript('push')).not.toMatch(/^\s*# (?!shellcheck )/m);
    expect(docs.windowsScript('push')).not.toMatch(/^\s*#/m);
  });

  it('leave the 50-delivery cap to the function, which sends no more hosts per push than one command may carry', () => {
    // The pattern cannot count them (Go refuses the nested repeat count, test/documents/patterns.test.ts);
    // the command runner's batches are the cap.
    expect(docs.MAX_DELIVERIES_PER_PUSH).toBe(MAX_INSTANCES_PER_COMMAND);
    expect(docs.PARAMETER_PATTERNS.deliveries).not.toMatch(/\{\d*,\d*\}\)?\$$/);
  });

  it('take every parameter as an environment variable with an allowed pattern', () => {
    for (const document of [docs.probeDocument(), docs.pushDocument()]) {
      for (const [name, parameter] of Object.entries(document.parameters)) {
        expect(parameter.interpolationType, name).toBe('ENV_VAR');
        expect(parameter.allowedPattern, name).toMatch(/^\^.*\$$/);
      }
      // Script text references a parameter by {{ }} substitution only in the fallback for agents before
      // 3.3.2746.0, inside single quotes (test/documents/splice.test.ts holds every splice to that).
      for (const step of document.mainSteps) {
        for (const line of step.inputs.runCommand.filter((l) => l.includes('{{'))) {
          expect(line, step.name).toMatch(/[ :]SSM_[A-Za-z0-9]+ ?= ?'\{\{[A-Za-z0-9]+\}\}'/);
        }
      }
    }
  });

  it('carry one step per platform, each behind its platform precondition', () => {
    for (const document of [docs.probeDocument(), docs.pushDocument()]) {
      expect(document.mainSteps.map((s) => [s.action, s.precondition.StringEquals[1]])).toEqual([
        ['aws:runShellScript', 'Linux'],
        ['aws:runPowerShellScript', 'Windows'],
      ]);
    }
  });
});

describe('what SSM receives', () => {
  // Built inside each test, not when the file loads: Stryker switches a mutant on only while a test runs.
  const build = {
    probe: () => docs.probeDocument(),
    push: () => docs.pushDocument(),
  } as const;

  it.each(['probe', 'push'] as const)(
    'declare the %s document as schema 2.2 with a sentence that names the tool and the role',
    (role) => {
      expect(build[role]().schemaVersion).toBe('2.2');
      expect(build[role]().description).toMatch(new RegExp(`^kasm-token-reconciler ${role}: .+\\.$`));
    },
  );

  it('declare exactly the parameters the function sends: the common ones, KeyPair and GraceSeconds to the probe, the deliveries to the push', () => {
    // The function sends InstallRoot, RunId, WindowsInstallDir and WindowsServiceName with every
    // command (lambda/steps/document-runs.ts), and SSM refuses a parameter the document does not declare.
    const common = ['InstallRoot', 'RunId', 'WindowsInstallDir', 'WindowsServiceName'];
    expect(Object.keys(docs.probeDocument().parameters).sort()).toEqual(
      [...common, 'KeyPair', 'GraceSeconds'].sort(),
    );
    expect(Object.keys(docs.pushDocument().parameters).sort()).toEqual(
      [...common, 'Deliveries', 'WaitSeconds', 'NotAfter'].sort(),
    );
  });

  it('say in the console what each KeyPair value makes the probe do', () => {
    const probe = build.probe();
    expect(probe.description).toMatch(
      /sealing key with KeyPair=create, or with KeyPair=auto where a component is locked out/,
    );
    expect(probe.parameters.KeyPair?.description).toMatch(/^create: .+; auto: .+; none: make no key\.$/);
  });

  it('type and describe every parameter for whoever runs a document by hand', () => {
    for (const document of Object.values(build).map((b) => b())) {
      for (const [name, parameter] of Object.entries(document.parameters)) {
        expect(parameter.type, name).toBe('String');
        expect(parameter.description, name).toMatch(/^[A-Za-z].*\.$/);
      }
    }
  });

  it('give every optional parameter a default its own pattern allows, and make the push demand its deliveries, run id and deadline', () => {
    // Assess: a default outside the pattern would make SSM refuse a command that leaves it out
    for (const document of Object.values(build).map((b) => b())) {
      for (const [name, parameter] of Object.entries(document.parameters)) {
        if (parameter.default !== undefined)
          expect(parameter.default, name).toMatch(new RegExp(parameter.allowedPattern));
      }
    }
    const required = Object.entries(docs.pushDocument().parameters)
      .filter(([, p]) => p.default === undefined)
      .map(([name]) => name);
    expect(required.sort()).toEqual(['Deliveries', 'NotAfter', 'RunId']);
    expect(docs.probeDocument().parameters.KeyPair?.default).toBe('none');
  });

  it.each(['probe', 'push'] as const)(
    'run in the %s document the spliced scripts, one step per platform named after its role',
    (role) => {
      expect(build[role]().mainSteps).toEqual([
        {
          action: 'aws:runShellScript',
          name: `${role}Linux`,
          precondition: { StringEquals: ['platformType', 'Linux'] },
          inputs: { timeoutSeconds: expect.any(String), runCommand: docs.linuxScript(role).split('\n') },
        },
        {
          action: 'aws:runPowerShellScript',
          name: `${role}Windows`,
          precondition: { StringEquals: ['platformType', 'Windows'] },
          inputs: { timeoutSeconds: expect.any(String), runCommand: docs.windowsScript(role).split('\n') },
        },
      ]);
    },
  );

  it('give the probe no longer than the function waits for it, and the push longer than the longest wait it may be sent', () => {
    // Prepare
    const timeouts = (role: DocumentRole) =>
      build[role]().mainSteps.map((s) => Number(s.inputs.timeoutSeconds));
    const waitSeconds = new RegExp(docs.PARAMETER_PATTERNS.waitSeconds);
    const longestWait = 999;

    // Assess
    expect([waitSeconds.test(String(longestWait)), waitSeconds.test(String(longestWait + 1))]).toEqual([
      true,
      false,
    ]);
    for (const t of timeouts('probe')) {
      expect(t).toBeGreaterThan(0);
      expect(t).toBeLessThanOrEqual(PROBE_EXECUTION_SECONDS);
    }
    for (const t of timeouts('push')) expect(t).toBeGreaterThan(longestWait);
  });
});

describe('the scripts the documents carry', () => {
  const source = (file: string) =>
    readFileSync(new URL(`../../shared/documents/${file}`, import.meta.url), 'utf8');

  /** The role's script around its two markers: before `# @@CATALOG@@`, between, after `# @@COMMON@@`. */
  function around(text: string): [string, string, string] {
    const [before = '', rest = ''] = text.split('# @@CATALOG@@');
    const [between = '', after = ''] = rest.split('# @@COMMON@@');
    expect(after, 'each marker appears once').not.toContain('@@');
    return [before, between, after];
  }

  it.each(['probe', 'push'] as const)(
    'splice into the Linux %s the catalog and common.sh, without the shellcheck directive only the standalone file needs',
    (role) => {
      // Prepare
      const [before, between, after] = around(source(`linux/${role}.sh`));
      const common = source('linux/common.sh');
      expect(common.startsWith('# shellcheck shell=bash\n')).toBe(true);
      const commonBody = common.split('\n').slice(1).join('\n').replace(/\n+$/, '');

      // Act
      const script = linuxScript(role);

      // Assess: the sources' text, without comment lines (the documents' size quota).
      expect(script.startsWith(`${withoutCommentLines(before)}STATE_DIR='`)).toBe(true);
      expect(script.endsWith(withoutCommentLines(`)${between}${commonBody}${after}`))).toBe(true);
      expect(script).not.toContain('@@');
      expect(script).not.toContain('shellcheck shell=');
    },
  );

  it.each(['probe', 'push'] as const)(
    'splice into the Windows %s the catalog as PowerShell variables and common.ps1',
    (role) => {
      // Prepare
      const [before, between, after] = around(source(`windows/${role}.ps1`));
      const common = source('windows/common.ps1').replace(/\s+$/, '');
      const catalog = [
        `$DefaultInstallDir = '${DEFAULT_WINDOWS_INSTALL_DIR}'`,
        `$DefaultServiceName = '${DEFAULT_WINDOWS_SERVICE_NAME}'`,
        `$StateDirName = '${WINDOWS_STATE_DIR_NAME}'`,
        `$RegFile = '${REGISTRATION_FILE_NAME}'`,
        '$Components = @(',
        ...WINDOWS_COMPONENTS.map(
          (c) =>
            `  @{ Name = '${c.name}'; ConfigFile = '${c.configFile}'; Section = '${c.tokenPath[0]}'; Key = '${c.tokenPath[1]}' }`,
        ),
        ')',
      ].join('\n');

      // Act
      const script = windowsScript(role);

      // Assess: the sources' text, without comment lines (the documents' size quota).
      expect(script).toBe(withoutCommentLines(`${before}${catalog}${between}${common}${after}`));
    },
  );

  it('quote catalog values as PowerShell literals, so a single quote in one cannot end the string', async () => {
    // Prepare: a service name with a quote in it
    vi.resetModules();
    vi.doMock('../../shared/catalog.ts', async (importOriginal) => ({
      ...(await importOriginal<typeof import('../../shared/catalog.ts')>()),
      DEFAULT_WINDOWS_SERVICE_NAME: "Kasm's agent",
    }));

    try {
      // Act
      const { windowsScript: withQuote } = await import('../../shared/documents/ssm-documents.ts');

      // Assess
      expect(withQuote('probe')).toContain("\n$DefaultServiceName = 'Kasm''s agent'\n");
    } finally {
      vi.doUnmock('../../shared/catalog.ts');
      vi.resetModules();
    }
  });
});

describe('document names', () => {
  it('are run at version 1, the version SSM gives a new document, since a changed document gets a new name', () => {
    // SSM numbers the first version of a new document 1; the function sends DocumentVersion 1.
    expect(docs.PINNED_DOCUMENT_VERSION).toBe('1');
  });

  it('change with the document content, so a deploy of new scripts makes a new document at version 1', async () => {
    const { documentNames } = await import('../../shared/documents/ssm-documents.ts');
    const names = documentNames('dev');
    expect(names.probe).toMatch(/^KasmTokenReconciler-dev-Probe-[0-9a-f]{12}$/);
    expect(names.push).toMatch(/^KasmTokenReconciler-dev-Push-[0-9a-f]{12}$/);
    expect(names.probe.slice(-12)).not.toBe(names.push.slice(-12));
    expect(documentNames('dev')).toEqual(names);
  });
});

describe('the content the stack deploys', () => {
  it('is the document as JSON, pinned by the SHA-256 of exactly those bytes, built once', async () => {
    const deployedContent = await import('../../shared/documents/deployed-content.ts');
    // FIPS 180-2's test vector: the digest SendCommand's DocumentHash must equal.
    expect(deployedContent.sha256Hex('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    const deployed = deployedContent.deployedDocuments();
    expect(JSON.parse(deployed.probe.content)).toEqual(docs.probeDocument());
    expect(deployed.push.sha256).toBe(deployedContent.sha256Hex(deployed.push.content));
    expect(deployedContent.deployedDocuments()).toBe(deployed);
  });
});
