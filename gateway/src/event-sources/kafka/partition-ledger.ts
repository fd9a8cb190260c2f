// What one partition has been handed and finished, so the committed offset only ever moves past records the
// function succeeded for (or that were discarded): the lowest unfinished offset, whatever order batches of
// different keys (parallelizationFactor) finish in.

export class PartitionLedger {
  /** Offsets received and not yet released by the watermark, in order. */
  private offsets: bigint[] = [];
  private head = 0;
  private readonly finished = new Set<bigint>();
  /** The next offset the fetcher should deliver; earlier ones are repeats (a refetch after a rebalance). */
  private next: bigint | undefined;
  /** The offset last committed, so an unchanged watermark is not committed again. */
  committed: bigint | undefined;
  leaderEpoch = 0;

  /** Records a received offset; false when it was received before (drop it). */
  receive(offset: bigint, leaderEpoch: number): boolean {
    if (this.next !== undefined && offset < this.next) return false;
    this.offsets.push(offset);
    this.next = offset + 1n;
    this.leaderEpoch = leaderEpoch;
    return true;
  }

  finish(offset: bigint): void {
    this.finished.add(offset);
  }

  /** The offset to commit (Kafka's next-to-read), or undefined when nothing new finished. */
  watermark(): bigint | undefined {
    while (this.head < this.offsets.length && this.finished.has(this.offsets[this.head]!)) {
      this.finished.delete(this.offsets[this.head]!);
      this.head++;
    }
    if (this.head > 4096) {
      this.offsets = this.offsets.slice(this.head);
      this.head = 0;
    }
    const mark = this.head < this.offsets.length ? this.offsets[this.head]! : this.next;
    return mark !== undefined && mark !== this.committed ? mark : undefined;
  }

  /** Received and not finished. */
  get inFlight(): number {
    return this.offsets.length - this.head - this.finished.size;
  }
}
