/**
 * The Kasm components the reconciler knows: where each keeps its config and token.
 * This is the single source the SSM documents are generated from.
 */

export type Platform = 'Linux' | 'Windows';

export const LINUX_COMPONENT_NAMES = ['agent', 'guac', 'rdp_gateway', 'rdp_https_gateway'] as const;
export const WINDOWS_COMPONENT_NAMES = ['windows'] as const;
export const COMPONENT_NAMES = [...LINUX_COMPONENT_NAMES, ...WINDOWS_COMPONENT_NAMES] as const;

export type LinuxComponentName = (typeof LINUX_COMPONENT_NAMES)[number];
export type WindowsComponentName = (typeof WINDOWS_COMPONENT_NAMES)[number];
export type ComponentName = (typeof COMPONENT_NAMES)[number];

export interface LinuxComponent {
  readonly name: LinuxComponentName;
  readonly platform: 'Linux';
  /** Config directory relative to the install root (e.g. /opt/kasm/current). */
  readonly configDir: string;
  readonly configFile: string;
  /** YAML path of the auth token inside the config file. */
  readonly tokenPath: readonly [string, string];
  /** Docker container the component runs in (single-server install). */
  readonly container: string;
}

export interface WindowsComponent {
  readonly name: WindowsComponentName;
  readonly platform: 'Windows';
  /** Config file name inside the install folder (e.g. C:\Program Files\Kasm); the registration file goes beside it. */
  readonly configFile: string;
  /** YAML path of the auth token inside the config file. */
  readonly tokenPath: readonly [string, string];
}

export type Component = LinuxComponent | WindowsComponent;

export const LINUX_COMPONENTS: readonly LinuxComponent[] = Object.freeze([
  {
    name: 'agent',
    platform: 'Linux',
    configDir: 'conf/app/agent',
    configFile: 'agent.app.config.yaml',
    tokenPath: ['manager', 'token'],
    container: 'kasm_agent',
  },
  {
    name: 'guac',
    platform: 'Linux',
    configDir: 'conf/app/guac',
    configFile: 'kasmguac.app.config.yaml',
    tokenPath: ['api', 'auth_token'],
    container: 'kasm_guac',
  },
  {
    name: 'rdp_gateway',
    platform: 'Linux',
    configDir: 'conf/app/rdp_gateway',
    configFile: 'passthrough.app.config.yaml',
    tokenPath: ['api', 'auth_token'],
    container: 'kasm_rdp_gateway',
  },
  {
    name: 'rdp_https_gateway',
    platform: 'Linux',
    configDir: 'conf/app/rdp_https_gateway',
    configFile: 'rdp_https_gateway.app.config.yaml',
    tokenPath: ['api', 'auth_token'],
    container: 'kasm_rdp_https_gateway',
  },
] as const satisfies readonly LinuxComponent[]);

export const WINDOWS_COMPONENTS: readonly WindowsComponent[] = Object.freeze([
  { name: 'windows', platform: 'Windows', configFile: 'config.yaml', tokenPath: ['api', 'auth_token'] },
] as const satisfies readonly WindowsComponent[]);

export const DEFAULT_LINUX_INSTALL_ROOT = '/opt/kasm/current';
export const DEFAULT_WINDOWS_INSTALL_DIR = 'C:\\Program Files\\Kasm';
export const DEFAULT_WINDOWS_SERVICE_NAME = 'Kasm';
export const REGISTRATION_FILE_NAME = 'registration_token.txt';
/** Where the host keeps the reconciler's ephemeral sealing key: tmpfs, root-only (0700). */
export const LINUX_STATE_DIR = '/run/kasm-token-reconciler';
/** Where versions before the tmpfs move kept sealing keys; the probe empties and removes it. */
export const LINUX_LEGACY_STATE_DIR = '/var/lib/kasm-token-reconciler';
/** Windows: the sealing key's directory under `%ProgramData%` (SYSTEM and Administrators only). */
export const WINDOWS_STATE_DIR_NAME = 'kasm-token-reconciler';

/**
 * Components that read registration_token.txt only when their service starts (docs/operating.md, "What a run does":
 * Windows agents), so a waiting file needs a restart, not patience.
 */
export function readsRegistrationFileOnlyAtStart(name: ComponentName): boolean {
  return WINDOWS_COMPONENTS.some((c) => c.name === name);
}

export function isComponentName(value: string): value is ComponentName {
  return (COMPONENT_NAMES as readonly string[]).includes(value);
}

export function componentsFor(platform: Platform): readonly Component[] {
  return platform === 'Linux' ? LINUX_COMPONENTS : WINDOWS_COMPONENTS;
}
