/**
 * A config directory's owner mounts its own file system over the directory (FUSE; `fusermount` lets a
 * user mount over a directory it owns, and with `user_allow_other` root sees it too). The owner's server
 * answers what it likes: here "." is root's (0755, uid 0), and the config holds a token past grace, so
 * a script that trusts what it sees treats the directory as root's and writes as root into the owner's
 * server. The server logs every request that creates, writes or renames (written bytes in hex).
 *
 * The server speaks the FUSE kernel protocol (include/uapi/linux/fuse.h, 7.19) on a /dev/fuse descriptor
 * it inherits as fd 3; `mountLines` opens /dev/fuse, starts it as the owner and mounts, as fusermount does.
 */

/** Where the server logs on the simulated host. */
export const FUSE_LOG = '/tmp/owner-fuse.log';

/** sh lines (run as root inside the step's namespace) that mount the owner's server over `dir`. */
export function mountLines(
  dir: string,
  config: { name: string; text: string },
  owner = { uid: 1000, gid: 1000 },
): string[] {
  const encoded = Buffer.from(FUSE_SERVER).toString('base64');
  const file = Buffer.from(JSON.stringify(config)).toString('base64');
  return [
    'exec 3<>/dev/fuse',
    `setpriv --reuid=${owner.uid} --regid=${owner.gid} --clear-groups -- ${process.execPath} -e "eval(Buffer.from('${encoded}', 'base64').toString())" ${file} >>${FUSE_LOG} 2>&1 &`,
    `mount -i -t fuse -o fd=3,rootmode=40000,user_id=${owner.uid},group_id=${owner.gid},allow_other ktr-owner-fuse ${dir}`,
    'exec 3<&-',
  ];
}

/** The server: synchronous reads of /dev/fuse (fd 3), one reply per request but FORGET and INTERRUPT. */
const FUSE_SERVER = `
const fs = require('node:fs');
const config = JSON.parse(Buffer.from(process.argv[1], 'base64').toString());
const log = (line) => process.stdout.write(line + '\\n');
const now = Math.floor(Date.now() / 1000);
const nodes = new Map([
  [1, { name: '', dir: true, mode: 0o40755, uid: 0, gid: 0, data: Buffer.alloc(0) }],
  [2, { name: config.name, dir: false, mode: 0o100644, uid: 0, gid: 0, data: Buffer.from(config.text) }],
]);
let next = 3;
const byName = (name) => { for (const [ino, n] of nodes) if (ino !== 1 && n.name === name) return ino; return 0; };
const attr = (ino) => {
  const n = nodes.get(ino);
  const b = Buffer.alloc(88);
  b.writeBigUInt64LE(BigInt(ino), 0);
  b.writeBigUInt64LE(BigInt(n.data.length), 8);
  b.writeBigUInt64LE(BigInt(Math.ceil(n.data.length / 512)), 16);
  for (const at of [24, 32, 40]) b.writeBigUInt64LE(BigInt(now), at);
  b.writeUInt32LE(n.mode, 60);
  b.writeUInt32LE(n.dir ? 2 : 1, 64);
  b.writeUInt32LE(n.uid, 68);
  b.writeUInt32LE(n.gid, 72);
  b.writeUInt32LE(4096, 80);
  return b;
};
const entry = (ino) => { const b = Buffer.alloc(40); b.writeBigUInt64LE(BigInt(ino), 0); return Buffer.concat([b, attr(ino)]); };
const attrOut = (ino) => Buffer.concat([Buffer.alloc(16), attr(ino)]);
const names = (body) => body.toString('latin1').split('\\0');
const reply = (unique, error, body = Buffer.alloc(0)) => {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeInt32LE(error, 4);
  h.writeBigUInt64LE(unique, 8);
  try { fs.writeSync(3, Buffer.concat([h, body])); } catch {}
};
const ENOENT = -2, ENOSYS = -38, EEXIST = -17;
const buf = Buffer.alloc(1 << 20);
for (;;) {
  let got;
  try { got = fs.readSync(3, buf, 0, buf.length, null); } catch (e) { if (e.code === 'EINTR' || e.code === 'EAGAIN') continue; break; }
  const req = buf.subarray(0, got);
  const op = req.readUInt32LE(4), unique = req.readBigUInt64LE(8), ino = Number(req.readBigUInt64LE(16));
  const body = req.subarray(40);
  switch (op) {
    case 26: { // INIT
      const b = Buffer.alloc(24);
      b.writeUInt32LE(7, 0); b.writeUInt32LE(19, 4); b.writeUInt32LE(65536, 8); b.writeUInt32LE(0, 12);
      b.writeUInt16LE(16, 16); b.writeUInt16LE(12, 18); b.writeUInt32LE(65536, 20);
      reply(unique, 0, b); log('init'); break;
    }
    case 1: { const name = names(body)[0]; const found = byName(name); if (found) reply(unique, 0, entry(found)); else reply(unique, ENOENT); break; }
    case 3: nodes.has(ino) ? reply(unique, 0, attrOut(ino)) : reply(unique, ENOENT); break;
    case 4: { // SETATTR
      const n = nodes.get(ino); if (!n) { reply(unique, ENOENT); break; }
      const valid = body.readUInt32LE(0);
      if (valid & 1) n.mode = (n.mode & ~0o7777) | (body.readUInt32LE(68) & 0o7777);
      if (valid & 8) n.data = n.data.subarray(0, Number(body.readBigUInt64LE(16)));
      log('setattr ' + n.name); reply(unique, 0, attrOut(ino)); break;
    }
    case 14: case 27: { const b = Buffer.alloc(16); b.writeBigUInt64LE(BigInt(ino), 0); reply(unique, 0, b); if (op === 14) log('open ' + (nodes.get(ino) || {}).name); break; }
    case 15: { // READ
      const n = nodes.get(ino); const off = Number(body.readBigUInt64LE(8)), size = body.readUInt32LE(16);
      reply(unique, 0, n ? n.data.subarray(off, off + size) : Buffer.alloc(0)); break;
    }
    case 16: { // WRITE
      const n = nodes.get(ino); const off = Number(body.readBigUInt64LE(8)), size = body.readUInt32LE(16);
      const data = body.subarray(40, 40 + size);
      if (n) { const grown = Buffer.alloc(Math.max(n.data.length, off + size)); n.data.copy(grown); data.copy(grown, off); n.data = grown; }
      log('write ' + (n ? n.name : '?') + ' ' + data.toString('hex'));
      const b = Buffer.alloc(8); b.writeUInt32LE(size, 0); reply(unique, 0, b); break;
    }
    case 35: { // CREATE
      const mode = body.readUInt32LE(4); const name = names(body.subarray(16))[0];
      if (byName(name)) { reply(unique, EEXIST); break; }
      const id = next++; nodes.set(id, { name, dir: false, mode: 0o100000 | (mode & 0o7777), uid: 0, gid: 0, data: Buffer.alloc(0) });
      const o = Buffer.alloc(16); o.writeBigUInt64LE(BigInt(id), 0);
      log('create ' + name); reply(unique, 0, Buffer.concat([entry(id), o])); break;
    }
    case 10: { const name = names(body)[0]; const found = byName(name); if (found) nodes.delete(found); log('unlink ' + name); reply(unique, found ? 0 : ENOENT); break; }
    case 12: { // RENAME
      const [from, to] = names(body.subarray(8)); const found = byName(from);
      if (!found) { reply(unique, ENOENT); break; }
      const over = byName(to); if (over) nodes.delete(over);
      nodes.get(found).name = to; log('rename ' + from + ' ' + to); reply(unique, 0); break;
    }
    case 17: { // STATFS
      const b = Buffer.alloc(80); b.writeBigUInt64LE(1000n, 0); b.writeBigUInt64LE(500n, 8); b.writeBigUInt64LE(500n, 16);
      b.writeBigUInt64LE(100n, 24); b.writeBigUInt64LE(50n, 32); b.writeUInt32LE(4096, 40); b.writeUInt32LE(255, 44); b.writeUInt32LE(4096, 48);
      reply(unique, 0, b); break;
    }
    case 28: { // READDIR
      const off = Number(body.readBigUInt64LE(8)); const parts = [];
      const list = [...nodes.entries()].filter(([i]) => i !== 1);
      list.slice(off).forEach(([i, n], k) => {
        const name = Buffer.from(n.name); const d = Buffer.alloc(24 + Math.ceil(name.length / 8) * 8);
        d.writeBigUInt64LE(BigInt(i), 0); d.writeBigUInt64LE(BigInt(off + k + 1), 8); d.writeUInt32LE(name.length, 16); d.writeUInt32LE(8, 20); name.copy(d, 24);
        parts.push(d);
      });
      reply(unique, 0, Buffer.concat(parts)); break;
    }
    case 2: case 36: case 42: break; // FORGET, INTERRUPT, BATCH_FORGET: no reply
    case 18: case 20: case 25: case 29: case 34: reply(unique, 0); break; // RELEASE, FSYNC, FLUSH, RELEASEDIR, ACCESS
    case 38: reply(unique, 0); process.exit(0);
    default: reply(unique, ENOSYS);
  }
}
`;
