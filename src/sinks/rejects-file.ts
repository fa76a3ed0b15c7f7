import { closeSync, openSync, writeSync } from 'node:fs';
import type { Rejection, RejectsList } from '../core/rejects.ts';
import { csvField } from '../format/csv.ts';

/** The values as JSON, 64-bit integers as their digits. */
function valuesJson(values: Rejection['values']): string {
  return JSON.stringify(values, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}

/**
 * A CSV file of rejected rows (`where,reason,values`, the values as JSON), created when the run
 * starts. Its fields are formula-escaped like every CSV sluice writes: they hold the input's
 * own text, and people open this file in a spreadsheet. `close` once the run has ended.
 */
export function rejectsFile(path: string): RejectsList & { close(): void } {
  let fd: number | undefined;
  const field = (text: string) => csvField(text, true, { escapeFormulas: true });
  const open = (): number => {
    if (fd === undefined) {
      fd = openSync(path, 'w');
      writeSync(fd, 'where,reason,values\n');
    }
    return fd;
  };
  return {
    description: path,
    start: () => void open(),
    add(rejection) {
      writeSync(open(), `${[rejection.where, rejection.reason, valuesJson(rejection.values)].map(field).join(',')}\n`);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
