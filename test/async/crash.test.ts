// Accepted means kept, even through SIGKILL. For each backend: 5,000 events to a function that records every
// id it runs; the gateway process is killed midway; a new one starts on the same store. Every id must run at
// least once. Calls the dead gateway never answered with 202 are sent again, as a client would. Duplicates
// are expected (at least once) and reported.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { fixture, functionManifest, REPO_ROOT, testDataRoot } from '../support/serval.ts';

const EVENTS = 5000;
const SENDERS = 32;
const KILL_AFTER_PROCESSED = 1500;

interface Gateway {
  url: string;
  child: ChildProcess;
}

async function startGatewayProcess(manifests: string, env: Record<string, string>): Promise<Gateway> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/serval.mjs'), 'dev', manifests], {
    env: { ...process.env, SERVAL_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (c) => {
    output += c;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), 20_000);
    child.stdout?.on('data', (c) => {
      output += c;
      const match = /Serval is listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${output}`));
    });
  });
  // Keep draining the pipes so a chatty gateway never blocks on a full one.
  child.stdout?.resume();
  return { url, child };
}

function processedIds(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

describe.each(natsAvailable ? (['sqlite', 'nats'] as const) : (['sqlite'] as const))(
  'crash safety with %s',
  (backend) => {
    let nats: TestNats | undefined;
    let gateway: Gateway | undefined;
    const work = mkdtempSync(join(testDataRoot(), `crash-${backend}-`));

    afterAll(async () => {
      const child = gateway?.child;
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await nats?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    it(`runs every one of ${EVENTS} accepted events at least once across a SIGKILL`, async () => {
      const records = join(work, 'records');
      const manifests = join(work, 'manifests');
      mkdirSync(records, { recursive: true });
      mkdirSync(manifests, { recursive: true });
      const fn = functionManifest({
        name: 'recorder',
        runtime: 'nodejs24.x',
        handler: 'index.record',
        codePath: fixture('node', 'async'),
        environment: { RECORD_DIR: records },
      });
      writeFileSync(join(manifests, 'recorder.yaml'), stringify(fn));
      const env: Record<string, string> = {
        SERVAL_DATA_DIR: join(work, 'data'),
        SERVAL_QUEUE: backend,
        // The function writes what it ran here, for the test to read (docs/security.md).
        SERVAL_LOCAL_SHARED_DIRS: records,
      };
      if (backend === 'nats') {
        nats = await startNats();
        env.SERVAL_NATS_URL = nats.url;
        env.SERVAL_NATS_ACK_WAIT_SECONDS = '2';
      }
      const log = join(records, 'processed.log');

      gateway = await startGatewayProcess(manifests, env);
      const pending = Array.from({ length: EVENTS }, (_, i) => `e-${i}`);
      const unanswered: string[] = [];
      let accepted = 0;
      let killed = false;

      const send = async (url: string, id: string): Promise<boolean> => {
        try {
          const res = await fetch(`${url}/2015-03-31/functions/recorder/invocations`, {
            method: 'POST',
            headers: { 'X-Amz-Invocation-Type': 'Event' },
            body: JSON.stringify({ id }),
          });
          await res.arrayBuffer();
          return res.status === 202;
        } catch {
          return false;
        }
      };
      const first = gateway;
      const senders = Array.from({ length: SENDERS }, async () => {
        for (let id = pending.shift(); id !== undefined; id = pending.shift()) {
          if (await send(first.url, id)) accepted++;
          else unanswered.push(id);
        }
      });
      // Kill once the function is well into the events, whatever the senders are doing at that moment.
      const killer = (async () => {
        while (processedIds(log).length < KILL_AFTER_PROCESSED) await new Promise((r) => setTimeout(r, 20));
        first.child.kill('SIGKILL');
        killed = true;
      })();
      await killer;
      await Promise.all(senders);
      const processedBeforeKill = processedIds(log).length;
      expect(killed).toBe(true);

      gateway = await startGatewayProcess(manifests, env);
      for (const id of unanswered.splice(0)) {
        expect(await send(gateway.url, id)).toBe(true);
        accepted++;
      }
      expect(accepted).toBeGreaterThanOrEqual(EVENTS);

      const until = Date.now() + 120_000;
      let ids = processedIds(log);
      while (new Set(ids).size < EVENTS && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        ids = processedIds(log);
      }
      const unique = new Set(ids);
      const missing = Array.from({ length: EVENTS }, (_, i) => `e-${i}`).filter((id) => !unique.has(id));
      const duplicates = ids.length - unique.size;
      console.log(
        `[${backend}] ${EVENTS} events; ${processedBeforeKill} runs before SIGKILL; ` +
          `${ids.length} runs in all; ${missing.length} lost; ${duplicates} duplicates`,
      );
      expect(missing).toEqual([]);
      // Every event has run, but redeliveries of ones the killed gateway ran and never acknowledged can still
      // be queued (NATS gives them back after the ack wait): the queue drains to empty, it is not empty at once.
      const url = gateway.url;
      const depth = async () =>
        ((await (await fetch(`${url}/serval/v1/async/stats`)).json()) as { depth: number }).depth;
      await expect.poll(depth, { timeout: 60_000, interval: 250 }).toBe(0);
    }, 240_000);
  },
);
