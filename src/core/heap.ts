/**
 * Keeps a long export's heap flat. Batches in flight live long enough to be promoted to V8's old
 * generation, and V8 lets that dead space grow for as long as the heap limit allows (measured:
 * +4 MB every half second, no major collection in a 1,000,000-row export), so peak memory would
 * grow with the row count. While runs are active, a major collection runs whenever the heap has
 * grown by GROWTH_BYTES since the last one: a few milliseconds each, with a live heap of ~10 MB.
 *
 * It needs `--expose-gc`, which bin/sluice.mjs passes; embedded in an application started
 * without it, this does nothing and V8 collects as it always does.
 */
const CHECK_MS = 250;
const GROWTH_BYTES = 8 * 1024 * 1024;

type Collect = () => void;

let holders = 0;
let timer: NodeJS.Timeout | undefined;
let baseline = 0;

function check(collect: Collect): void {
  const used = process.memoryUsage().heapUsed;
  if (used - baseline < GROWTH_BYTES) return;
  collect();
  baseline = process.memoryUsage().heapUsed;
}

/** Trims the heap while the caller's run is active; returns the release. Concurrent runs share one timer. */
export function holdHeapTrim(): () => void {
  const gc = globalThis.gc;
  if (!gc) return () => undefined;
  const collect: Collect = () => void gc();
  if (holders++ === 0) {
    baseline = process.memoryUsage().heapUsed;
    timer = setInterval(() => check(collect), CHECK_MS).unref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) clearInterval(timer);
  };
}
