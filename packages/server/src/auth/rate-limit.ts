/** Token buckets per subject: `ratePerSec` refill, `burst` capacity. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly maxSubjects = 100_000,
  ) {}

  /** Takes `cost` tokens; returns 0 when allowed, else the seconds to wait (for Retry-After). */
  take(subject: string, cost = 1, now = Date.now()): number {
    const bucket = this.refill(subject, now);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return 0;
    }
    if (this.ratePerSec <= 0) return 60;
    return Math.max(1, Math.ceil((cost - bucket.tokens) / this.ratePerSec));
  }

  /** Like `take`, without taking: the seconds until `cost` tokens are there, 0 when they are. */
  wait(subject: string, cost = 1, now = Date.now()): number {
    const bucket = this.refill(subject, now);
    if (bucket.tokens >= cost) return 0;
    if (this.ratePerSec <= 0) return 60;
    return Math.max(1, Math.ceil((cost - bucket.tokens) / this.ratePerSec));
  }

  private refill(subject: string, now: number): { tokens: number; at: number } {
    let bucket = this.buckets.get(subject);
    if (!bucket) {
      if (this.buckets.size >= this.maxSubjects) this.buckets.clear();
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(subject, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSec);
    bucket.at = now;
    return bucket;
  }
}

/**
 * Password guessing, limited so that it cannot lock a person out:
 * - every attempt from one address takes from that address's bucket (`perMinute`);
 * - wrong passwords for one user, from anywhere, take from that user's bucket, five times as large:
 *   one address cannot empty it, many addresses guessing together can. Once it is empty, the user
 *   can still sign in from an address where they signed in before (within `rememberMs`); other
 *   addresses wait.
 */
export class LoginThrottle {
  private readonly addresses: RateLimiter;
  private readonly failures: RateLimiter;
  /** `user\naddress` → when that user last signed in from there; oldest first. */
  private readonly known = new Map<string, number>();

  constructor(
    perMinute: number,
    private readonly rememberMs = 30 * 86_400_000,
    private readonly maxKnown = 100_000,
  ) {
    this.addresses = new RateLimiter(perMinute / 60, perMinute);
    this.failures = new RateLimiter((5 * perMinute) / 60, 5 * perMinute);
  }

  /** Before checking a password: the seconds to wait (for Retry-After), 0 when it may be checked. */
  attempt(user: string, address: string, now = Date.now()): number {
    const wait = this.addresses.take(`ip:${address}`, 1, now);
    if (wait > 0) return wait;
    const seen = this.known.get(`${user}\n${address}`);
    if (seen !== undefined && now - seen < this.rememberMs) return 0;
    return this.failures.wait(`user:${user}`, 1, now);
  }

  failed(user: string, now = Date.now()): void {
    this.failures.take(`user:${user}`, 1, now);
  }

  succeeded(user: string, address: string, now = Date.now()): void {
    const key = `${user}\n${address}`;
    this.known.delete(key);
    this.known.set(key, now);
    if (this.known.size > this.maxKnown) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
  }
}
