// A web endpoint behind a function URL: GET /?name=Ada answers "Hello, Ada!" in plain text. The greeting
// comes from the manifest's environment, so editing it (and publishing) makes a new version to route to.
export const handler = async (event) => {
  const name = event.queryStringParameters?.name ?? 'world';
  return {
    statusCode: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    body: `${process.env.GREETING}, ${name}!\n`,
  };
};
