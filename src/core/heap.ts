import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

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
const CHECK_MS = 50;
const GROWTH_BYTES = 4 * 1024 * 1024;

type Collect = () => void;

let holders = 0;
let timer: NodeJS.Timeout | undefined;
let baseline = 0;

/** V8's spaces that only a major collection empties: where dead batches pile up. */
const OLD_SPACES = new Set(['old_space', 'large_object_space', 'code_space']);

/**
 * The old generation and the memory its objects hold outside the heap: a Buffer's bytes are
 * freed only when its small wrapper is collected, and chunks from a worker thread or a fast
 * output can pile up tens of MB of those while the heap itself hardly grows. Not the young
 * generation: its garbage goes in cheap scavenges, and counting it made an allocation-heavy run
 * (an import: a string per field) collect the whole heap twenty times a second.
 */
export function heldBytes(): number {
  let old = 0;
  for (const space of getHeapSpaceStatistics()) if (OLD_SPACES.has(space.space_name)) old += space.space_used_size;
  // The isolate's external memory, as process.memoryUsage().external, without its read of the RSS.
  return old + getHeapStatistics().external_memory;
}

function check(collect: Collect): void {
  if (heldBytes() - baseline < GROWTH_BYTES) return;
  collect();
  baseline = heldBytes();
}

/** Trims the heap while the caller's run is active; returns the release. Concurrent runs share one timer. */
export function holdHeapTrim(): () => void {
  const gc = globalThis.gc;
  if (!gc) return () => undefined;
  const collect: Collect = () => void gc();
  if (holders++ === 0) {
    baseline = heldBytes();
    timer = setInterval(() => check(collect), CHECK_MS).unref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) clearInterval(timer);
  };
}

let youngBuffers = 0;

/**
 * Notes bytes of ArrayBuffers that died young and that V8 counts in neither its heap nor its
 * external memory (pages of rows a worker thread transferred here): left alone they pile up until
 * some collection (160 MB peak against 110 MB for 1,000,000 tickets), while a scavenge every few
 * MB frees them at no measurable cost. Without --expose-gc nothing is done.
 */
export function releaseYoungBuffers(bytes: number): void {
  youngBuffers += bytes;
  if (youngBuffers < GROWTH_BYTES) return;
  youngBuffers = 0;
  (globalThis.gc as ((options: { type: 'minor' }) => void) | undefined)?.({ type: 'minor' });
}
