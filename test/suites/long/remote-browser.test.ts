// One test process for this file (README.md, Tests).
await import('../../web/remote-browser.test.ts');
