// V8 flags sluice runs with (the shebang of bin/sluice.mjs carries the same; a test keeps them
// equal). Both keep peak memory flat whatever the row count: the cap on the young generation
// stops V8 growing it to 32 MB under a stream of short-lived rows, and `gc` lets a run collect
// the old generation as it goes (src/core/heap.ts) instead of letting dead batches pile up.
export const NODE_FLAGS = ['--max-semi-space-size=4', '--expose-gc'];
