// More pages: remote flattrs, settlement, the rest. One test process for these files (README.md, Tests).
await import('../../web/more-pages.test.ts');
await import('../../web/remote-flattr.test.ts');
await import('../../web/settlement-pages.test.ts');
await import('../../web/settlement-peer-pages.test.ts');
