// One test process for this file (README.md, Tests).
await import('../../integration/close-property.test.ts');
