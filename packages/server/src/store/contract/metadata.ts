import { expect, it } from 'vitest';
import type { CommitNotice, MetadataStore } from '../types.js';

const T0 = Date.UTC(2026, 10, 1, 12);

/** The metadata half's contract: each test gets a fresh, empty, migrated store from `open`. */
export function metadataContract(open: () => Promise<MetadataStore>): void {
  it('projects: created once, listed, read and patched', async () => {
    const { meta } = await open();
    const p = await meta.ensureProject({ id: 'p', name: 'P', strictTypes: false, createdAt: T0 });
    expect(p).toEqual({
      id: 'p',
      name: 'P',
      strictTypes: false,
      createdAt: T0,
      retention: { rawDays: null, rollupDays: null, dailyRollupDays: null },
    });
    // A second ensure keeps the first record.
    expect(
      await meta.ensureProject({ id: 'p', name: 'other', strictTypes: true, createdAt: T0 + 1 }),
    ).toEqual(p);
    await meta.ensureProject({ id: 'a', name: 'A', strictTypes: true, createdAt: T0 });
    expect((await meta.listProjects()).map((r) => r.id)).toEqual(['a', 'p']);
    await meta.updateProject('p', { strictTypes: true });
    await meta.updateProject('p', { retention: { rawDays: 3, rollupDays: null, dailyRollupDays: 90 } });
    expect(await meta.getProject('p')).toMatchObject({
      strictTypes: true,
      retention: { rawDays: 3, rollupDays: null, dailyRollupDays: 90 },
    });
    expect(await meta.getProject('missing')).toBeNull();
  });

  it('keys: inserted, listed per project in creation order, revoked once', async () => {
    const { meta } = await open();
    const key = (id: string, project: string, createdAt: number) => ({
      id,
      project,
      role: 'ingest' as const,
      name: id === 'k1' ? 'first' : null,
      secretHash: `scrypt$${id}`,
      createdAt,
      revokedAt: null,
    });
    await meta.insertKey(key('k2', 'p', T0 + 1));
    await meta.insertKey(key('k1', 'p', T0));
    await meta.insertKey(key('k3', 'q', T0));
    expect(await meta.getKey('k1')).toEqual(key('k1', 'p', T0));
    expect((await meta.listKeys('p')).map((k) => k.id)).toEqual(['k1', 'k2']);
    expect((await meta.listKeys(null)).map((k) => k.id).sort()).toEqual(['k1', 'k2', 'k3']);
    expect(await meta.revokeKey('k1', T0 + 5)).toBe(true);
    expect(await meta.revokeKey('k1', T0 + 6)).toBe(false);
    expect(await meta.revokeKey('nope', T0)).toBe(false);
    expect((await meta.getKey('k1'))?.revokedAt).toBe(T0 + 5);
    expect(await meta.getKey('nope')).toBeNull();
  });

  it('users and sessions', async () => {
    const { meta } = await open();
    expect(await meta.countUsers()).toBe(0);
    const admin = {
      id: 'u1',
      name: 'admin',
      role: 'admin' as const,
      passwordHash: 'scrypt$x',
      createdAt: T0,
    };
    const viewer = {
      id: 'u2',
      name: 'vera',
      role: 'viewer' as const,
      passwordHash: 'scrypt$y',
      createdAt: T0 + 1,
    };
    await meta.insertUser(viewer);
    await meta.insertUser(admin);
    expect(await meta.countUsers()).toBe(2);
    expect(await meta.getUserByName('admin')).toEqual(admin);
    expect(await meta.getUser('u2')).toEqual(viewer);
    expect(await meta.getUser('u9')).toBeNull();
    expect((await meta.listUsers()).map((u) => u.name)).toEqual(['admin', 'vera']);
    const session = { id: 'h'.repeat(64), userId: 'u1', createdAt: T0, expiresAt: T0 + 3_600_000 };
    await meta.insertSession(session);
    expect(await meta.getSession(session.id)).toEqual(session);
    await meta.deleteSession(session.id);
    expect(await meta.getSession(session.id)).toBeNull();
  });

  it('people: roles per project, identities from the provider, sessions ended, the account log', async () => {
    const { meta } = await open();
    const person = { id: 'p1', name: 'pat', role: null, passwordHash: '', createdAt: T0 };
    const identity = { issuer: 'https://idp.test', subject: 'sub-1', userId: 'p1', email: 'pat@example.com' };
    await meta.insertUserWithIdentity(person, identity);
    expect(await meta.getUser('p1')).toEqual(person);
    expect(await meta.getIdentity('https://idp.test', 'sub-1')).toEqual(identity);
    expect(await meta.getIdentity('https://idp.test', 'sub-2')).toBeNull();
    expect(await meta.listIdentities()).toEqual([identity]);
    await meta.setIdentityEmail('https://idp.test', 'sub-1', 'pat@new.example');
    expect(await meta.getIdentity('https://idp.test', 'sub-1')).toEqual({
      ...identity,
      email: 'pat@new.example',
    });
    await meta.setIdentityEmail('https://idp.test', 'sub-1', identity.email);
    // A second user with the same identity is refused, and nothing of it is kept.
    await expect(
      meta.insertUserWithIdentity({ ...person, id: 'p2', name: 'pat2' }, { ...identity, userId: 'p2' }),
    ).rejects.toThrow();
    expect(await meta.getUser('p2')).toBeNull();

    expect(await meta.userProjectRoles('p1')).toEqual([]);
    await meta.setUserRoles('p1', {
      role: null,
      projects: [
        { project: 'search', role: 'viewer' },
        { project: 'checkout', role: 'admin' },
      ],
    });
    expect(await meta.userProjectRoles('p1')).toEqual([
      { project: 'checkout', role: 'admin' },
      { project: 'search', role: 'viewer' },
    ]);
    await meta.setUserRoles('p1', { role: 'viewer', projects: [] });
    expect(await meta.userProjectRoles('p1')).toEqual([]);
    expect((await meta.getUser('p1'))?.role).toBe('viewer');
    await meta.setUserPassword('p1', 'scrypt$z');
    expect((await meta.getUser('p1'))?.passwordHash).toBe('scrypt$z');

    for (const id of ['a'.repeat(64), 'b'.repeat(64)])
      await meta.insertSession({ id, userId: 'p1', createdAt: T0, expiresAt: T0 + 1 });
    expect(await meta.deleteUserSessions('p1')).toBe(2);
    expect(await meta.getSession('a'.repeat(64))).toBeNull();
    expect(await meta.deleteUserSessions('p1')).toBe(0);

    const event = { kind: 'sign_in' as const, actor: 'user:pat', address: '127.0.0.1', detail: 'oidc' };
    await meta.appendAccountEvent({ ...event, at: T0, user: 'pat' });
    await meta.appendAccountEvent({ ...event, at: T0 + 5, user: 'pat' });
    await meta.appendAccountEvent({ ...event, at: T0 + 7, user: 'vera', kind: 'role_change', address: null });
    expect((await meta.accountEvents({ limit: 10 })).map((e) => [e.user, e.at])).toEqual([
      ['vera', T0 + 7],
      ['pat', T0 + 5],
      ['pat', T0],
    ]);
    expect(await meta.accountEvents({ limit: 1, user: 'pat' })).toEqual([
      { ...event, at: T0 + 5, user: 'pat' },
    ]);
    expect(await meta.lastSignIns()).toEqual(new Map([['pat', T0 + 5]]));
  });

  it('LLM price lists: one document per project, replaced whole', async () => {
    const { meta } = await open();
    expect(await meta.llmPrices('p')).toBeNull();
    await meta.putLlmPrices('p', '{"prices":[{"model":"m","input":1}]}', T0);
    await meta.putLlmPrices('p', '{"prices":[]}', T0 + 1);
    await meta.putLlmPrices('q', '{"prices":[{"model":"x","input":2}]}', T0);
    expect(JSON.parse((await meta.llmPrices('p')) ?? 'null')).toEqual({ prices: [] });
    expect(JSON.parse((await meta.llmPrices('q')) ?? 'null')).toEqual({ prices: [{ model: 'x', input: 2 }] });
  });

  it('integrity snapshots: revisions of a day kept, the newest read by default', async () => {
    const { snapshots } = await open();
    const first = await snapshots.append({
      project: 'p',
      date: '2026-11-01',
      createdAt: T0,
      document: '{"n":1}',
    });
    expect(first.revision).toBe(1);
    expect(
      (await snapshots.append({ project: 'p', date: '2026-11-01', createdAt: T0 + 1, document: '{"n":2}' }))
        .revision,
    ).toBe(2);
    await snapshots.append({ project: 'p', date: '2026-11-02', createdAt: T0 + 2, document: '{"n":3}' });
    await snapshots.append({ project: 'q', date: '2026-11-01', createdAt: T0, document: '{"n":4}' });
    const newest = await snapshots.list('p', '2026-11-01', '2026-11-02');
    expect(newest.map((s) => [s.date, s.revision, JSON.parse(s.document).n])).toEqual([
      ['2026-11-01', 2, 2],
      ['2026-11-02', 1, 3],
    ]);
    const all = await snapshots.list('p', '2026-11-01', '2026-11-01', { allRevisions: true });
    expect(all.map((s) => s.revision)).toEqual([1, 2]);
    expect(all[0]).toEqual({ ...first, document: '{"n":1}' });
  });

  it('alert rules, defaults, settings and silences', async () => {
    const { alerts } = await open();
    const rule = (id: string, project: string, at: number) => ({
      id,
      project,
      createdAt: at,
      updatedAt: at,
      document: JSON.stringify({ name: id }),
    });
    await alerts.putRule(rule('r1', 'p', T0));
    await alerts.putRule(rule('r2', 'q', T0 + 1));
    await alerts.putRule({ ...rule('r1', 'p', T0), updatedAt: T0 + 9, document: '{"name":"renamed"}' });
    expect(await alerts.rule('r1')).toEqual({
      ...rule('r1', 'p', T0),
      updatedAt: T0 + 9,
      document: '{"name":"renamed"}',
    });
    expect((await alerts.rules('p')).map((r) => r.id)).toEqual(['r1']);
    expect((await alerts.rules(null)).map((r) => r.id)).toEqual(['r1', 'r2']);

    expect(await alerts.settings('p')).toBeNull();
    expect(await alerts.createDefaults('p', [rule('d1', 'p', T0 + 2), rule('d2', 'p', T0 + 3)], T0 + 2)).toBe(
      true,
    );
    expect(await alerts.createDefaults('p', [rule('d3', 'p', T0 + 4)], T0 + 4)).toBe(false);
    expect((await alerts.rules('p')).map((r) => r.id)).toEqual(['r1', 'd1', 'd2']);
    await alerts.putReceivers('p', '[{"url":"http://127.0.0.1:1/hook"}]');
    expect(await alerts.settings('p')).toEqual({
      project: 'p',
      defaultsCreatedAt: T0 + 2,
      receivers: '[{"url":"http://127.0.0.1:1/hook"}]',
    });

    const silence = {
      id: 's1',
      project: 'p',
      ruleId: 'r1',
      createdAt: T0,
      endsAt: T0 + 60_000,
      createdBy: 'admin',
      comment: 'deploy',
    };
    await alerts.putSilence(silence);
    await alerts.putSilence({ ...silence, id: 's2', project: 'q', ruleId: 'r2', comment: null });
    expect(await alerts.silences('p')).toEqual([silence]);
    expect(await alerts.silences(null, T0 + 60_000)).toEqual([]);
    expect(await alerts.silences(null, T0 + 59_999)).toHaveLength(2);
    expect(await alerts.deleteSilence('s2')).toBe(true);
    expect(await alerts.deleteSilence('s2')).toBe(false);

    // Deleting a rule takes its state and silences with it.
    await alerts.writeCycle({
      states: [{ ruleId: 'r1', project: 'p', updatedAt: T0, document: '{"status":"ok"}' }],
      alerts: [],
      transitions: [],
    });
    expect(await alerts.deleteRule('r1')).toBe(true);
    expect(await alerts.deleteRule('r1')).toBe(false);
    expect(await alerts.states()).toEqual([]);
    expect(await alerts.silences('p')).toEqual([]);
  });

  it('alert evaluation cycles: state, alerts and transitions written together, acknowledged once', async () => {
    const { alerts } = await open();
    const state = (at: number, status: string) => ({
      ruleId: 'r1',
      project: 'p',
      updatedAt: at,
      document: JSON.stringify({ status }),
    });
    const alert = (at: number, s: string) => ({
      alertId: 'a1',
      project: 'p',
      ruleId: 'r1',
      state: s,
      startedAt: T0,
      updatedAt: at,
      document: JSON.stringify({ state: s }),
    });
    await alerts.writeCycle({
      states: [state(T0, 'pending')],
      alerts: [alert(T0, 'pending')],
      transitions: [
        { project: 'p', alertId: 'a1', ruleId: 'r1', from: 'inactive', to: 'pending', at: T0, value: 7 },
      ],
    });
    await alerts.writeCycle({
      states: [state(T0 + 1, 'firing')],
      alerts: [alert(T0 + 1, 'firing'), { ...alert(T0 + 1, 'resolved'), alertId: 'a0', startedAt: T0 - 10 }],
      transitions: [
        { project: 'p', alertId: 'a1', ruleId: 'r1', from: 'pending', to: 'firing', at: T0 + 1, value: null },
      ],
    });
    expect(await alerts.states()).toEqual([state(T0 + 1, 'firing')]);
    expect(await alerts.alert('a1')).toEqual({
      ...alert(T0 + 1, 'firing'),
      acknowledgedAt: null,
      acknowledgedBy: null,
    });
    expect((await alerts.alerts({ project: 'p', limit: 10 })).map((a) => a.alertId)).toEqual(['a1', 'a0']);
    expect(
      (await alerts.alerts({ project: 'p', states: ['firing'], limit: 10 })).map((a) => a.alertId),
    ).toEqual(['a1']);
    expect((await alerts.alerts({ project: 'p', from: T0, limit: 10 })).map((a) => a.alertId)).toEqual([
      'a1',
    ]);
    expect(await alerts.alerts({ project: 'q', limit: 10 })).toEqual([]);
    expect((await alerts.transitions('a1')).map((t) => [t.from, t.to, t.value])).toEqual([
      ['inactive', 'pending', 7],
      ['pending', 'firing', null],
    ]);
    expect(await alerts.acknowledge('a1', 'admin', T0 + 5)).toBe(true);
    expect(await alerts.alert('a1')).toMatchObject({ acknowledgedAt: T0 + 5, acknowledgedBy: 'admin' });
    expect(await alerts.acknowledge('missing', 'admin', T0)).toBe(false);
    expect(await alerts.alert('missing')).toBeNull();
  });

  it('collectors: configs unique per project, the run log, the latest run with streaks, deployments, the public switch', async () => {
    const { collectors: c } = await open();
    const rec = {
      id: 'c1',
      project: 'p',
      name: 'agent-1',
      type: 'http-health',
      spec: '{"url":"http://127.0.0.1:1/health"}',
      secret: 'v1:sealed',
      createdAt: T0,
      updatedAt: T0,
    };
    expect(await c.insertCollector(rec)).toBe(true);
    expect(await c.insertCollector({ ...rec, id: 'c2' })).toBe(false);
    expect(await c.insertCollector({ ...rec, id: 'c3', project: 'q' })).toBe(true);
    expect((await c.listCollectors('p')).map((r) => [r.id, r.secret])).toEqual([['c1', 'v1:sealed']]);
    expect(await c.listCollectors(null)).toHaveLength(2);

    const run = (at: number, outcome: 'ok' | 'error' | 'timeout') => ({
      snapshotId: `s${at}`,
      project: 'p',
      collector: 'agent-1',
      type: 'http-health',
      startedAt: T0 + at,
      durationMs: 12.5,
      outcome,
      error: outcome === 'ok' ? null : 'boom',
      samples: outcome === 'ok' ? 3 : 0,
      result: outcome === 'ok' ? '{"status":"up"}' : null,
    });
    await c.recordRuns([run(1, 'ok')]);
    await c.recordRuns([run(2, 'error')]);
    await c.recordRuns([run(3, 'timeout')]);
    let [latest] = await c.latest('p');
    expect(latest).toMatchObject({ lastOkAt: T0 + 1, consecutiveFailures: 2, run: { snapshotId: 's3' } });
    await c.recordRuns([run(4, 'ok')]);
    [latest] = await c.latest('p');
    expect(latest).toMatchObject({ lastOkAt: T0 + 4, consecutiveFailures: 0 });
    expect(JSON.parse(latest?.run.result ?? 'null')).toEqual({ status: 'up' });
    expect((await c.runs('p', { limit: 10 })).map((r) => r.snapshotId)).toEqual(['s4', 's3', 's2', 's1']);
    expect((await c.runs('p', { collector: 'other', limit: 10 })).length).toBe(0);
    expect(await c.expireRuns(T0 + 3)).toBe(2);
    await c.forgetLatest('p', 'agent-1');
    expect(await c.latest('p')).toEqual([]);
    expect(await c.deleteCollector('p', 'agent-1')).toBe(true);
    expect(await c.deleteCollector('p', 'agent-1')).toBe(false);

    const deployment = {
      id: 'd1',
      project: 'p',
      service: 'api',
      version: '1.2.0',
      status: 'succeeded' as const,
      startedAt: T0,
      finishedAt: T0 + 5_000,
      receivedAt: T0 + 6_000,
      source: 'webhook',
    };
    await c.insertDeployment(deployment);
    await c.insertDeployment({
      ...deployment,
      id: 'd2',
      version: '1.3.0',
      status: 'started',
      startedAt: T0 + 60_000,
      finishedAt: null,
    });
    await c.insertDeployment({ ...deployment, id: 'd3', service: 'web' });
    expect(
      (await c.deployments('p', { service: 'api', limit: 10 })).map((d) => [d.id, d.finishedAt]),
    ).toEqual([
      ['d2', null],
      ['d1', T0 + 5_000],
    ]);
    expect(await c.deployments('p', { limit: 1 })).toHaveLength(1);

    expect(await c.publicEnabled('p')).toBe(true);
    await c.setPublicEnabled('p', false);
    expect(await c.publicEnabled('p')).toBe(false);
    expect(await c.publicEnabled('q')).toBe(true);
  });

  it('leases: one holder at a time, renewed by it, taken over once expired, released', async () => {
    const { leases } = await open();
    const ttlMs = 30_000;
    const take = (holder: string, now: number, name = 'alerts') => leases.take({ name, holder, now, ttlMs });
    expect(await leases.get('alerts')).toBeNull();
    expect(await take('i1', T0)).toEqual({ name: 'alerts', holder: 'i1', expiresAt: T0 + ttlMs, term: 1 });
    expect(await take('i2', T0 + 1_000)).toBeNull();
    // Taking it again is a renewal: same term, later expiry.
    expect(await take('i1', T0 + 2_000)).toMatchObject({ holder: 'i1', expiresAt: T0 + 32_000, term: 1 });
    expect(await leases.renew({ name: 'alerts', holder: 'i1', now: T0 + 10_000, ttlMs })).toEqual({
      name: 'alerts',
      holder: 'i1',
      expiresAt: T0 + 40_000,
      term: 1,
    });
    expect(await leases.renew({ name: 'alerts', holder: 'i2', now: T0 + 10_000, ttlMs })).toBeNull();
    // Names are independent.
    expect(await take('i2', T0, 'retention')).toMatchObject({ holder: 'i2', term: 1 });
    // At its expiry the lease is free: its holder can no longer renew it, another takes it.
    expect(await take('i2', T0 + 39_999)).toBeNull();
    expect(await leases.renew({ name: 'alerts', holder: 'i1', now: T0 + 40_000, ttlMs })).toBeNull();
    const taken = { name: 'alerts', holder: 'i2', expiresAt: T0 + 70_000, term: 2 };
    expect(await take('i2', T0 + 40_000)).toEqual(taken);
    expect(await leases.get('alerts')).toEqual(taken);
    // Released by its holder (only), it is free at once.
    expect(await leases.release({ name: 'alerts', holder: 'i1' })).toBe(false);
    expect(await leases.release({ name: 'alerts', holder: 'i2' })).toBe(true);
    expect(await leases.release({ name: 'alerts', holder: 'i2' })).toBe(false);
    expect(await take('i1', T0 + 41_000)).toEqual({
      name: 'alerts',
      holder: 'i1',
      expiresAt: T0 + 71_000,
      term: 3,
    });
    expect(await leases.get('retention')).toMatchObject({ holder: 'i2', term: 1 });
  });

  it('leases: of several takers at once, exactly one gets a free lease', async () => {
    const { leases } = await open();
    const holders = ['a', 'b', 'c', 'd', 'e', 'f'];
    const won = await Promise.all(
      holders.map((holder) => leases.take({ name: 'collectors', holder, now: T0, ttlMs: 1_000 })),
    );
    const winners = won.filter((l) => l !== null);
    expect(winners).toHaveLength(1);
    expect(await leases.get('collectors')).toEqual(winners[0]);
  });

  it('notices: every subscriber gets each notice published from then on, its own included, until it stops', async () => {
    const { notices } = await open();
    const first: CommitNotice[] = [];
    const second: CommitNotice[] = [];
    const stopFirst = await notices.subscribe((n) => first.push(n));
    const stopSecond = await notices.subscribe((n) => second.push(n));
    await notices.publish({ from: 'i1', projects: ['a', 'b'] });
    await notices.publish({ from: 'i2', projects: null });
    for (let i = 0; i < 100 && (first.length < 2 || second.length < 2); i++)
      await new Promise((r) => setTimeout(r, 20));
    const sent = [
      { from: 'i1', projects: ['a', 'b'] },
      { from: 'i2', projects: null },
    ];
    expect(first).toEqual(sent);
    expect(second).toEqual(sent);
    await stopFirst();
    await notices.publish({ from: 'i1', projects: ['c'] });
    for (let i = 0; i < 100 && second.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(second.at(-1)).toEqual({ from: 'i1', projects: ['c'] });
    expect(first).toHaveLength(2);
    await stopSecond();
  });

  it('migrations: at the latest version when opened, and each step reversible', async () => {
    const { migrations } = await open();
    const status = await migrations.status();
    expect(status.current).toBe(status.latest);
    expect(status.migrations.at(-1)).toMatchObject({ version: status.latest, appliedAt: expect.any(Number) });
    expect(await migrations.down()).toEqual([status.latest]);
    expect((await migrations.status()).current).toBe(status.latest - 1);
    expect(await migrations.up()).toEqual([status.latest]);
    await expect(migrations.up(status.latest + 1)).rejects.toMatchObject({
      code: 'invalid_migration_target',
    });
  });
}
