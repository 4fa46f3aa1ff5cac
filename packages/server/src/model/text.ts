// ES2024's well-formed string methods (Node.js ≥ 20); the project's lib is ES2023.
declare global {
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

/**
 * The text as every store keeps it: a lone UTF-16 surrogate (which no UTF-8 encoding can hold)
 * becomes U+FFFD, as it would on its way into any engine. Ingestion applies it to every string it
 * takes, and the audit chain hashes through it, so the chain agrees with what was stored.
 */
export function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed();
}
