// Processes a batch of orders from the NATS event source mapping. An order without an id is reported back
// as failed, so JetStream redelivers it (up to maximumRetryAttempts), while the rest of the batch is acked.
export const handler = async (event) => {
  const batchItemFailures = [];
  for (const record of event.Records) {
    const order = JSON.parse(Buffer.from(record.nats.data, 'base64').toString('utf8'));
    if (!order.id) {
      console.log(
        `order at sequence ${record.nats.sequence} has no id (delivery ${record.nats.deliveryCount})`,
      );
      batchItemFailures.push({ itemIdentifier: String(record.nats.sequence) });
      continue;
    }
    console.log(`order ${order.id}: ${order.total} (subject ${record.nats.subject})`);
  }
  return { batchItemFailures };
};
