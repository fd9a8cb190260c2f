// A Node handler that sends the raw requests it is given to its own environment's Runtime API and returns
// what came back: the agent is fuzzed from where a hostile function would attack it.
export const PROBER = `
import { connect } from 'node:net';
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const exchange = (bytes) => new Promise((resolve) => {
  const socket = connect(Number(port), host);
  let text = '';
  const timer = setTimeout(() => { socket.destroy(); resolve({ closed: false, text }); }, 5000);
  socket.on('data', (d) => { text += d.toString('latin1'); });
  socket.on('close', () => { clearTimeout(timer); resolve({ closed: true, text: text.slice(0, 2000) }); });
  socket.on('error', () => undefined);
  socket.write(bytes);
});
export const handler = async (event) => {
  const out = [];
  for (const raw of event.raw) out.push(await exchange(Buffer.from(raw, 'base64')));
  return out;
};`;
