/**
 * The function's settings, read once from the environment into a frozen object, by the
 * declarations in shared/settings.ts. The CDK stack writes these variables; a wrong one fails
 * the first invocation with a message naming the variable and what it accepts, before
 * anything touches a host.
 */
import { accepted, fromText, judge } from './setting-rules.ts';
import {
  type FleetTag,
  SETTING_LIST,
  type SETTINGS,
  type SettingValues,
  type VariableSettingId,
} from './settings.ts';

export type { FleetTag };

/** The settings whose values the function groups: the fleet tag, and the two documents' names and hashes. */
type Grouped =
  | 'fleetTagKey'
  | 'fleetTagValue'
  | 'probeDocument'
  | 'pushDocument'
  | 'probeDocumentHash'
  | 'pushDocumentHash';

/** The probe and the push, each with its own value. */
export interface DocumentPair {
  readonly probe: string;
  readonly push: string;
}

/**
 * Every setting the function reads, typed by its declaration in shared/settings.ts (its rule's type;
 * undefined only where it has no default and is not required), with the fleet tag and the documents
 * grouped. Nothing here is written twice: a new setting with a `variable` is a field at once.
 */
export type ReconcilerConfig = Omit<SettingValues<VariableSettingId>, Grouped> & {
  readonly fleetTag: FleetTag;
  readonly documents: DocumentPair;
  /** SHA-256 of each document's deployed content, sent as SendCommand's `DocumentHash`. */
  readonly documentHashes: DocumentPair;
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Each setting the function reads, with its environment variable. */
export const CONFIG_VARIABLES = Object.fromEntries(
  SETTING_LIST.flatMap((setting) => (setting.variable ? [[setting.id, setting.variable]] : [])),
) as { readonly [Id in VariableSettingId]: (typeof SETTINGS)[Id]['variable'] };

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates every setting; throws ConfigError naming the variable. */
export function readConfig(env: Env = process.env): ReconcilerConfig {
  const read: Record<string, unknown> = {};
  for (const setting of SETTING_LIST) {
    const name = setting.variable;
    if (!name) continue;
    const raw = env[name]?.trim();
    if (!raw) {
      const fallback = typeof setting.default === 'function' ? setting.default(read) : setting.default;
      if (fallback === undefined && setting.required) {
        throw new ConfigError(`${name} is not set; the deployment must set it (see README "Settings").`);
      }
      read[setting.id] = fallback;
      continue;
    }
    const value = fromText(setting.rule, raw);
    const verdict = judge(setting.rule, value);
    if (verdict && 'expected' in verdict) {
      throw new ConfigError(`${name} must be ${accepted(setting.rule, raw)}, got "${raw}".`);
    }
    if (verdict) throw new ConfigError(`${name}: ${verdict.problem}.`);
    read[setting.id] = value;
  }
  if (read.kasmCaFile && read.kasmCaPem) {
    throw new ConfigError(
      `Set only one of ${CONFIG_VARIABLES.kasmCaFile} and ${CONFIG_VARIABLES.kasmCaPem}.`,
    );
  }
  // Every value passed its rule above (or is its default), so each has the type its declaration gives it.
  const {
    fleetTagKey,
    fleetTagValue,
    probeDocument,
    pushDocument,
    probeDocumentHash,
    pushDocumentHash,
    kasmApiUrl,
    ...flat
  } = read as unknown as SettingValues<VariableSettingId>;
  const config: ReconcilerConfig = {
    ...flat,
    fleetTag: { key: fleetTagKey, value: fleetTagValue },
    documents: { probe: probeDocument, push: pushDocument },
    documentHashes: { probe: probeDocumentHash, push: pushDocumentHash },
    kasmApiUrl: kasmApiUrl?.replace(/\/+$/, ''),
  };
  return Object.freeze(config);
}
