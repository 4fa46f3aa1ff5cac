/** The Node.js platform: `node:http(s)` keep-alive, `node:zlib` gzip, unref'd timers, `beforeExit`. */
import type { Platform } from '../types.js';
import { NodeTransport } from './transport.js';

export const platform: Platform = {
  name: 'node',
  createTransport: (options) => new NodeTransport(options),
  onTerminate(callback) {
    const onBeforeExit = () => callback(false);
    process.on('beforeExit', onBeforeExit);
    return () => {
      process.off('beforeExit', onBeforeExit);
    };
  },
  defer(callback) {
    setImmediate(callback);
  },
  timer(callback, ms, keepAlive = false) {
    const handle = setTimeout(callback, ms);
    if (!keepAlive) handle.unref();
    return () => clearTimeout(handle);
  },
  now: () => performance.now(),
};
