// Runtime API replies, in the RIE's shapes: 202 {"status":"OK"} and {"errorMessage","errorType"} bodies.
import type { ServerResponse } from 'node:http';

export function accepted(res: ServerResponse): void {
  send(res, 202, { status: 'OK' });
}

export function errorReply(
  res: ServerResponse,
  status: number,
  errorType: string,
  errorMessage: string,
): void {
  send(res, status, { errorMessage, errorType });
}

export const invalidRequestId = (res: ServerResponse) =>
  errorReply(res, 400, 'InvalidRequestID', 'Invalid request ID');

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
