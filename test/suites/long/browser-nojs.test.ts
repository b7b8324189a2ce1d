// One test process for this file (README.md, Tests).
await import('../../web/browser-nojs.test.ts');
