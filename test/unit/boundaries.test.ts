/**
 * The house's boundaries (issue 11), read from the source: every check below is a named rule over
 * the imports of src/, and a failure names each file and import that breaks it.
 *
 * - The domain (every folder of src/ but the ActivityPub adapter src/activitypub/ and the HTTP
 *   surfaces http/ and web/, and the composition root's files) never imports `@fedify/*`,
 *   `fastify`, the adapter, http/ or web/: it reaches the network through src/ports.ts.
 * - settlement/ and close/ never import each other (instance.ts wires "after a close, issue the
 *   statements" with ctx.afterClose).
 * - http/ and web/ never import the adapter.
 * - No import cycle in src/ but those listed in ALLOWED_CYCLES, each with its reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import ts from 'typescript';

const SRC_DIR = path.resolve(import.meta.dirname, '../../src');

/** The composition root and the process entry points: they may import anything. */
const ROOT_FILES = new Set(['instance.ts', 'app.ts', 'main.ts', 'cli.ts', 'worker.ts']);
/** Folders that are not domain: the adapter and the two HTTP surfaces. */
const NON_DOMAIN_FOLDERS = ['activitypub/', 'http/', 'web/'];
const ADAPTER = 'activitypub/';

/**
 * Imports that break a rule today, each with why it stays for now. A listed import that is gone
 * fails the test too, so the list only shrinks.
 */
const ALLOWED: { file: string; specifier: string; reason: string }[] = [];

/**
 * Import cycles that remain, each as the sorted files of one strongly connected component, with
 * why. Type-only imports are not counted (they vanish at run time and cannot deadlock a load).
 */
const ALLOWED_CYCLES: { files: string[]; reason: string }[] = [
  {
    files: ['settlement/netting.ts', 'settlement/pending.ts'],
    reason: 'one process in two files: pending.ts recomputes the settlement a credit nets into (netting.refreshSettlement), '
      + 'and a settlement paid or received clears the pending credits it covers (pending.clearCredits); calls at run time only, never at load',
  },
];

interface Import {
  file: string;
  specifier: string;
  /** The src/-relative file a relative import names; null for a package. */
  target: string | null;
  typeOnly: boolean;
}

function sourceFiles(dir = SRC_DIR): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.ts$/.test(entry.name) && !/\.d\.ts$/.test(entry.name)) out.push(path.relative(SRC_DIR, full).split(path.sep).join('/'));
  }
  return out.sort();
}

function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(SRC_DIR, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    const target = specifier.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)) : null;
    found.push({ file, specifier, target, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      let typeOnly = false;
      if (ts.isImportDeclaration(node)) {
        const clause = node.importClause;
        const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
        typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      } else {
        typeOnly = node.isTypeOnly;
      }
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const files = sourceFiles();
const imports = files.flatMap(importsOf);

const isDomain = (file: string) => !ROOT_FILES.has(file) && !NON_DOMAIN_FOLDERS.some((folder) => file.startsWith(folder));
const inFolder = (target: string | null, folder: string) => target !== null && target.startsWith(folder);
const describe = (i: Import) => `${i.file} imports '${i.specifier}'`;
const allowed = (i: Import) => ALLOWED.find((a) => a.file === i.file && (a.specifier === '*' || a.specifier === i.specifier));

/** A rule: which imports break it. */
const rules: { name: string; breaks: (i: Import) => boolean }[] = [
  { name: 'the domain does not import @fedify/*', breaks: (i) => isDomain(i.file) && i.specifier.startsWith('@fedify/') },
  { name: 'the domain does not import fastify', breaks: (i) => isDomain(i.file) && /^(fastify|@fastify\/)/.test(i.specifier) },
  { name: 'the domain does not import the ActivityPub adapter (src/activitypub/)', breaks: (i) => isDomain(i.file) && inFolder(i.target, ADAPTER) },
  { name: 'the domain does not import http/', breaks: (i) => isDomain(i.file) && inFolder(i.target, 'http/') },
  { name: 'the domain does not import web/', breaks: (i) => isDomain(i.file) && inFolder(i.target, 'web/') },
  { name: 'settlement/ does not import close/', breaks: (i) => i.file.startsWith('settlement/') && inFolder(i.target, 'close/') },
  { name: 'close/ does not import settlement/', breaks: (i) => i.file.startsWith('close/') && inFolder(i.target, 'settlement/') },
  { name: 'http/ and web/ do not import the ActivityPub adapter', breaks: (i) => (i.file.startsWith('http/') || i.file.startsWith('web/')) && inFolder(i.target, ADAPTER) },
];

t.test('the source is read', async (t) => {
  t.ok(files.length > 100, `${files.length} files in src/`);
  t.ok(imports.some((i) => i.specifier.startsWith('@fedify/')), 'imports of @fedify/* are seen');
  t.ok(imports.some((i) => i.typeOnly) && imports.some((i) => !i.typeOnly), 'type-only imports are told apart');
  for (const i of imports) {
    if (i.target) t.ok(files.includes(i.target) || i.target.endsWith('.json'), `${describe(i)}: it resolves`, { skip: !i.target.endsWith('.ts') && !i.target.endsWith('.json') });
  }
});

t.test('the rules catch what they name', async (t) => {
  const fake = (file: string, specifier: string): Import => {
    const target = specifier.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)) : null;
    return { file, specifier, target, typeOnly: false };
  };
  const broken = (i: Import) => rules.filter((r) => r.breaks(i)).map((r) => r.name);
  t.ok(broken(fake('things/x.ts', '@fedify/vocab')).length === 1, 'a domain file importing @fedify/*');
  t.ok(broken(fake('links/x.ts', 'fastify')).length === 1, 'a domain file importing fastify');
  t.ok(broken(fake('flattrs/x.ts', '../activitypub/outbox.ts')).length === 1, 'a domain file importing the adapter');
  t.ok(broken(fake('ports.ts', './web/html.ts')).length === 1, 'a domain file at the top importing web/');
  t.ok(broken(fake('settlement/x.ts', '../close/stages.ts')).length === 1, 'settlement/ importing close/');
  t.ok(broken(fake('close/x.ts', '../settlement/issue.ts')).length === 1, 'close/ importing settlement/');
  t.ok(broken(fake('web/routes/x.ts', '../../activitypub/objects.ts')).length === 1, 'web/ importing the adapter');
  t.same(broken(fake('activitypub/x.ts', '@fedify/fedify')), [], 'the adapter imports Fedify');
  t.same(broken(fake('instance.ts', './activitypub/federation.ts')), [], 'the composition root imports the adapter');
  t.same(broken(fake('web/x.ts', 'fastify')), [], 'web/ imports fastify');
});

for (const rule of rules) {
  t.test(rule.name, async (t) => {
    const broken = imports.filter((i) => rule.breaks(i) && !allowed(i)).map(describe);
    t.same(broken, [], broken.length ? `${rule.name}; broken by:\n  ${broken.join('\n  ')}` : rule.name);
  });
}

t.test('every allowed exception is still needed', async (t) => {
  for (const a of ALLOWED) {
    const used = imports.some((i) => i.file === a.file && (a.specifier === '*' || a.specifier === i.specifier) && rules.some((r) => r.breaks(i)));
    t.ok(used, `${a.file} ${a.specifier}: ${a.reason}`);
  }
});

/** Tarjan's strongly connected components of the run-time import graph. */
function cycles(): string[][] {
  const edges = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const i of imports) if (i.target && !i.typeOnly && edges.has(i.target)) edges.get(i.file)?.push(i.target);
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!indexOf.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || edges.get(v)?.includes(v)) out.push(component.sort());
    }
  };
  for (const f of files) if (!indexOf.has(f)) connect(f);
  return out;
}

t.test('no import cycle in src/ but the allowed ones', async (t) => {
  const found = cycles();
  const key = (c: string[]) => c.join(' ');
  const known = new Set(ALLOWED_CYCLES.map((c) => key([...c.files].sort())));
  const unexpected = found.filter((c) => !known.has(key(c)));
  t.same(unexpected.map((c) => c.join(' -> ')), [], unexpected.length ? `import cycles (files of each):\n  ${unexpected.map((c) => c.join(', ')).join('\n  ')}` : 'no cycle');
  const gone = ALLOWED_CYCLES.filter((c) => !found.some((f) => key(f) === key([...c.files].sort())));
  t.same(gone.map((c) => c.reason), [], 'every allowed cycle is still there (else drop it from the list)');
});
