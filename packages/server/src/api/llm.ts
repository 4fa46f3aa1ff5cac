import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { projectFor } from '../auth/index.js';
import { VigilError } from '../errors/index.js';
import { type PriceBook, PriceError, parsePriceList, priceView } from '../pricing/index.js';
import { type AppContext, guard, principalOf } from './context.js';
import { Param, type QueryOf, QuerySchema } from './params.js';

const PricesQuery = QuerySchema({ project: Type.Optional(Param.project) });
type PricesRequest = FastifyRequest<{ Querystring: QueryOf<typeof PricesQuery> }>;

/** The effective price table of a project: its own entries first, then the config file's, then the shipped ones. */
const tableOf = (project: string, book: PriceBook) => ({
  project,
  prices: book.entries().map(priceView),
  note: 'A changed price applies to events ingested afterwards; `vigil reprice` recomputes stored costs for a range.',
});

/** `GET/PUT /api/llm/prices`: the LLM price table and a project's own overrides. */
export async function llmRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const projectOf = async (req: PricesRequest) => {
    const id = projectFor(principalOf(req), req.query.project);
    if (!(await ctx.projects.get(id))) throw new VigilError('not_found', { message: `No project '${id}'.` });
    return id;
  };

  app.get<{ Querystring: QueryOf<typeof PricesQuery> }>(
    '/api/llm/prices',
    { onRequest: guard(ctx, 'read'), schema: { querystring: PricesQuery } },
    async (req) => {
      const project = await projectOf(req);
      return tableOf(project, await ctx.prices.book(project));
    },
  );

  app.put<{ Querystring: QueryOf<typeof PricesQuery>; Body: unknown }>(
    '/api/llm/prices',
    { onRequest: guard(ctx, 'admin'), schema: { querystring: PricesQuery } },
    async (req) => {
      const project = await projectOf(req);
      let entries: ReturnType<typeof parsePriceList>;
      try {
        entries = parsePriceList(req.body, 'project');
      } catch (err) {
        if (err instanceof PriceError) throw new VigilError('invalid_prices', { message: err.message });
        throw err;
      }
      const book = await ctx.prices.replace(
        project,
        entries.map(priceView).map(({ source: _s, ...p }) => p),
      );
      return tableOf(project, book);
    },
  );
}
