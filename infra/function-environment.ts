/**
 * The function's environment variables: every setting shared/settings.ts declares with both
 * a cdk.json field and a variable, plus the names the stack derives from the environment
 * (documents, metrics namespace, the bundled CA file). Checked at synth time with the
 * function's own reader, so a value the function would reject fails the synth instead of
 * the first run.
 */
import { CONFIG_VARIABLES, ConfigError, readConfig } from '../shared/config.ts';
import { deployedDocuments } from '../shared/documents/deployed-content.ts';
import type { DocumentRole } from '../shared/documents/ssm-documents.ts';
import { BUNDLED_CA_FILE_PATH, metricsNamespace } from '../shared/names.ts';
import { SETTING_LIST } from '../shared/settings.ts';
import { type EnvironmentSettings, SettingsError } from './settings.ts';

/** A cdk.json path (`fleetTag.key`) in the parsed settings. */
function at(settings: EnvironmentSettings, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown>)?.[key], settings);
}

export function functionEnvironment(
  settings: EnvironmentSettings,
  documentNames: Readonly<Record<DocumentRole, string>>,
): Readonly<Record<string, string>> {
  const environment: Record<string, string> = {};
  for (const { context, variable } of SETTING_LIST) {
    const value = context && variable ? at(settings, context) : undefined;
    if (variable && value !== undefined) environment[variable] = String(value);
  }
  const v = CONFIG_VARIABLES;
  Object.assign(environment, {
    [v.probeDocument]: documentNames.probe,
    [v.pushDocument]: documentNames.push,
    // The hashes of the exact Content strings reconciler-documents.ts deploys (one function for both).
    [v.probeDocumentHash]: deployedDocuments().probe.sha256,
    [v.pushDocumentHash]: deployedDocuments().push.sha256,
    ...(settings.kasmApi?.caFile ? { [v.kasmCaFile]: BUNDLED_CA_FILE_PATH } : {}),
    [v.metricsNamespace]: metricsNamespace(settings.name),
  });
  try {
    readConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new SettingsError(
        `environments.${settings.name}: the function would reject its settings: ${error.message}`,
      );
    }
    throw error;
  }
  return Object.freeze(environment);
}
