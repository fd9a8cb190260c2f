// Returns the event it was invoked with.
export const handler = async (event) => event;
