// A minimal runtime interface client: the Lambda Runtime API loop at AWS_LAMBDA_RUNTIME_API, the handler named
// by the first argument (the image's CMD, `file.export`) and loaded from the working directory.
import { pathToFileURL } from 'node:url';

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const [file, name] = (process.argv[2] ?? '').split('.');
const handler = (await import(pathToFileURL(`/var/task/${file}.mjs`).href))[name];
const post = (path, body) =>
  fetch(`${api}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

for (;;) {
  const next = await fetch(`${api}/invocation/next`);
  const requestId = next.headers.get('lambda-runtime-aws-request-id');
  const event = await next.json();
  try {
    await post(`/invocation/${requestId}/response`, await handler(event, { awsRequestId: requestId }));
  } catch (err) {
    await post(`/invocation/${requestId}/error`, { errorType: err.name, errorMessage: err.message });
  }
}
