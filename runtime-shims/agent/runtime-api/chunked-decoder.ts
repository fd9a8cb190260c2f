// Follows an HTTP/1.1 chunked body (RFC 9112 §7.1) as its bytes arrive: where each chunk's data lies, and
// where the body ends. The Runtime API's tap (upload-tap.ts) uses it to take a streamed /response's data
// straight from the socket's read buffer, and to find the end of every other chunked body it passes on.

/** What one step of the decoder found in the bytes it was given. */
export interface ChunkedEvents {
  /** Chunk data, a slice of the bytes given (lent: valid during the call). */
  data(slice: Buffer): void;
  /** The last chunk's size line is over: what follows is the trailer section, `trailer` byte by byte. */
  trailer(slice: Buffer): void;
}

type State = 'size' | 'ext' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done' | 'broken';

/** More hex digits than this is no size a runtime sends (2^60 bytes): a malformed or hostile body. */
const MAX_SIZE_DIGITS = 15;
/** A trailer section is a couple of headers; this much is no trailer of a Lambda runtime. */
export const MAX_TRAILER_BYTES = 64 * 1024;

export class ChunkedDecoder {
  private state: State = 'size';
  private size = 0;
  private digits = 0;
  private left = 0;
  private trailerBytes = 0;
  /** Characters of the trailer line under way (0 at a line's start): an empty line ends the section. */
  private lineChars = 0;

  get done(): boolean {
    return this.state === 'done';
  }

  get broken(): boolean {
    return this.state === 'broken';
  }

  /** Reads from `at`; returns where the body ended (the next request's first byte), or bytes.length. */
  feed(bytes: Buffer, at: number, events: ChunkedEvents): number {
    let i = at;
    while (i < bytes.length && this.state !== 'done' && this.state !== 'broken') {
      if (this.state === 'data') {
        const n = Math.min(this.left, bytes.length - i);
        events.data(bytes.subarray(i, i + n));
        this.left -= n;
        i += n;
        if (this.left === 0) this.state = 'data-cr';
        continue;
      }
      if (this.state === 'trailer') {
        const end = this.trailerEnd(bytes, i);
        events.trailer(bytes.subarray(i, end));
        this.trailerBytes += end - i;
        i = end;
        if (this.trailerBytes > MAX_TRAILER_BYTES) this.state = 'broken';
        continue;
      }
      this.step(bytes[i]!);
      i++;
    }
    return i;
  }

  /** One byte of a size line or of the CRLF after a chunk's data. */
  private step(byte: number): void {
    switch (this.state) {
      case 'size': {
        const digit = hexValue(byte);
        if (digit >= 0 && this.digits < MAX_SIZE_DIGITS) {
          this.size = this.size * 16 + digit;
          this.digits++;
        } else if (this.digits > 0 && byte === 0x3b /* ; */) this.state = 'ext';
        else if (this.digits > 0 && byte === 0x0d) this.state = 'size-lf';
        else this.state = 'broken';
        return;
      }
      case 'ext':
        // Extensions mean nothing to the Runtime API; any visible text up to the line's end is skipped.
        if (byte === 0x0d) this.state = 'size-lf';
        else if (byte < 0x20 && byte !== 0x09) this.state = 'broken';
        return;
      case 'size-lf':
        if (byte !== 0x0a) this.state = 'broken';
        else if (this.size === 0) {
          this.state = 'trailer';
          this.lineChars = 0;
        } else {
          this.left = this.size;
          this.state = 'data';
        }
        return;
      case 'data-cr':
        this.state = byte === 0x0d ? 'data-lf' : 'broken';
        return;
      case 'data-lf':
        if (byte !== 0x0a) {
          this.state = 'broken';
          return;
        }
        this.state = 'size';
        this.size = 0;
        this.digits = 0;
        return;
      default:
        this.state = 'broken';
    }
  }

  /** Where the trailer section ends within `bytes` (after its empty line), or bytes.length. */
  private trailerEnd(bytes: Buffer, from: number): number {
    for (let i = from; i < bytes.length; i++) {
      const byte = bytes[i]!;
      if (byte === 0x0a) {
        if (this.lineChars === 0) {
          this.state = 'done';
          return i + 1;
        }
        this.lineChars = 0;
      } else if (byte !== 0x0d) this.lineChars++;
    }
    return bytes.length;
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}
