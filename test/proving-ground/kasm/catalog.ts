/**
 * The simulator's own knowledge of Kasm components: where each keeps its config, where the
 * token sits inside it, which claim names the component, and what its container is called.
 *
 * It is deliberately independent of the product's catalog in `shared/`: the proving ground is
 * the oracle the product is checked against, so it must not borrow the product's assumptions.
 */

export const LINUX_COMPONENTS = ['agent', 'guac', 'rdp_gateway', 'rdp_https_gateway'] as const;
export const WINDOWS_COMPONENTS = ['windows'] as const;
export const COMPONENT_NAMES = [...LINUX_COMPONENTS, ...WINDOWS_COMPONENTS] as const;

export type LinuxComponentName = (typeof LINUX_COMPONENTS)[number];
export type ComponentName = (typeof COMPONENT_NAMES)[number];

/** The id claim a component's token carries. */
export type IdClaim = 'server_id' | 'connection_proxy_id';

export interface ComponentSpec {
  readonly name: ComponentName;
  readonly platform: 'Linux' | 'Windows';
  /**
   * Config file path relative to the host's root directory. Linux: below the install root
   * `/opt/kasm/current`; Windows: `C:\Program Files\Kasm\config.yaml` mapped to `C/Program Files/...`.
   */
  readonly configFile: string;
  /** YAML path of the auth token inside the config file. */
  readonly tokenPath: readonly string[];
  /** YAML path of the component's id inside the config file. */
  readonly idPath: readonly string[];
  readonly idClaim: IdClaim;
  readonly authorizations: readonly string[];
  /** Docker container name (Linux components only). */
  readonly container?: string;
}

/** Linux install root as the host sees it. */
export const LINUX_INSTALL_ROOT = '/opt/kasm/current';
/** The versioned directory `current` points at on a simulated host. */
export const LINUX_INSTALL_VERSION = '1.18.0';
/** The file a component picks up to re-register. */
export const REGISTRATION_FILE = 'registration_token.txt';
/** The product's state directory on a Linux host: below `/run`, a tmpfs on real hosts. */
export const STATE_DIR = '/run/kasm-token-reconciler';

export const COMPONENTS: Readonly<Record<ComponentName, ComponentSpec>> = {
  agent: {
    name: 'agent',
    platform: 'Linux',
    configFile: 'conf/app/agent/agent.app.config.yaml',
    tokenPath: ['manager', 'token'],
    idPath: ['agent', 'server_id'],
    idClaim: 'server_id',
    authorizations: ['agent_check_in', 'agent_provision', 'agent_destroy'],
    container: 'kasm_agent',
  },
  guac: {
    name: 'guac',
    platform: 'Linux',
    configFile: 'conf/app/guac/kasmguac.app.config.yaml',
    tokenPath: ['api', 'auth_token'],
    idPath: ['kasmguac', 'id'],
    idClaim: 'connection_proxy_id',
    authorizations: ['connection_proxy_auth', 'connection_proxy_check_in'],
    container: 'kasm_guac',
  },
  rdp_gateway: {
    name: 'rdp_gateway',
    platform: 'Linux',
    configFile: 'conf/app/rdp_gateway/passthrough.app.config.yaml',
    tokenPath: ['api', 'auth_token'],
    idPath: ['rdp_gateway', 'id'],
    idClaim: 'connection_proxy_id',
    authorizations: ['connection_proxy_auth', 'connection_proxy_check_in'],
    container: 'kasm_rdp_gateway',
  },
  rdp_https_gateway: {
    name: 'rdp_https_gateway',
    platform: 'Linux',
    configFile: 'conf/app/rdp_https_gateway/rdp_https_gateway.app.config.yaml',
    tokenPath: ['api', 'auth_token'],
    idPath: ['rdp_https_gateway', 'id'],
    idClaim: 'connection_proxy_id',
    authorizations: ['connection_proxy_auth', 'connection_proxy_check_in'],
    container: 'kasm_rdp_https_gateway',
  },
  windows: {
    name: 'windows',
    platform: 'Windows',
    configFile: 'C/Program Files/Kasm/config.yaml',
    tokenPath: ['api', 'auth_token'],
    idPath: ['server', 'server_id'],
    idClaim: 'server_id',
    authorizations: ['agent_check_in'],
  },
};

export function isComponentName(value: string): value is ComponentName {
  return (COMPONENT_NAMES as readonly string[]).includes(value);
}

export function isLinuxComponent(value: string): value is LinuxComponentName {
  return (LINUX_COMPONENTS as readonly string[]).includes(value);
}
