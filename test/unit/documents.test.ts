import { describe, expect, it } from 'vitest';
import {
  MAX_DELIVERIES_PER_PUSH,
  PARAMETER_PATTERNS,
  probeDocument,
  pushDocument,
} from '../../shared/documents/ssm-documents.ts';

/**
 * "The content of the document must not exceed 64KB. This quota also includes the content
 * specified for input parameters at runtime."
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateDocument.html
 */
const DOCUMENT_QUOTA = 64 * 1024;
const sealedEntry = (n: number) =>
  `i-${n.toString(16).padStart(17, '0')}:agent+guac+rdp_gateway+rdp_https_gateway:${'A'.repeat(342)}==`;

describe('the SSM documents', () => {
  it('fit the 64 KB quota even with the largest push parameters', () => {
    const deliveries = Array.from({ length: MAX_DELIVERIES_PER_PUSH }, (_, i) => sealedEntry(i)).join(' ');
    expect(new RegExp(PARAMETER_PATTERNS.deliveries).test(deliveries)).toBe(true);
    expect(JSON.stringify(pushDocument()).length + deliveries.length).toBeLessThan(DOCUMENT_QUOTA);
    expect(JSON.stringify(probeDocument()).length).toBeLessThan(DOCUMENT_QUOTA);
  });

  it('refuse a push with more deliveries than one command may carry', () => {
    const deliveries = Array.from({ length: MAX_DELIVERIES_PER_PUSH + 1 }, (_, i) => sealedEntry(i)).join(
      ' ',
    );
    expect(new RegExp(PARAMETER_PATTERNS.deliveries).test(deliveries)).toBe(false);
  });

  it('take every parameter as an environment variable with an allowed pattern', () => {
    for (const document of [probeDocument(), pushDocument()]) {
      for (const [name, parameter] of Object.entries(document.parameters)) {
        expect(parameter.interpolationType, name).toBe('ENV_VAR');
        expect(parameter.allowedPattern, name).toMatch(/^\^.*\$$/);
      }
      // No script text references a parameter by {{ }} substitution.
      expect(JSON.stringify(document.mainSteps)).not.toMatch(/\{\{/);
    }
  });

  it('carry one step per platform, each behind its platform precondition', () => {
    for (const document of [probeDocument(), pushDocument()]) {
      expect(document.mainSteps.map((s) => [s.action, s.precondition.StringEquals[1]])).toEqual([
        ['aws:runShellScript', 'Linux'],
        ['aws:runPowerShellScript', 'Windows'],
      ]);
    }
  });
});

describe('document names', () => {
  it('change with the document content, so a deploy of new scripts makes a new document at version 1', async () => {
    const { documentNames } = await import('../../shared/documents/ssm-documents.ts');
    const names = documentNames('dev');
    expect(names.probe).toMatch(/^KasmTokenReconciler-dev-Probe-[0-9a-f]{12}$/);
    expect(names.push).toMatch(/^KasmTokenReconciler-dev-Push-[0-9a-f]{12}$/);
    expect(names.probe.slice(-12)).not.toBe(names.push.slice(-12));
    expect(documentNames('dev')).toEqual(names);
  });
});
