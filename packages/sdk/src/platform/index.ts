/**
 * The one seam between the SDK and its runtime. This file selects Node.js; browser bundlers swap it
 * for `./browser/index.js` through the `browser` field of package.json (the `browser` export condition
 * picks the ESM build it applies to). Nothing else in the SDK imports a platform folder directly.
 */
export { platform } from './node/index.js';
export type { Platform, SendRequest, SendResult, Transport, TransportOptions } from './types.js';
