/** The unit tier's guard bites: a process or a socket fails the test, naming where it belongs. */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';

describe('the unit tier', () => {
  it('starts no process', () => {
    expect(() => spawn('true')).toThrow(/unit tier starts no process.*child_process\.spawn/);
    expect(() => spawnSync('true')).toThrow(/move this test to test\/io, test\/documents or test\/e2e/);
  });

  it('opens no socket, as a server or a client', () => {
    expect(() => createServer().listen(0, '127.0.0.1')).toThrow(/server listen/);
    expect(() => new Socket().connect(9, '127.0.0.1')).toThrow(/socket connect/);
  });
});
