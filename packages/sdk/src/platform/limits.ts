/** Browsers cap the bodies of all `keepalive` requests in flight at 64 KiB together; stay under it. */
export const KEEPALIVE_MAX_BYTES = 60_000;
