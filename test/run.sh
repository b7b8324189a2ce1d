#!/bin/sh
# npm test: type-check, lint, and every suite (README.md, Tests). tsc runs alongside the tests:
# alone it would keep one of the machine's two cores idle. Arguments go to tap.
# TypeScript 7's tsc by its path: the boundary test's parser (@typescript/typescript6) brings
# TypeScript 6 along, whose `tsc` may take the name in node_modules/.bin.
export NODE_COMPILE_CACHE="$PWD/node_modules/.cache/node-compile"
node node_modules/typescript/bin/tsc --noEmit -p . &
typecheck=$!
biome check . &&
  node test/helpers/warm-compile-cache.ts &&
  NODE_OPTIONS="$NODE_OPTIONS --import=\"$PWD/test/helpers/tap-quiet.ts\"" tap "$@"
status=$?
wait "$typecheck" || status=1
exit "$status"
