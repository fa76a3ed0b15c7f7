import { randomBytes } from 'node:crypto';
import type { Pipeline } from '../core/define.ts';

/** How long a ticket may wait to be used: a browser follows it at once. */
export const TICKET_TTL_MS = 60_000;

export interface Ticket {
  readonly pipeline: Pipeline;
  /** As the form gave them (validated when the ticket was issued, and again by the download). */
  readonly params: Readonly<Record<string, unknown>>;
  /** Who asked for it, for the run history. */
  readonly who: string;
  readonly expires: number;
}

/**
 * One-time download links. The console holds the admin token in the page and sends it as a
 * header, which a plain browser download cannot carry; so it asks (with the token) for a ticket,
 * and the browser downloads from `/download/<ticket>`, streaming to disk with the file's own
 * name. A ticket is random, used once and valid for a minute; the token never enters a URL.
 */
export class DownloadTickets {
  readonly #tickets = new Map<string, Ticket>();

  issue(ticket: Omit<Ticket, 'expires'>, now = Date.now()): string {
    this.#sweep(now);
    const id = randomBytes(24).toString('base64url');
    this.#tickets.set(id, { ...ticket, expires: now + TICKET_TTL_MS });
    return id;
  }

  /** The ticket, once; undefined if unknown, used or expired. */
  redeem(id: string, now = Date.now()): Ticket | undefined {
    const ticket = this.#tickets.get(id);
    this.#tickets.delete(id);
    return ticket && ticket.expires > now ? ticket : undefined;
  }

  #sweep(now: number): void {
    for (const [id, ticket] of this.#tickets) if (ticket.expires <= now) this.#tickets.delete(id);
  }
}
