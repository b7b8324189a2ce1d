// The API contract and its edges: OpenAPI, hostile input, authentication. One test process for these files (README.md, Tests).
await import('../../integration/openapi.test.ts');
await import('../../integration/edges-input.test.ts');
await import('../../integration/edges-auth.test.ts');
