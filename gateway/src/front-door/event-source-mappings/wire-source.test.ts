// How the mapping API names a source's Secret: a BASIC_AUTH source access configuration, read into the spec
// and written back, for SQS keys and NATS URLs as for RabbitMQ; a NATS URL's password or token never shown.
import { describe, expect, it } from 'vitest';
import { sourceFromWire, sourceToWire } from './wire-source.ts';

const basicAuth = (name: string) => [{ Type: 'BASIC_AUTH', URI: name }];

describe('wire sources', () => {
  it('an SQS queue with a BASIC_AUTH Secret has a credentialsSecretRef, and back', () => {
    const source = sourceFromWire({
      EventSourceArn: 'arn:aws:sqs:eu-west-1:123456789012:orders',
      SourceAccessConfigurations: basicAuth('sqs-keys'),
    });
    expect(source).toEqual({
      sqs: {
        queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders',
        credentialsSecretRef: { name: 'sqs-keys' },
      },
    });
    expect(sourceToWire(source!)).toEqual({
      EventSourceArn: 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders',
      SourceAccessConfigurations: basicAuth('sqs-keys'),
    });
    expect(sourceFromWire({ EventSourceArn: 'http://127.0.0.1:9324/000000000000/q' })).toEqual({
      sqs: { queueUrl: 'http://127.0.0.1:9324/000000000000/q' },
    });
  });

  it('a NATS source with a BASIC_AUTH Secret reads its URL from it, and back', () => {
    const source = sourceFromWire({
      EventSourceArn: 'nats://',
      Topics: ['orders.>'],
      Queues: ['ORDERS'],
      SourceAccessConfigurations: basicAuth('nats-login'),
    });
    expect(source).toEqual({
      nats: { secretRef: { name: 'nats-login', key: 'url' }, subject: 'orders.>', stream: 'ORDERS' },
    });
    expect(sourceToWire(source!)).toEqual({
      EventSourceArn: 'nats://',
      Topics: ['orders.>'],
      Queues: ['ORDERS'],
      SourceAccessConfigurations: basicAuth('nats-login'),
    });
  });

  it("never shows a NATS URL's password or token", () => {
    const shown = (url: string) => sourceToWire({ nats: { url, subject: 's' } }).EventSourceArn;
    expect(shown('nats://user:secret@nats:4222')).toBe('nats://user:****@nats:4222');
    expect(shown('nats://s3cr3t-token@nats:4222')).toBe('nats://****@nats:4222');
    expect(shown('nats://nats:4222')).toBe('nats://nats:4222');
  });
});
