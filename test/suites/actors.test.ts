// One test process for this file (README.md, Tests).
await import('../federation/actors.test.ts');
