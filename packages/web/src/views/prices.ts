import { api, get } from '../api.js';
import { h } from '../dom.js';
import type { PriceEntry } from '../types.js';
import { card, slot, table, type ViewContext } from '../ui.js';

const perMillion = (n: number | null) => (n === null ? '—' : `$${n}`);

/**
 * The project's effective LLM price table (docs/llm-cost.md), and for admins its own entries as
 * JSON to edit. `?price=MODEL` (the LLM view's "Add a price" link) starts an entry for that model.
 */
export function priceCard(ctx: ViewContext): { el: HTMLElement; done: Promise<void> } {
  const project = ctx.project;
  const tableBox = h('div', {});
  const note = h('p', { class: 'muted', role: 'status', 'data-prices-status': '' });
  const editor = h('textarea', {
    name: 'prices',
    rows: 8,
    spellcheck: false,
    'aria-label': 'The project prices as JSON',
    class: 'code',
  }) as HTMLTextAreaElement;

  const load = async () => {
    const r = await get<{ prices: PriceEntry[] }>('/api/llm/prices', { project });
    tableBox.replaceChildren(
      table(
        ['model', 'match', 'input / M', 'output / M', 'cache read / M', 'from', 'source'],
        r.prices.map((p) => [
          p.model,
          p.match,
          perMillion(p.inputPerMillion),
          perMillion(p.outputPerMillion),
          perMillion(p.cacheReadPerMillion),
          p.effectiveFrom.startsWith('1970-01-01') ? 'always' : p.effectiveFrom,
          p.reference
            ? h(
                'a',
                { href: p.reference.url, target: '_blank', rel: 'noreferrer' },
                `${p.source} (${p.reference.date})`,
              )
            : p.source,
        ]),
        { 'data-table': 'prices' },
      ),
    );
    const own = r.prices
      .filter((p) => p.source === 'project')
      .map(({ source: _s, reference: _r, ...p }) => p);
    const wanted = ctx.params.get('price');
    if (wanted && !own.some((p) => p.model === wanted)) {
      own.push({
        model: wanted,
        match: 'exact',
        inputPerMillion: 0,
        outputPerMillion: 0,
        cacheReadPerMillion: null,
        effectiveFrom: new Date().toISOString().slice(0, 10),
      });
      note.textContent = `Set the prices of ${wanted} and save.`;
    }
    editor.value = JSON.stringify({ prices: own }, null, 2);
  };

  const save = h(
    'button',
    {
      type: 'button',
      'data-action': 'save-prices',
      onclick: async () => {
        let body: unknown;
        try {
          body = JSON.parse(editor.value);
        } catch {
          note.textContent = 'That is not valid JSON.';
          return;
        }
        try {
          await api('PUT', `/api/llm/prices?project=${encodeURIComponent(project)}`, body);
          note.textContent =
            'Saved. New prices apply to events ingested from now on (vigil reprice recomputes a range).';
          await load();
        } catch (err) {
          note.textContent = err instanceof Error ? err.message : String(err);
        }
      },
    },
    'Save prices',
  );

  const body = slot(async () => {
    await load();
    return h(
      'div',
      {},
      tableBox,
      ctx.me.role === 'admin'
        ? h(
            'div',
            {},
            h('h4', {}, "This project's own prices (over the config file's and the shipped ones)"),
            editor,
            h('div', { class: 'toolbar' }, save),
            note,
          )
        : null,
    );
  });
  return {
    el: card(
      'LLM prices',
      h(
        'p',
        { class: 'muted' },
        'US dollars per million tokens. A request is priced when it is ingested, by the entry in effect at its time; a model without a price stays unpriced (counted, never $0).',
      ),
      body.el,
    ),
    done: body.done,
  };
}
