/**
 * Rules about where things may be written in src/, each a named check that answers the places
 * breaking it ("file:line: what"). Add a check by adding an entry to `checks`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import ts from 'typescript';

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

/** The text of a string or template literal (or a piece of a template between its `${}`), else undefined. */
function literalText(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
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
  t.equal(probe('const a = `${origin}/users/${u}`;').length, 1, 'a template');
  t.equal(probe("const a = '/actor';").length, 1, 'a string');
  t.equal(probe('const a = html`<a href="/things/${id}">x</a>`;').length, 1, 'a tagged template');
  t.equal(probe("reply.redirect('/things/' + id);").length, 1, 'a redirect is not a route');
  t.equal(probe("app.get('/things/:id', handler);").length, 0, 'a fastify route');
  t.equal(probe('app.get(`/users/:username`, handler);').length, 0, 'a fastify route as a template');
  t.equal(probe("f.setActorDispatcher('/users/{identifier}', d).mapActorAlias('/actor', X);").length, 0, 'Fedify routes');
  t.equal(probe("f.setInboxListeners('/users/{identifier}/inbox', '/inbox');").length, 0, 'Fedify inboxes');
  t.equal(probe("app.get('/x', () => '/actor');").length, 1, 'only the route argument is a route');
  t.equal(probe("const a = '/dashboard/flattrs/1/withdraw', b = 'GET /api/v1/things/lookup', c = '/admin/unclaimed';").length, 0, 'longer paths');
  t.equal(probe('// see /users/{username}\nconst a = 1;').length, 0, 'comments');
});
