// What every gateway listener (front door, internal, metrics) shares: request timeouts a slow client
// cannot stretch, a parse error answered without a stack, and a fence so that an exception thrown by any
// 'request' or 'upgrade' listener ends that one exchange, never the process.
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface ListenerTimeouts {
  /** Time a client has to send the request line and headers. */
  headersTimeoutSeconds: number;
  /** Time a client has to send the whole request, body included (the response may take as long as it needs). */
  requestTimeoutSeconds: number;
  /** Longest pause between two pieces of a request body. */
  bodyIdleTimeoutSeconds: number;
}

/** Options for `createServer`: Node checks its header and request deadlines every second, not every 30. */
export function listenerOptions(t: ListenerTimeouts): ServerOptions {
  return {
    headersTimeout: t.headersTimeoutSeconds * 1000,
    requestTimeout: t.requestTimeoutSeconds * 1000,
    connectionsCheckingInterval: 1000,
  };
}

const GUARDED = new Set(['request', 'upgrade']);

/** Fences a server's listeners and answers malformed requests itself. Returns the server. */
export function guardListener(
  server: Server,
  t: ListenerTimeouts,
  log: (line: string) => void,
  name: string,
): Server {
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  // Patching emit is the one place that sees every listener, including ones added by other modules.
  (server as { emit: typeof emit }).emit = (event, ...args) => {
    if (typeof event !== 'string' || !GUARDED.has(event)) return emit(event, ...args);
    try {
      return emit(event, ...args);
    } catch (err) {
      log(`${name} listener: ${event} handler failed: ${err instanceof Error ? err.message : String(err)}`);
      if (event === 'request') failRequest(args[1] as ServerResponse);
      else (args[1] as Duplex).destroy();
      return true;
    }
  };
  server.on('request', (req: IncomingMessage) => watchBodyIdle(req, t.bodyIdleTimeoutSeconds * 1000));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
  return server;
}

/** The response to a request whose handler threw: a bare 500 if nothing was sent yet, else a cut connection. */
export function failRequest(res: ServerResponse): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy();
    return;
  }
  try {
    // A half-set status line (e.g. a statusMessage with CR/LF) must not survive into this answer.
    res.statusMessage = 'Internal Server Error';
    for (const h of res.getHeaderNames()) res.removeHeader(h);
    const body = '{"Type":"Service","Message":"An internal error occurred"}';
    res.writeHead(500, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'x-amzn-ErrorType': 'ServiceException',
    });
    res.end(body);
  } catch {
    res.destroy();
  }
}

/**
 * Cuts a request whose body stalls: no byte from the client for `idleMs` while the gateway waits for
 * more. Once the body is in the timer is gone, so a long invocation or a streamed response is never cut.
 * Its own timer, not the socket's: Node keeps its keep-alive deadline on the socket timeout.
 */
function watchBodyIdle(req: IncomingMessage, idleMs: number): void {
  if (req.complete || idleMs <= 0) return;
  const socket = req.socket;
  const stop = () => {
    clearTimeout(timer);
    socket.off('data', bump);
  };
  const timer = setTimeout(() => {
    if (req.complete) return stop();
    // Bytes the gateway has not read yet: the wait is the gateway's, not the client's.
    if (req.readableLength > 0) return timer.refresh();
    stop();
    socket.destroy();
  }, idleMs).unref();
  const bump = () => timer.refresh();
  socket.on('data', bump);
  req.once('end', stop);
  req.once('close', stop);
}

const CLIENT_ERROR_STATUS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/** A request Node could not parse (or that timed out) gets a bare status line, never a body or a stack. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
