// V8 flags sluice runs with (the shebang of bin/sluice.mjs carries the same). The cap on the
// young generation keeps peak memory flat: by default V8 grows it to 32 MB under a stream of
// short-lived rows, so peak RSS would depend on how many rows an export has.
export const NODE_FLAGS = ['--max-semi-space-size=4'];
