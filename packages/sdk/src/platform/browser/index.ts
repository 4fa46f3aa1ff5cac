/** The browser platform: `fetch` + `keepalive`, `CompressionStream`, flush when the page is hidden. */
import type { Platform } from '../types.js';
import { FetchTransport } from './transport.js';

interface EventSource {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/**
 * Calls `callback` when the page is hidden or being unloaded: the last moment a page can be relied
 * on to run code (`pagehide` and `visibilitychange` to hidden; `unload` is unreliable and blocks the bfcache).
 */
export function onPageHidden(
  callback: () => void,
  win: EventSource | undefined = globalThis as unknown as EventSource,
  doc: (EventSource & { visibilityState?: string }) | undefined = (globalThis as { document?: EventSource })
    .document,
): () => void {
  const onHide = () => callback();
  const onVisibility = () => {
    if (doc?.visibilityState === 'hidden') callback();
  };
  if (typeof win?.addEventListener === 'function') win.addEventListener('pagehide', onHide);
  if (typeof doc?.addEventListener === 'function') doc.addEventListener('visibilitychange', onVisibility);
  return () => {
    if (typeof win?.removeEventListener === 'function') win.removeEventListener('pagehide', onHide);
    if (typeof doc?.removeEventListener === 'function')
      doc.removeEventListener('visibilitychange', onVisibility);
  };
}

export const platform: Platform = {
  name: 'browser',
  createTransport: (options) => new FetchTransport(options),
  onTerminate: (callback) => onPageHidden(() => callback(true)),
  defer(callback) {
    setTimeout(callback, 0);
  },
  timer(callback, ms) {
    const handle = setTimeout(callback, ms);
    return () => clearTimeout(handle);
  },
  now: () => (typeof performance === 'object' ? performance.now() : Date.now()),
};
