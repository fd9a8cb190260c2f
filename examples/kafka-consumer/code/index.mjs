// Processes a batch of Kafka records and reports the ones it could not handle by offset, so the mapping
// retries from the first of them (Lambda's ReportBatchItemFailures for streams).
export const handler = async (event) => {
  const batchItemFailures = [];
  for (const [partition, records] of Object.entries(event.records)) {
    for (const record of records) {
      const value = record.value === undefined ? null : Buffer.from(record.value, 'base64').toString('utf8');
      try {
        const order = JSON.parse(value);
        console.log(`${partition}@${record.offset}: order ${order.id} for ${order.amount}`);
      } catch {
        console.log(`${partition}@${record.offset}: not an order, will be retried`);
        batchItemFailures.push({ itemIdentifier: String(record.offset) });
      }
    }
  }
  return { batchItemFailures };
};
