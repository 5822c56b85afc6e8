import { afterEach, describe, expect, it } from 'vitest';
import { dagSchema } from '../src/obshell/schema.js';
import {
  faultModes,
  startSimulator,
  type FaultMode,
  type Simulator,
  type SimulatorOptions,
} from '../src/simulator/index.js';
import { authedGet, get, getJson, publicKeyOf } from './helpers/http.js';
import { buildAuthHeader } from '../src/obshell/auth.js';
import { canary } from './helpers/canary.js';

const maintain = '/api/v1/task/dag/maintain/ob';
const started: Simulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function sim(fault: FaultMode | null, options: SimulatorOptions = {}): Promise<Simulator> {
  const s = await startSimulator({
    port: 0,
    scenario: 'seed',
    keyBits: 512,
    password: canary.root,
    fault,
    ...options,
  });
  started.push(s);
  return s;
}

/** A raw GET of the maintain route with a valid header (the body may not be JSON). */
async function rawMaintain(s: Simulator, path = maintain) {
  const publicKey = await publicKeyOf(s.url);
  const value = buildAuthHeader({
    publicKey,
    password: canary.root,
    uri: path,
    expiresAt: Date.now() / 1000 + 60,
  });
  return get(s.url, path, { headers: { 'x-ocs-header': value } });
}

const parses = (body: string) => {
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
};

describe('simulator fault modes', () => {
  it.each([
    ['unexpected_500', 500, 'Common.Unexpected'],
    ['not_hold', 500, 'Agent.OceanBase.NotHold'],
    ['process_not_exist', 500, 'OB.Server.Process.NotExist'],
    ['useless', 500, 'Agent.OceanBase.Useless'],
    ['wrong_password', 401, 'Security.Authentication.IncorrectOceanbasePassword'],
  ] as const)('%s answers %i %s', async (fault, status, errCode) => {
    const s = await sim(fault);
    const answer = await authedGet(s.url, maintain, { password: canary.root });
    expect([answer.status, answer.json.status, answer.json.successful]).toEqual([status, status, false]);
    expect(answer.json.error?.errCode).toBe(errCode);
    expect((await getJson(s.url, '/api/v1/info')).status).toBe(200);
  });

  it('html_502 answers like a proxy, before any auth', async () => {
    const s = await sim('html_502');
    const answer = await get(s.url, maintain);
    expect(answer.status).toBe(502);
    expect(answer.headers['content-type']).toBe('text/html');
    expect(answer.body).toContain('502 Bad Gateway');
  });

  it('api_unsuccessful is a 200 with successful:false', async () => {
    const { status, json } = await authedGet((await sim('api_unsuccessful')).url, maintain, {
      password: canary.root,
    });
    expect([status, json.successful, json.status]).toEqual([200, false, 200]);
    expect(json.error?.errCode).toBe('Common.Unexpected');
    expect(json.data).toBeUndefined();
  });

  it('non_json and truncated are 200 bodies that do not parse', async () => {
    const nonJson = await rawMaintain(await sim('non_json'));
    expect([nonJson.status, parses(nonJson.body)]).toEqual([200, false]);
    const truncated = await rawMaintain(await sim('truncated'));
    expect([truncated.status, parses(truncated.body)]).toEqual([200, false]);
    expect(truncated.body.startsWith('{"successful":true,"timestamp":"')).toBe(true);
    expect(truncated.body.length).toBeGreaterThan(1000);
  });

  it('wrong_types and missing_fields parse as JSON but violate the DAG schema', async () => {
    const wrong = await authedGet((await sim('wrong_types')).url, maintain, { password: canary.root });
    expect((wrong.json.data as { stage: unknown }).stage).toBe('9');
    expect(dagSchema.safeParse(wrong.json.data).success).toBe(false);
    const missing = await authedGet((await sim('missing_fields')).url, maintain, { password: canary.root });
    expect(missing.json.data).not.toHaveProperty('state');
    expect(dagSchema.safeParse(missing.json.data).success).toBe(false);
  });

  it('extra_fields and null_nodes are still valid DAGs', async () => {
    const extra = await authedGet((await sim('extra_fields')).url, maintain, { password: canary.root });
    expect(extra.json.data).toHaveProperty('dag_extra_39');
    expect(dagSchema.parse(extra.json.data)).toMatchObject({ id: '11', state: 'SUCCEED' });
    const nulls = await authedGet((await sim('null_nodes')).url, maintain, { password: canary.root });
    expect((nulls.json.data as { nodes: unknown }).nodes).toBeNull();
    expect(dagSchema.parse(nulls.json.data).nodes).toEqual([]);
  });

  it('deep_nesting nests additional_data 100000 levels deep in valid JSON text', async () => {
    const { status, body } = await rawMaintain(await sim('deep_nesting'));
    expect(status).toBe(200);
    expect(body.split('{"a":').length - 1).toBe(100_000);
    expect(body).toContain(`{}${'}'.repeat(100_000)}`);
    expect(body.endsWith('}}')).toBe(true);
  });

  it('huge streams a 50 MB valid JSON body', async () => {
    const { status, body } = await rawMaintain(await sim('huge', { scenario: 'none' }));
    expect(status).toBe(200);
    expect(body.length).toBeGreaterThanOrEqual(50 * 1024 * 1024);
    const logs = (JSON.parse(body) as { data: { nodes: { sub_tasks: { task_logs: string[] }[] }[] } }).data
      .nodes[0]!.sub_tasks[0]!.task_logs;
    expect(logs.length).toBeGreaterThan(200_000);
  });

  it('slow answers after its delay; a stalled one is ended by close()', async () => {
    const quick = await sim('slow', { slowMs: 150 });
    const t0 = Date.now();
    expect((await authedGet(quick.url, maintain, { password: canary.root })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    const stalled = await sim('slow');
    const pending = rawMaintain(stalled);
    const outcome = await Promise.race([pending.then(() => 'answered'), delay(300).then(() => 'waiting')]);
    expect(outcome).toBe('waiting');
    const closing = Date.now();
    await stalled.close();
    await expect(pending).rejects.toThrow();
    expect(Date.now() - closing).toBeLessThan(1000);
  });

  it('slowloris sends headers and part of the body, then stalls until close()', async () => {
    const s = await sim('slowloris');
    const pending = rawMaintain(s);
    expect(await Promise.race([pending.then(() => 'answered'), delay(300).then(() => 'waiting')])).toBe(
      'waiting',
    );
    await s.close();
    await expect(pending).rejects.toThrow(/aborted|hang up|ECONNRESET/);
  });

  it('reset destroys the connection without an answer', async () => {
    await expect(rawMaintain(await sim('reset'))).rejects.toThrow(/hang up|ECONNRESET/);
  });

  it('old_errors answers with pre-4.3.1 error objects', async () => {
    const s = await sim('old_errors', { scenario: 'none' });
    const wrong = await authedGet(s.url, maintain, { password: 'nope' });
    expect([wrong.status, wrong.json.error]).toEqual([401, { code: 10008, message: 'Unauthorized' }]);
    const noHeader = await getJson(s.url, maintain);
    expect([noHeader.status, noHeader.json.error]).toEqual([401, { code: 10008, message: 'Unauthorized' }]);
    const none = await authedGet(s.url, maintain, { password: canary.root });
    expect(none.status).toBe(404);
    expect(none.json.error).toEqual({
      code: 2300,
      message: 'Task not found: Cluster is not under maintenance',
    });
  });

  it('flap alternates ok and 500 on successive maintain requests; setFault(null) heals', async () => {
    const s = await sim('flap');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1)
      statuses.push((await authedGet(s.url, maintain, { password: canary.root })).status);
    expect(statuses).toEqual([200, 500, 200, 500]);
    s.setFault(null);
    expect((await authedGet(s.url, maintain, { password: canary.root })).status).toBe(200);
  });

  it('lists every fault mode this file exercises', () => {
    expect([...faultModes].sort()).toEqual(
      [
        'unexpected_500',
        'not_hold',
        'process_not_exist',
        'useless',
        'html_502',
        'api_unsuccessful',
        'non_json',
        'truncated',
        'wrong_types',
        'missing_fields',
        'extra_fields',
        'null_nodes',
        'deep_nesting',
        'huge',
        'slow',
        'slowloris',
        'reset',
        'wrong_password',
        'old_errors',
        'flap',
      ].sort(),
    );
  });
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
