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
    let bucket = this.buckets.get(subject);
    if (!bucket) {
      if (this.buckets.size >= this.maxSubjects) this.buckets.clear();
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(subject, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSec);
    bucket.at = now;
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return 0;
    }
    if (this.ratePerSec <= 0) return 60;
    return Math.max(1, Math.ceil((cost - bucket.tokens) / this.ratePerSec));
  }
}
