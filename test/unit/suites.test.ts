/**
 * `npm test` runs the suites, test/suites/long/ and test/suites/short/ (package.json's tap
 * `include`), each in its own process, and each suite imports the test files it runs. tap starts
 * files in path order, so the long suites start first and the short ones fill the end of the run.
 * A test file no suite imports would never run, and one imported twice would run twice: this
 * checks every test file is imported by exactly one suite, and that suites import test files only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import t from 'tap';

const TEST = join(import.meta.dirname, '..');
const SUITES = join(TEST, 'suites');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return full === SUITES ? [] : testFiles(full);
    return entry.name.endsWith('.test.ts') ? [relative(TEST, full)] : [];
  });
}

t.test('tap runs the suites, and only the suites', async (t) => {
  const pkg = JSON.parse(readFileSync(join(TEST, '..', 'package.json'), 'utf8'));
  t.same(pkg.tap.include, ['test/suites/*/*.test.ts']);
  t.same(readdirSync(SUITES).sort(), ['long', 'short'], 'test/suites/ holds the two folders only');
});

t.test('every test file is imported by exactly one suite', async (t) => {
  const importedBy = new Map<string, string[]>();
  const suites = ['long', 'short'].flatMap((folder) =>
    readdirSync(join(SUITES, folder))
      .filter((name) => name.endsWith('.test.ts'))
      .map((name) => `${folder}/${name}`),
  );
  t.ok(suites.length > 20, 'the suites are found');
  for (const suite of suites) {
    const text = readFileSync(join(SUITES, suite), 'utf8');
    const imports = [...text.matchAll(/^await import\('([^']+)'\);$/gm)].map((m) => relative(TEST, resolve(SUITES, suite, '..', m[1] as string)));
    const statements = text.split('\n').filter((line) => line.trim() && !line.startsWith('//'));
    t.equal(imports.length, statements.length, `${suite}: holds only "await import('…');" lines and comments`);
    t.ok(imports.length > 0, `${suite} imports a test file`);
    for (const file of imports) importedBy.set(file, [...(importedBy.get(file) ?? []), suite]);
  }
  const files = testFiles(TEST);
  for (const file of files) {
    const by = importedBy.get(file) ?? [];
    t.equal(by.length, 1, `${file} is imported by one suite (${by.join(', ') || 'none'})`);
  }
  for (const file of importedBy.keys()) t.ok(files.includes(file), `${file}, imported by ${importedBy.get(file)?.join(', ')}, is a test file`);
});
