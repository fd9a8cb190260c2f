// Sends orders to the example's NATS stream, creating the stream ORDERS on first use:
//   node examples/queue-worker/send.mjs [count]
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const count = Number(process.argv[2] ?? 5);
const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
const jsm = await jetstreamManager(nc);
try {
  await jsm.streams.info('ORDERS');
} catch {
  await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'] });
}
const js = jetstream(nc);
for (let i = 1; i <= count; i++) {
  // Every fourth order is small (filtered out); every fifth has no id (reported as failed).
  const order = { id: i % 5 === 0 ? undefined : `o-${i}`, total: i % 4 === 0 ? 5 : 10 * i };
  const ack = await js.publish('orders.eu', JSON.stringify(order));
  console.log(`sent ${JSON.stringify(order)} as sequence ${ack.seq}`);
}
await nc.close();
