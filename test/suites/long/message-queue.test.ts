// One test process for this file (README.md, Tests).
await import('../../federation/message-queue.test.ts');
