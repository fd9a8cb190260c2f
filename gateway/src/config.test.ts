import { describe, expect, it } from 'vitest';
import { ConfigError, parseGatewayConfig } from './config.ts';

describe('request deadlines', () => {
  it('default to 10 s for headers, 30 s for a request and 10 s for a pause in a body', () => {
    expect(parseGatewayConfig({})).toMatchObject({
      headersTimeoutSeconds: 10,
      requestTimeoutSeconds: 30,
      bodyIdleTimeoutSeconds: 10,
    });
  });

  it('are read from the environment', () => {
    const config = parseGatewayConfig({
      SERVAL_HEADERS_TIMEOUT_SECONDS: '5',
      SERVAL_REQUEST_TIMEOUT_SECONDS: '120',
      SERVAL_BODY_IDLE_TIMEOUT_SECONDS: '3',
    });
    expect(config).toMatchObject({
      headersTimeoutSeconds: 5,
      requestTimeoutSeconds: 120,
      bodyIdleTimeoutSeconds: 3,
    });
  });

  it.each([
    [{ SERVAL_HEADERS_TIMEOUT_SECONDS: '0' }],
    [{ SERVAL_REQUEST_TIMEOUT_SECONDS: 'soon' }],
    [{ SERVAL_HEADERS_TIMEOUT_SECONDS: '40', SERVAL_REQUEST_TIMEOUT_SECONDS: '30' }],
  ])('refuse %j', (env) => {
    expect(() => parseGatewayConfig(env)).toThrow(ConfigError);
  });
});
