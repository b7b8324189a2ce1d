// Trust between instances and Fedify's key-value store. One test process for these files (README.md, Tests).
await import('../../federation/trust.test.ts');
await import('../../federation/kv-store.test.ts');
