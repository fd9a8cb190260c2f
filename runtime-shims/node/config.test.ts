import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from './config.ts';

describe('readConfig', () => {
  it('reads Lambda variables with defaults', () => {
    const config = readConfig(
      { AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001', _HANDLER: 'index.handler' },
      '/var/task',
    );
    expect(config).toMatchObject({
      runtimeApi: '127.0.0.1:9001',
      handler: 'index.handler',
      taskRoot: '/var/task',
      logFormat: 'Text',
      logLevel: 'TRACE',
      defineGlobalAwsLambda: true,
      warnOnCallbackHandler: true,
    });
  });

  it('applies the log level only with JSON format', () => {
    const base = { AWS_LAMBDA_RUNTIME_API: 'h:1', AWS_LAMBDA_LOG_LEVEL: 'warn' };
    expect(readConfig({ ...base, AWS_LAMBDA_LOG_FORMAT: 'JSON' }, '/').logLevel).toBe('WARN');
    expect(readConfig({ ...base, AWS_LAMBDA_LOG_FORMAT: 'Text' }, '/').logLevel).toBe('TRACE');
    expect(
      readConfig({ ...base, AWS_LAMBDA_LOG_FORMAT: 'json', AWS_LAMBDA_LOG_LEVEL: 'loud' }, '/').logLevel,
    ).toBe('TRACE');
  });

  it('honours the official client switches', () => {
    const config = readConfig(
      {
        AWS_LAMBDA_RUNTIME_API: 'h:1',
        AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA: 'true',
        AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING: '',
        LAMBDA_TASK_ROOT: '/code',
      },
      '/elsewhere',
    );
    expect(config).toMatchObject({
      defineGlobalAwsLambda: false,
      warnOnCallbackHandler: false,
      taskRoot: '/code',
    });
  });

  it('fails fast without a Runtime API address', () => {
    expect(() => readConfig({}, '/')).toThrow(ConfigError);
  });
});
