// The NATS client takes no login from server URLs: the gateway splits user and password, or a token, off.
import { describe, expect, it } from 'vitest';
import { serversAndLogin } from './connection.ts';

describe('serversAndLogin', () => {
  it('reads user and password, or a token, and gives the servers without them', () => {
    expect(serversAndLogin('nats://esm:p%40ss@127.0.0.1:4222')).toEqual({
      servers: ['nats://127.0.0.1:4222'],
      user: 'esm',
      pass: 'p@ss',
    });
    expect(serversAndLogin('nats://s3cr3t@a:4222,nats://s3cr3t@b:4222')).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
      token: 's3cr3t',
    });
    expect(serversAndLogin('nats://a:4222,b:4222')).toEqual({ servers: ['nats://a:4222', 'b:4222'] });
  });
});
