// `awslambda.HttpResponseStream`: prefixes a streamed body with the HTTP-integration prelude that carries status,
// headers and cookies for function URLs (reference §1.3).
import type { ResponseStream } from './response-stream.ts';

const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
// The prelude ends at eight NUL bytes, which is why the prelude itself may not contain one (JSON never does).
const DELIMITER = new Uint8Array(8);

/** What `from` needs of a stream; the runtime's ResponseStream has it. */
export type PreludeTarget = Pick<ResponseStream, 'setContentType' | '_onBeforeFirstWrite'>;

// A plain object rather than a static-only class; user code only ever calls `HttpResponseStream.from`.
export const HttpResponseStream = {
  from<T extends PreludeTarget>(stream: T, prelude: unknown): T {
    stream.setContentType(PRELUDE_CONTENT_TYPE);
    const json = JSON.stringify(prelude);
    stream._onBeforeFirstWrite = (write) => {
      write(json);
      write(DELIMITER);
    };
    return stream;
  },
};
