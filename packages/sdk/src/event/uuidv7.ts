/**
 * UUIDv7 ids (RFC 9562): 48-bit Unix milliseconds, a 12-bit counter seeded at random each millisecond
 * (so ids from one generator sort in creation order), then 62 random bits. Random bytes come from a
 * pooled `crypto.getRandomValues` (one call per 256 ids), which is what makes this cheap.
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_BYTES = 4096;
const TWO_32 = 2 ** 32;

export class Uuidv7Generator {
  private readonly pool = new Uint8Array(POOL_BYTES);
  private offset = POOL_BYTES;
  private lastMs = -1;
  private counter = 0;

  /** A new id for an event at `ms` (defaults to now); never goes back in time within this generator. */
  next(ms: number = Date.now()): string {
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.counter = this.byte() & 0x7f; // leave room for ~3,900 more ids in the same millisecond
    } else if (++this.counter > 0xfff) {
      this.lastMs += 1; // counter exhausted: borrow the next millisecond
      this.counter = this.byte() & 0x7f;
    }
    const t = this.lastMs;
    const hi = Math.floor(t / TWO_32);
    const lo = t % TWO_32;
    const pool = this.take(8);
    const o = this.offset - 8;
    return (
      HEX[(hi >>> 8) & 0xff]! +
      HEX[hi & 0xff]! +
      HEX[(lo >>> 24) & 0xff]! +
      HEX[(lo >>> 16) & 0xff]! +
      '-' +
      HEX[(lo >>> 8) & 0xff]! +
      HEX[lo & 0xff]! +
      '-' +
      HEX[0x70 | (this.counter >>> 8)]! +
      HEX[this.counter & 0xff]! +
      '-' +
      HEX[0x80 | (pool[o]! & 0x3f)]! +
      HEX[pool[o + 1]!]! +
      '-' +
      HEX[pool[o + 2]!]! +
      HEX[pool[o + 3]!]! +
      HEX[pool[o + 4]!]! +
      HEX[pool[o + 5]!]! +
      HEX[pool[o + 6]!]! +
      HEX[pool[o + 7]!]!
    );
  }

  private byte(): number {
    const pool = this.take(1);
    return pool[this.offset - 1]!;
  }

  private take(n: number): Uint8Array {
    if (this.offset + n > POOL_BYTES) {
      fillRandom(this.pool);
      this.offset = 0;
    }
    this.offset += n;
    return this.pool;
  }
}

function fillRandom(bytes: Uint8Array): void {
  const crypto = (globalThis as { crypto?: { getRandomValues?: (b: Uint8Array) => Uint8Array } }).crypto;
  if (crypto?.getRandomValues) {
    crypto.getRandomValues(bytes);
    return;
  }
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
}

export const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
