/**
 * Rules about where things may be written in src/, each a named check that answers the places
 * breaking it ("file:line: what"). Add a check by adding an entry to `checks`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path, { join, relative } from 'node:path';
import ts from '@typescript/typescript6';
import t from 'tap';

const ROOT = join(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

interface Source {
  /** Relative to the repository, with forward slashes: `src/core/iris.ts`. */
  path: string;
  file: ts.SourceFile;
}

function sources(): Source[] {
  const found: Source[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        const path = relative(ROOT, full).split('\\').join('/');
        found.push({ path, file: ts.createSourceFile(path, readFileSync(full, 'utf8'), ts.ScriptTarget.Latest, true) });
      }
    }
  };
  walk(SRC);
  return found;
}

function lineOf(file: ts.SourceFile, node: ts.Node): number {
  return file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
}

function visit(node: ts.Node, each: (node: ts.Node) => void): void {
  each(node);
  ts.forEachChild(node, (child) => visit(child, each));
}

// ---- instance paths are spelled in src/core/iris.ts only ----

/**
 * A path of this instance's IRIs (members, the instance actor and inbox, things, flattrs, posts,
 * periods, settlement, notices, unclaimed pages) starting a literal or following a character that
 * cannot be part of a path: `${origin}/users/`, `href="/things/`, `'/actor'`. A longer path that
 * merely contains one (`/dashboard/flattrs/`, `/api/v1/things/lookup`, `/admin/unclaimed`) is not one.
 */
const INSTANCE_PATH = /(?:^|[^\w.~%/-])\/(?:users|things|flattrs|posts|periods|settlement|notices|unclaimed|actor|inbox)(?![\w.-])/;

/** Calls whose first argument is a fastify route. */
const ROUTE_METHODS = new Set(['get', 'post', 'put', 'delete', 'patch', 'head', 'options', 'all', 'route']);
/** Fedify calls whose every argument is a route (`setInboxListeners('/users/{identifier}/inbox', '/inbox')`). */
const FEDIFY_ROUTES = /^(?:set\w*Dispatcher|setInboxListeners|mapActorAlias)$/;

/**
 * A route declaration: the first argument of `x.get/post/put/delete/patch/head/options/all/route(...)`,
 * or any argument of Fedify's `x.set*Dispatcher(...)`, `x.setInboxListeners(...)`, `x.mapActorAlias(...)`.
 */
function isRouteDeclaration(literal: ts.Node): boolean {
  const call = literal.parent;
  if (!call || !ts.isCallExpression(call) || !ts.isPropertyAccessExpression(call.expression)) return false;
  const name = call.expression.name.text;
  const index = call.arguments.indexOf(literal as ts.Expression);
  if (index < 0) return false;
  return (ROUTE_METHODS.has(name) && index === 0) || FEDIFY_ROUTES.test(name);
}

/**
 * The text of a string or template literal (or a piece of a template between its `${}`), or of a
 * regular expression literal (a path shape: `/^\/things\//`), else undefined.
 */
function literalText(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isRegularExpressionLiteral(node)) return node.text.replaceAll('\\/', '/');
  if (ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) return node.text;
  return undefined;
}

function instancePathsOutsideIris(all: Source[]): string[] {
  const found: string[] = [];
  for (const { path, file } of all) {
    if (path === 'src/core/iris.ts') continue;
    visit(file, (node) => {
      const text = literalText(node);
      if (text === undefined || !INSTANCE_PATH.test(text)) return;
      // A template's pieces: the declaration is the whole template.
      const literal = ts.isTemplateHead(node) ? node.parent : ts.isTemplateMiddle(node) || ts.isTemplateTail(node) ? node.parent.parent : node;
      if (isRouteDeclaration(literal)) return;
      found.push(`${path}:${lineOf(file, node)}: ${JSON.stringify(text.slice(0, 120))}`);
    });
  }
  return found;
}

// ---- the checks ----

const checks: { name: string; rule: string; run: (all: Source[]) => string[] }[] = [
  {
    name: 'instance paths are spelled in src/core/iris.ts only',
    rule: 'mint or parse with src/core/iris.ts; only route declarations spell their paths',
    run: instancePathsOutsideIris,
  },
];

const all = sources();
for (const check of checks) {
  t.test(check.name, async (t) => {
    const broken = check.run(all);
    t.same(broken, [], broken.length ? `${check.rule}:\n${broken.join('\n')}` : check.rule);
  });
}

t.test('the instance-path check finds what it should', async (t) => {
  const probe = (code: string) =>
    instancePathsOutsideIris([{ path: 'src/probe.ts', file: ts.createSourceFile('src/probe.ts', code, ts.ScriptTarget.Latest, true) }]);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the probe is source code with a template in it
  t.equal(probe('const a = `${origin}/users/${u}`;').length, 1, 'a template');
  t.equal(probe("const a = '/actor';").length, 1, 'a string');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the probe is source code with a template in it
  t.equal(probe('const a = html`<a href="/things/${id}">x</a>`;').length, 1, 'a tagged template');
  t.equal(probe("reply.redirect('/things/' + id);").length, 1, 'a redirect is not a route');
  t.equal(probe("app.get('/things/:id', handler);").length, 0, 'a fastify route');
  t.equal(probe('app.get(`/users/:username`, handler);').length, 0, 'a fastify route as a template');
  t.equal(probe("f.setActorDispatcher('/users/{identifier}', d).mapActorAlias('/actor', X);").length, 0, 'Fedify routes');
  t.equal(probe("f.setInboxListeners('/users/{identifier}/inbox', '/inbox');").length, 0, 'Fedify inboxes');
  t.equal(probe("app.get('/x', () => '/actor');").length, 1, 'only the route argument is a route');
  t.equal(probe("const a = '/dashboard/flattrs/1/withdraw', b = 'GET /api/v1/things/lookup', c = '/admin/unclaimed';").length, 0, 'longer paths');
  t.equal(probe('// see /users/{username}\nconst a = 1;').length, 0, 'comments');
  t.equal(probe('const a = /^\\/(?:inbox|users\\/[^/]+\\/inbox)$/;').length, 1, 'a regular expression');
  t.equal(probe('const a = /^\\/api\\/v1\\/things\\/lookup$/;').length, 0, 'a regular expression of a longer path');
});

// ---- imports: who may import what, and no cycle (issue 11) ----

/**
 * The imports of src/, read from the source: every rule below is named, and a failure names each
 * file and import that breaks it.
 *
 * - The domain (every folder of src/ but the ActivityPub adapter src/activitypub/ and the HTTP
 *   surfaces http/ and web/, and the composition root's files) never imports `@fedify/*`,
 *   `fastify`, the adapter, http/ or web/: it reaches the network through src/ports.ts.
 * - settlement/ and close/ never import each other (instance.ts wires "after a close, issue the
 *   statements" with ctx.afterClose).
 * - http/ and web/ never import the adapter.
 * - No import cycle in src/ but those listed in ALLOWED_CYCLES, each with its reason.
 */

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
    reason:
      'one process in two files: pending.ts recomputes the settlement a credit nets into (netting.refreshSettlement), ' +
      'and a settlement paid or received clears the pending credits it covers (pending.clearCredits); calls at run time only, never at load',
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
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
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
const inFolder = (target: string | null, folder: string) => target?.startsWith(folder) ?? false;
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
  {
    name: 'http/ and web/ do not import the ActivityPub adapter',
    breaks: (i) => (i.file.startsWith('http/') || i.file.startsWith('web/')) && inFolder(i.target, ADAPTER),
  },
];

t.test('the source is read', async (t) => {
  t.ok(files.length > 100, `${files.length} files in src/`);
  t.ok(
    imports.some((i) => i.specifier.startsWith('@fedify/')),
    'imports of @fedify/* are seen',
  );
  t.ok(imports.some((i) => i.typeOnly) && imports.some((i) => !i.typeOnly), 'type-only imports are told apart');
  for (const i of imports) {
    if (i.target)
      t.ok(files.includes(i.target) || i.target.endsWith('.json'), `${describe(i)}: it resolves`, {
        skip: !i.target.endsWith('.ts') && !i.target.endsWith('.json'),
      });
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
  t.same(
    unexpected.map((c) => c.join(' -> ')),
    [],
    unexpected.length ? `import cycles (files of each):\n  ${unexpected.map((c) => c.join(', ')).join('\n  ')}` : 'no cycle',
  );
  const gone = ALLOWED_CYCLES.filter((c) => !found.some((f) => key(f) === key([...c.files].sort())));
  t.same(
    gone.map((c) => c.reason),
    [],
    'every allowed cycle is still there (else drop it from the list)',
  );
});
