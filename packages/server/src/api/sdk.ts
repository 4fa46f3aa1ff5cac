import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { VigilError } from '../errors/index.js';
import { AssetCache, send } from './web.js';

/** The SDK this server was built with (`packages/sdk/dist/served`, made by scripts/prepare.mjs). */
export const SDK_SERVED = fileURLToPath(new URL('../../../sdk/dist/served/', import.meta.url));
const SDK_PACKAGE = fileURLToPath(new URL('../../../sdk/package.json', import.meta.url));

const FILES = {
  'vigil-sdk.tgz': 'an npm tarball: npm install <this URL>',
  'vigil-sdk.js': 'one ES module for browsers: import { createClient } from "<this URL>"',
} as const;

/**
 * The SDK, served by the server it talks to (docs/sdk.md): the package is not on a registry, so a
 * self-hosted user installs it from here, in the version that matches this server. No auth: it is
 * the same code as the repository's.
 */
export async function sdkRoutes(app: FastifyInstance, options: { dir?: string } = {}): Promise<void> {
  const { dir = SDK_SERVED } = options;
  const assets = new AssetCache(dir);
  const version = (JSON.parse(readFileSync(SDK_PACKAGE, 'utf8')) as { version: string }).version;

  app.get('/sdk/', async (req) => {
    const base = `${req.protocol}://${req.host}/sdk/`;
    return {
      name: '@vigil/sdk',
      version,
      files: Object.entries(FILES).map(([name, use]) => ({ url: base + name, use })),
      docs: 'docs/sdk.md in the Vigil repository',
    };
  });

  app.get<{ Params: { file: string } }>('/sdk/:file', async (req, reply) => {
    const name = req.params.file;
    const asset = Object.hasOwn(FILES, name) ? assets.get(name) : null;
    if (!asset) {
      throw new VigilError('not_found', {
        message: Object.hasOwn(FILES, name)
          ? `The SDK is not built (no ${join(dir, name)}); run npm start or node scripts/prepare.mjs.`
          : `No SDK file '${name}'; there are ${Object.keys(FILES).join(' and ')}.`,
      });
    }
    // Pages on other origins load the module with <script type="module">, which needs CORS.
    void reply.header('access-control-allow-origin', '*');
    return send(req, reply, name, asset, 'no-cache');
  });
}
