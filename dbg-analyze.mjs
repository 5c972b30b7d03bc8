import { startLocalCluster } from './dist/localnats/index.js';
import { startEngines } from './dist/cli/engine-fleet.js';
import { runSimulatedTracebacks } from './dist/cli/demo-run.js';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { decode } from 'msgpackr';
import { pino } from 'pino';
const logger = pino({ level: 'warn' });
const cluster = await startLocalCluster({ size: 3, install: true, logger });
const urls = cluster.urls;
const args = (i) => ['--nats', urls.join(','), '--replicas', '3', '--shards', '32', '--lease', '5s', '--id', `engine-${i}`, '--deadline', '5s'];
const fleet = await startEngines({ engines: [1, 2, 3].map((i) => ({ id: `engine-${i}`, args: args(i) })), logger, logDir: '/tmp/dbg/alog' });
try {
  const s = await runSimulatedTracebacks({ servers: urls, natsServer: cluster.version, tracebacks: 100, seed: 1, providers: 200, deadlineMs: 5000, concurrency: 50, maxHops: 15, logger });
  console.log(JSON.stringify(s.groundTruth), JSON.stringify(s.outcomes));
  const nc = await connect({ servers: urls });
  const js = jetstream(nc);
  const c = await js.consumers.get('TB_TRAILS');
  const it = await c.consume();
  const trails = [];
  for await (const m of it) { trails.push(decode(m.data)); if (m.info.pending === 0) break; }
  await it.close();
  const kv = await new Kvm(nc).open('tb_actors', { allow_direct: false });
  for (const t of trails.filter((t) => t.outcome === 'noncooperative')) {
    const last = t.hops.at(-1);
    const p = await kv.get(`provider.${last.provider}`);
    const ctx = decode(p.value).snapshot.context;
    console.log(t.tracebackId, last.provider, last.hopId, 'answered', ctx.stats.answered, 'missed', ctx.stats.missed, 'asked', ctx.stats.asked, 'recent', JSON.stringify(ctx.recent[last.hopId]));
  }
  await nc.close();
} finally {
  await fleet.stop(10000);
  await cluster.stop();
}
