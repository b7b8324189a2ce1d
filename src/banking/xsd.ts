/**
 * Schema validation of ISO 20022 files against the XSDs shipped in src/banking/xsd/ (copies of
 * ../shared/iso20022, so a running instance needs nothing outside the repository). libxml2 runs
 * as WebAssembly (xmllint-wasm) in a worker thread: no native build, and a file that makes the
 * parser work hard does not hold up the server's event loop.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateXML } from 'xmllint-wasm';

export const XSD_DIR = fileURLToPath(new URL('./xsd/', import.meta.url));

export type SchemaName = 'camt.053.001.02' | 'camt.053.001.08' | 'pain.001.001.03' | 'pain.001.001.09';

const schemas = new Map<SchemaName, string>();
function schemaText(name: SchemaName): string {
  let text = schemas.get(name);
  if (text === undefined) {
    text = readFileSync(`${XSD_DIR}${name}.xsd`, 'utf8');
    schemas.set(name, text);
  }
  return text;
}

export interface SchemaProblem {
  /** 'parser': not well-formed XML; 'schema': well-formed but not what the schema allows. */
  kind: 'parser' | 'schema';
  line: number | null;
  message: string;
}

/** WebAssembly memory for one validation: enough for the largest statement the routes accept. */
const MAX_MEMORY_PAGES = 8192; // 512 MiB, taken only as needed

/** The problems libxml2 finds in `xml` against the named schema; empty when the file is valid. */
export async function schemaProblems(xml: string, schema: SchemaName): Promise<SchemaProblem[]> {
  const result = await validateXML({
    xml: [{ fileName: 'document.xml', contents: xml }],
    schema: [{ fileName: `${schema}.xsd`, contents: schemaText(schema) }],
    maxMemoryPages: MAX_MEMORY_PAGES,
  });
  if (result.valid) return [];
  const problems = result.errors
    .filter((e) => e.loc?.fileName === 'document.xml')
    .map(
      (e): SchemaProblem => ({
        kind: /parser error|not well-formed|Document is empty|Start tag expected/i.test(e.message) ? 'parser' : 'schema',
        line: e.loc?.lineNumber ?? null,
        message: e.message.replace(/^(Schemas validity error|parser error)\s*:\s*/, '').trim(),
      }),
    );
  return problems.length > 0
    ? problems
    : [{ kind: 'parser', line: null, message: result.rawOutput.split('\n')[0]?.slice(0, 300) || 'the file could not be read as XML' }];
}
