// One test process for this file (README.md, Tests).
await import('../../web/browser.test.ts');
