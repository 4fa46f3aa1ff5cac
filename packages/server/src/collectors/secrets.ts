import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Collector credentials at rest: AES-256-GCM with a key derived (HKDF-SHA256) from
 * `VIGIL_SECRET_KEY`. A sealed value is `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url); the
 * collector's id is the additional authenticated data, so a sealed value cannot be moved to
 * another collector. Without a key, credentials cannot be stored (the API refuses them) and
 * stored ones cannot be opened (their collectors report the failure instead of running).
 */
export class SecretBox {
  private readonly key: Buffer;
  /** First bytes of a hash of the key: tells a wrong key apart from tampering. */
  readonly keyId: string;

  private constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'vigil-collector-credentials', 'aes-256-gcm', 32));
    this.keyId = createHash('sha256').update(this.key).digest('base64url').slice(0, 8);
  }

  /** A box for the key, or null when none is set. Short keys are refused. */
  static fromSecret(secret: string | undefined): SecretBox | null {
    if (secret === undefined || secret === '') return null;
    if (secret.length < 16)
      throw new Error('VIGIL_SECRET_KEY must be at least 16 characters (32 random bytes recommended)');
    return new SecretBox(secret);
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      'v1',
      this.keyId,
      iv.toString('base64url'),
      tag.toString('base64url'),
      body.toString('base64url'),
    ].join('.');
  }

  /** The plain text; throws with a reason (wrong key, tampered, unknown format). */
  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== 'v1') throw new Error('sealed credentials in an unknown format');
    const [, keyId, iv, tag, body] = parts as [string, string, string, string, string];
    if (keyId !== this.keyId) {
      throw new Error(
        'credentials were sealed with another VIGIL_SECRET_KEY; set that key or re-create the collector',
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new Error('sealed credentials failed authentication (altered in storage)');
    }
  }
}
