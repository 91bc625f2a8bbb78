/**
 * The unit tier's promise, kept: no child process and no socket. Anything that tries fails at once,
 * naming the tier a test that needs it belongs in (test/README.md). Node's built-ins are patched
 * through their CommonJS objects, then synced into their ES module exports.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);
const refuse = (what: string) => () => {
  throw new Error(
    `the unit tier starts no process and opens no socket (${what}): move this test to test/io, test/documents or test/e2e`,
  );
};

const childProcess = require('node:child_process') as Record<string, unknown>;
for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'])
  childProcess[name] = refuse(`child_process.${name}`);

const net = require('node:net') as typeof import('node:net');
net.Socket.prototype.connect = refuse('a socket connect') as never;
net.Server.prototype.listen = refuse('a server listen') as never;

syncBuiltinESMExports();
