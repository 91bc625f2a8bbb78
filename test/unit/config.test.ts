import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../shared/config.ts';
import { SETTING_LIST } from '../../shared/settings.ts';

const base = {
  REGISTRATION_TOKEN_SECRET_ID: 'kasm/registration-token',
  PROBE_DOCUMENT_NAME: 'KasmTokenReconciler-dev-Probe',
  PUSH_DOCUMENT_NAME: 'KasmTokenReconciler-dev-Push',
  PROBE_DOCUMENT_HASH: 'a'.repeat(64),
  PUSH_DOCUMENT_HASH: 'b'.repeat(64),
};

function rejection(env: Record<string, string>): ConfigError {
  try {
    readConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('the settings were accepted');
}

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

describe('readConfig reading values', () => {
  it('ignores spaces around a value, and takes a value of spaces only as not set', () => {
    // Act
    const config = readConfig({ ...base, KASM_HEARTBEAT_SECONDS: ' 45 ', FLEET_TAG_KEY: '   ' });

    // Assess
    expect(config.heartbeatSeconds).toBe(45);
    expect(config.fleetTag.key).toBe('kasm:reconcile');
  });
  it.each(['true', 'false', '2024'])('keeps a fleet tag value of %s as text', (value) => {
    expect(readConfig({ ...base, FLEET_TAG_VALUE: value }).fleetTag.value).toBe(value);
  });
  it('accepts a number at either end of its range', () => {
    expect(readConfig({ ...base, KASM_HEARTBEAT_SECONDS: '1' }).heartbeatSeconds).toBe(1);
    expect(readConfig({ ...base, KASM_HEARTBEAT_SECONDS: '3600' }).heartbeatSeconds).toBe(3600);
  });
  it.each(['0', '3601', '1e3', '0x10', '+5', '-5', '1.5', '30s'])(
    'rejects a heartbeat of %s with the accepted range',
    (value) => {
      expect(rejection({ ...base, KASM_HEARTBEAT_SECONDS: value }).message).toBe(
        `KASM_HEARTBEAT_SECONDS must be a whole number from 1 to 3600, got "${value}".`,
      );
    },
  );
  it('accepts a full secret ARN', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kasm/registration-AbCdEf';
    expect(readConfig({ ...base, REGISTRATION_TOKEN_SECRET_ID: arn }).secretId).toBe(arn);
  });
  it('holds a secret ARN without its 6-character suffix to the ARN form', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kasm';
    expect(rejection({ ...base, REGISTRATION_TOKEN_SECRET_ID: arn }).message).toBe(
      `REGISTRATION_TOKEN_SECRET_ID must be a full secret ARN ending in the 6-character suffix (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf), got "${arn}".`,
    );
  });
  it('names the variable and the problem when a value of the right form fails a further check', () => {
    expect(rejection({ ...base, FLEET_TAG_KEY: 'aws:reconcile' }).message).toBe(
      'FLEET_TAG_KEY: keys starting with "aws:" are reserved by AWS, got "aws:reconcile".',
    );
  });
  it('throws an error named ConfigError, the error type Lambda reports', () => {
    expect(rejection({ ...base, PUSH_DOCUMENT_NAME: '' }).name).toBe('ConfigError');
  });
  it.each([
    ['https://kasm.example.com', 'https://kasm.example.com'],
    ['https://kasm.example.com/', 'https://kasm.example.com'],
    ['https://kasm.example.com//', 'https://kasm.example.com'],
    ['https://kasm.example.com:8443/kasm/', 'https://kasm.example.com:8443/kasm'],
  ])('takes the Kasm API URL %s without trailing slashes', (url, read) => {
    expect(readConfig({ ...base, KASM_API_URL: url }).kasmApiUrl).toBe(read);
  });
  it('reads only settings the function has a variable for, not those of the stack alone', () => {
    // Arrange
    const stackOnly = SETTING_LIST.filter((setting) => !setting.variable).map((setting) => setting.id);

    // Act
    const config = readConfig(base);

    // Assess
    expect(stackOnly).toContain('schedule');
    expect(Object.keys(config).filter((key) => (stackOnly as string[]).includes(key))).toEqual([]);
  });
});

describe('readConfig for the Kasm CA', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

  it('accepts a CA file or a CA bundle', () => {
    expect(readConfig({ ...base, KASM_CA_FILE: 'kasm-ca.pem' }).kasmCaFile).toBe('kasm-ca.pem');
    expect(readConfig({ ...base, KASM_CA_PEM: pem }).kasmCaPem).toBe(pem);
  });
  it('refuses both at once, naming the two variables', () => {
    expect(rejection({ ...base, KASM_CA_FILE: 'kasm-ca.pem', KASM_CA_PEM: pem }).message).toBe(
      'Set only one of KASM_CA_FILE and KASM_CA_PEM.',
    );
  });
});
