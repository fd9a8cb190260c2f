// The handlers the real-node test invokes: they report what the image's environment looks like.
let calls = 0;

const seen = (event, handler) => ({
  handler,
  event,
  calls: ++calls,
  pid: process.pid,
  cwd: process.cwd(),
  uid: process.getuid(),
  argv: process.argv.slice(2),
  env: {
    AWS_LAMBDA_FUNCTION_NAME: process.env.AWS_LAMBDA_FUNCTION_NAME,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    LAMBDA_TASK_ROOT: process.env.LAMBDA_TASK_ROOT,
    _HANDLER: process.env._HANDLER,
    GREETING: process.env.GREETING,
  },
});

export const handler = async (event) => seen(event, 'app.handler');

export const shout = async (event) => {
  if (event.fail) throw new TypeError('asked to fail');
  if (event.exit) process.exit(3);
  return seen(event, 'app.shout');
};
