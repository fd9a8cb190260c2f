// Lambda's actions for the event source mapping API. As in IAM, Create and List have no resource of their
// own (a policy grants them on Resource "*"); Get, Update and Delete act on the mapping's ARN,
// arn:serval:lambda:<region>:<namespace>:event-source-mapping:<UUID>.

const MAPPINGS = /^\/2015-03-31\/event-source-mappings(?:\/([^/]+))?\/?$/;

export interface MappingOperation {
  action: string;
  /** The mapping a Get, Update or Delete names; absent for Create and List. */
  uuid?: string;
}

/** The operation of an event source mapping API request, or undefined when the path is not one. */
export function eventSourceMappingOperation(method: string, path: string): MappingOperation | undefined {
  const m = MAPPINGS.exec(path);
  if (!m) return undefined;
  const uuid = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
  if (uuid === undefined) {
    if (method === 'POST') return { action: 'lambda:CreateEventSourceMapping' };
    return method === 'GET' ? { action: 'lambda:ListEventSourceMappings' } : undefined;
  }
  const action = { GET: 'Get', PUT: 'Update', DELETE: 'Delete' }[method];
  return action ? { action: `lambda:${action}EventSourceMapping`, uuid } : undefined;
}

export function mappingArn(region: string, namespace: string, uuid: string): string {
  return `arn:serval:lambda:${region}:${namespace}:event-source-mapping:${uuid}`;
}
