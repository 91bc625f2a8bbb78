/**
 * The function's environment variables, named exactly as shared/config.ts reads them, and
 * checked at synth time with that same reader so a value the function would reject fails
 * the synth instead of the first run.
 */
import { CONFIG_VARIABLES, ConfigError, readConfig } from '../shared/config.ts';
import type { DocumentRole } from '../shared/documents/ssm-documents.ts';
import { BUNDLED_CA_FILE_PATH, metricsNamespace } from '../shared/names.ts';
import { type EnvironmentSettings, SettingsError } from './settings.ts';

export function functionEnvironment(
  settings: EnvironmentSettings,
  documentNames: Readonly<Record<DocumentRole, string>>,
): Readonly<Record<string, string>> {
  const v = CONFIG_VARIABLES;
  const { registrationSecret, kasmApi } = settings;
  const environment: Record<string, string> = {
    [v.fleetTagKey]: settings.fleetTag.key,
    [v.fleetTagValue]: settings.fleetTag.value,
    [v.secretId]: registrationSecret.nameOrArn,
    ...(registrationSecret.jsonField ? { [v.secretJsonField]: registrationSecret.jsonField } : {}),
    [v.probeDocument]: documentNames.probe,
    [v.pushDocument]: documentNames.push,
    ...(kasmApi ? { [v.kasmApiUrl]: kasmApi.url } : {}),
    ...(kasmApi?.caFile ? { [v.kasmCaFile]: BUNDLED_CA_FILE_PATH } : {}),
    [v.installRoot]: settings.installRoot,
    [v.windowsInstallDir]: settings.windows.installDir,
    [v.windowsServiceName]: settings.windows.serviceName,
    [v.heartbeatSeconds]: String(settings.heartbeatSeconds),
    [v.gracePeriodSeconds]: String(settings.gracePeriodSeconds),
    [v.metricsNamespace]: metricsNamespace(settings.name),
  };
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
