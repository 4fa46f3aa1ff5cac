/**
 * The reference pages a user reads must say what the code does: every built-in event field with
 * its type's required flag (docs/events.md), every config key (docs/configuration.md), and every
 * relative link of README.md and docs/ pointing at a file that exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { BUILTIN_TYPES, type BuiltinType } from '../model/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Pages other issues write (security: issue 14, scale-out: issue 16); linked from the README already. */
const PAGES_TO_COME = new Set(['docs/security.md', 'docs/scale-out.md']);

/** The rows of the first markdown table under the heading line that starts with `heading`. */
function tableUnder(markdown: string, heading: string): Map<string, string[]> {
  const all = markdown.split('\n');
  const start = all.findIndex((line) => line.startsWith(heading));
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const rows = new Map<string, string[]>();
  const lines = all.slice(start + 1);
  let inTable = false;
  for (const line of lines) {
    if (line.startsWith('#')) break;
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    rows.set(cells[0] as string, cells);
  }
  return rows;
}

describe('reference docs', () => {
  it('docs/events.md lists every field of every built-in type, and which are required', () => {
    const events = read('docs/events.md');
    for (const [type, spec] of Object.entries(BUILTIN_TYPES) as [
      BuiltinType,
      (typeof BUILTIN_TYPES)[BuiltinType],
    ][]) {
      const rows = tableUnder(events, `### \`${type}\``);
      const documented = [...rows.keys()].filter((k) => k.startsWith('`')).map((k) => k.slice(1, -1));
      expect(documented.filter((f) => f !== 'field').sort(), type).toEqual([...spec.fields].sort());
      for (const field of spec.fields) {
        const required = (rows.get(`\`${field}\``) ?? [])[2] === 'yes';
        expect(required, `${type}.${field} required`).toBe(
          (spec.required as readonly string[]).includes(field),
        );
      }
    }
  });

  it('docs/configuration.md names every key of the config file', () => {
    const doc = read('docs/configuration.md');
    const leaves: string[] = [];
    const walk = (value: unknown, path: string) => {
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
      } else leaves.push(path);
    };
    walk(defaultConfig(), '');
    // A small nested object (a rate-limit bucket) may be documented as a whole.
    const missing = leaves.filter((key) => {
      const parent = key.split('.').slice(0, -1).join('.');
      return !doc.includes(`\`${key}\``) && !(parent.includes('.') && doc.includes(`\`${parent}\``));
    });
    expect(missing).toEqual([]);
  });

  it('every relative link in README.md and docs/ points at a file of the repository', () => {
    const pages = [
      'README.md',
      ...readdirSync(join(root, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const broken: string[] = [];
    for (const page of pages) {
      for (const match of read(page).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = match[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        const path = join(dirname(page), target).replaceAll('\\', '/');
        if (!existsSync(join(root, path)) && !PAGES_TO_COME.has(path)) broken.push(`${page} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
