// The instance as an operator runs it, its migrations at start, races between requests, the test databases reused. One test process for these files (README.md, Tests).
await import('../../integration/instance.test.ts');
await import('../../integration/migrate.test.ts');
await import('../../integration/races.test.ts');
await import('../../integration/test-databases.test.ts');
