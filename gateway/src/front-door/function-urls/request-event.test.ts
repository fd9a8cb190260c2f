import { describe, expect, it } from 'vitest';
import { functionUrlEvent, type UrlRequest } from './request-event.ts';

const request = (over: Partial<UrlRequest>): UrlRequest => ({
  method: 'GET',
  rawPath: '/',
  rawQueryString: '',
  headers: { host: ['example.test'] },
  body: Buffer.alloc(0),
  sourceIp: '198.51.100.4',
  protocol: 'HTTP/1.1',
  localPort: undefined,
  authType: 'JWT',
  urlId: 'u',
  domainName: 'u.example.test',
  namespace: 'team-a',
  requestId: 'r',
  now: new Date(0),
  ...over,
});

describe('functionUrlEvent', () => {
  // The front door serves plain HTTP today; a TLS listener in front of it must produce what AWS sends.
  it('over TLS: https, port 443 by default, and the x-amzn-tls-* parameters', () => {
    const event = functionUrlEvent(
      request({ tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' } }),
    ) as { headers: Record<string, string> };
    expect(event.headers).toMatchObject({
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      'x-amzn-tls-version': 'TLSv1.3',
      'x-amzn-tls-cipher-suite': 'TLS_AES_128_GCM_SHA256',
    });
  });

  it('a URL with a caller identity names the function owner account, not anonymous', () => {
    const event = functionUrlEvent(request({})) as { requestContext: { accountId: string } };
    expect(event.requestContext.accountId).toBe('team-a');
  });
});
