import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/reconciler-function.ts';
import { GENERATED_FILES, withGeneratedBlocks } from '../../infra/settings-docs.ts';

describe('the generated parts of docs/', () => {
  it.each(Object.entries(GENERATED_FILES))(
    '%s holds the blocks the code declares (run `npm run docs:settings` after changing a setting, metric or alarm)',
    (file, names) => {
      // Prepare
      const text = readFileSync(file, 'utf8');

      // Act
      const regenerated = withGeneratedBlocks(text, names);

      // Assess
      expect(text).toBe(regenerated);
    },
  );
});

describe('the links between docs/ and the README', () => {
  /** GitHub's anchor of a heading: lower case, punctuation but "-" and "_" dropped, spaces as "-". */
  const anchor = (heading: string) =>
    heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
  const files = ['README.md', ...readdirSync(join(PROJECT_ROOT, 'docs')).map((f) => `docs/${f}`)].filter(
    (f) => f.endsWith('.md'),
  );
  const anchors = new Map(
    files.map((file) => {
      const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
      return [file, new Set([...text.matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1] ?? '')))];
    }),
  );

  it.each(files)('%s links only to sections that exist', (file) => {
    // Prepare
    const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');

    // Act: every relative Markdown link with a fragment, resolved against the file's folder
    const broken = [...text.matchAll(/\]\(([^)\s]*?)#([^)\s]+)\)/g)]
      .filter(([, target]) => !/^[a-z]+:/.test(target ?? ''))
      .map(([link, target, fragment]) => {
        const to = target ? posix.normalize(posix.join(posix.dirname(file), target)) : file;
        return anchors.get(to)?.has(fragment ?? '') ? undefined : link;
      })
      .filter((link) => link !== undefined);

    // Assess
    expect(broken).toStrictEqual([]);
  });
});

describe('the sections of docs/ the code sends a reader to', () => {
  /** Where the code (messages, help, comments) says `docs/NAME.md, "Section"`. */
  const sources = ['infra', 'lambda', 'shared'].flatMap((dir) =>
    readdirSync(join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(dir, f)),
  );
  const references = sources.flatMap((file) =>
    [
      ...readFileSync(join(PROJECT_ROOT, file), 'utf8').matchAll(/docs\/(\w+)\.md,? (?:section )?"([^"]+)"/g),
    ].map(([, doc, section]) => ({ file, doc: `${doc}.md`, section: section ?? '' })),
  );

  it('find each one among the headings of the file named', () => {
    // Prepare: a heading matches by its text, with or without its step number ("1. ")
    const headings = (doc: string) =>
      [...readFileSync(join(PROJECT_ROOT, 'docs', doc), 'utf8').matchAll(/^#+ (.+)$/gm)].map(
        (m) => m[1] ?? '',
      );

    // Act
    const missing = references.filter(
      ({ doc, section }) =>
        !headings(doc).some(
          (heading) => heading.startsWith(section) || heading.replace(/^\d+\. /, '').startsWith(section),
        ),
    );

    // Assess
    expect(references.length).toBeGreaterThan(5);
    expect(missing).toStrictEqual([]);
  });
});
