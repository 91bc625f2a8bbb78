import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../shared/config.ts';

const base = {
  REGISTRATION_TOKEN_SECRET_ID: 'kasm/registration-token',
  PROBE_DOCUMENT_NAME: 'KasmTokenReconciler-dev-Probe',
  PUSH_DOCUMENT_NAME: 'KasmTokenReconciler-dev-Push',
};

describe('readConfig', () => {
  it('fills defaults that work for a standard install and freezes the result', () => {
    const config = readConfig(base);
    expect(config.fleetTag).toEqual({ key: 'kasm:reconcile', value: 'true' });
    expect(config.installRoot).toBe('/opt/kasm/current');
    expect(config.heartbeatSeconds).toBe(30);
    expect(config.confirmWaitSeconds).toBe(65);
    expect(config.stuckAfterSeconds).toBe(300);
    expect(config.kasmApiUrl).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });
  it('derives the waits from the heartbeat', () => {
    const config = readConfig({ ...base, KASM_HEARTBEAT_SECONDS: '2' });
    expect([config.confirmWaitSeconds, config.stuckAfterSeconds]).toEqual([9, 20]);
  });
  it('names a missing required variable', () => {
    expect(() => readConfig({ ...base, REGISTRATION_TOKEN_SECRET_ID: '' })).toThrow(
      /REGISTRATION_TOKEN_SECRET_ID is not set/,
    );
  });
  it('names a malformed number with its allowed range', () => {
    expect(() => readConfig({ ...base, KASM_GRACE_PERIOD_SECONDS: '1h' })).toThrow(
      /KASM_GRACE_PERIOD_SECONDS must be a whole number from 0 to 31536000, got "1h"/,
    );
  });
  it('rejects a Kasm API URL that is not https', () => {
    expect(() => readConfig({ ...base, KASM_API_URL: 'http://kasm' })).toThrow(ConfigError);
  });
  it('rejects an install root the push document would refuse', () => {
    expect(() => readConfig({ ...base, KASM_INSTALL_ROOT: 'opt/kasm; rm -rf /' })).toThrow(
      /KASM_INSTALL_ROOT/,
    );
  });
});

describe('readConfig for Windows settings', () => {
  it('accepts the default install folder and service name', () => {
    const config = readConfig(base);
    expect([config.windowsInstallDir, config.windowsServiceName]).toEqual([
      'C:\\Program Files\\Kasm',
      'Kasm',
    ]);
  });
  it('rejects values the documents would refuse, naming the variable', () => {
    expect(() => readConfig({ ...base, KASM_WINDOWS_INSTALL_DIR: 'Program Files' })).toThrow(
      /KASM_WINDOWS_INSTALL_DIR/,
    );
    expect(() => readConfig({ ...base, KASM_WINDOWS_SERVICE_NAME: 'Kasm; Stop-Computer' })).toThrow(
      /KASM_WINDOWS_SERVICE_NAME/,
    );
  });
});
