/**
 * Property names that never leave the process. The same default list as the server's: exact names,
 * compared case-insensitively, at every nesting level (so `prompt_tokens` is kept, `Prompt` is not).
 */
export const DEFAULT_DENY_PROPS: readonly string[] = [
  'content',
  'message',
  'messages',
  'prompt',
  'completion',
  'email',
  'phone',
  'password',
  'token',
];

/** A set of denied property names with a length pre-check, so most keys cost one comparison. */
export class PropDenyList {
  private readonly names: ReadonlySet<string>;
  private readonly minLength: number;
  private readonly maxLength: number;

  constructor(names: readonly string[]) {
    this.names = new Set(names.map((n) => n.toLowerCase()));
    const lengths = [...this.names].map((n) => n.length);
    this.minLength = lengths.length ? Math.min(...lengths) : 1;
    this.maxLength = lengths.length ? Math.max(...lengths) : 0;
  }

  denies(key: string): boolean {
    const length = key.length;
    if (length < this.minLength || length > this.maxLength) return false;
    return this.names.has(key) || this.names.has(key.toLowerCase());
  }
}
