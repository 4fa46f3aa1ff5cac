export {
  Authenticator,
  allows,
  type Need,
  narrow,
  projectFor,
  reachable,
  reaches,
  SESSION_COOKIE,
} from './authenticator.js';
export type { Bootstrap } from './bootstrap.js';
export { bootstrap, createKey, DEFAULT_PROJECT, FIRST_EVENT } from './bootstrap.js';
export {
  type ClaimedRoles,
  type Claims,
  describeRoles,
  domainAllowed,
  emailOf,
  rolesFromClaims,
  userNameOf,
} from './oidc.js';
export { LoginThrottle, RateLimiter } from './rate-limit.js';
export { hashSecret, randomToken, sha256, verifySecret } from './secrets.js';
