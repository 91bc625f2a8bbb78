/**
 * Reading and writing a component's YAML config the way the component itself does: other keys,
 * comments and order preserved; owner and mode of the file kept.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { chmod, chown, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Document, parseDocument } from 'yaml';

export async function readConfig(path: string): Promise<Document> {
  const doc = parseDocument(await readRegularFile(path));
  if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message}`);
  return doc;
}

/**
 * A file's text, read without ever waiting on a FIFO or a device (O_NONBLOCK) and only when it is a
 * regular file: the `fifo` trap swaps a config for a FIFO nobody writes, and a blocking open of it would
 * hold one of Node's few file-system threads forever.
 */
export async function readRegularFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) throw new Error(`${path} is not a regular file`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** {@link readRegularFile}, synchronously (a blocking open of a FIFO would hang the whole proving ground). */
export function readRegularFileSync(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a regular file`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** The string at `path` in the document, or undefined when absent, empty or not a string. */
export function stringAt(doc: Document, path: readonly string[]): string | undefined {
  const value = doc.getIn(path);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * Sets `path` to `value` (undefined: deletes the key) and writes the file back, keeping owner and
 * mode. `atomic` (default) writes a temp file in the same directory and renames it over the
 * original, so a concurrent reader never sees half a file; `atomic: false` rewrites in place,
 * which is what works when the directory itself cannot be written.
 */
export async function writeConfigValue(
  path: string,
  keyPath: readonly string[],
  value: string | undefined,
  options: { atomic?: boolean } = {},
): Promise<void> {
  const doc = await readConfig(path);
  if (value === undefined) doc.deleteIn(keyPath);
  else doc.setIn(keyPath, value);
  await writeKeepingOwner(path, doc.toString({ lineWidth: 0 }), options.atomic ?? true);
}

export async function writeKeepingOwner(path: string, text: string, atomic: boolean): Promise<void> {
  const st = await stat(path);
  if (!atomic) {
    await writeFile(path, text);
    return;
  }
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text, { mode: 0o600 });
    await chmod(temp, st.mode & 0o7777);
    await chown(temp, st.uid, st.gid).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPERM') throw error;
    });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
