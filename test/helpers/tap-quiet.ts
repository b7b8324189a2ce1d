/**
 * Loaded into every test process before tap's own preloads (npm test puts it in NODE_OPTIONS,
 * which node reads before the command line tap builds).
 *
 * tap records every module each test process loads, and looks up the source map of each one
 * (parsing the maps of most of node_modules), so that it can report coverage and rerun only the
 * tests a change touched (`tap --changed`). This suite uses neither (coverage is disabled in
 * package.json), and the recording was about a second of CPU per test process: an exclude
 * pattern that matches every file turns it off. tap's runner sets the pattern in each child's
 * environment, so it is set here, inside the child, before @tapjs/processinfo reads it.
 */
process.env._TAPJS_PROCESSINFO_EXCLUDE_ = '/./';
