// The tenant id of an invocation (reference §14.6): required by a function in tenant isolation mode, refused
// by any other, and 1–256 characters of Lambda's set. Every way in that can carry one checks it here.
import { ApiError } from '../../../apis/errors.ts';
import type { FunctionDefinition } from '../registry/function-definition.ts';

const TENANT_ID = /^[a-zA-Z0-9._:/=+\-@ ]{1,256}$/;

/** The tenant id `fn` runs this invocation for; undefined for a function without tenant isolation. */
export function tenantIdFor(fn: FunctionDefinition, header: string | undefined): string | undefined {
  if (!fn.spec.tenancy) {
    if (header === undefined) return undefined;
    throw new ApiError(
      'InvalidParameterValueException',
      `TenantId: function ${fn.name} does not use tenant isolation mode; invoke it without X-Amz-Tenant-Id`,
    );
  }
  if (header === undefined || header === '') {
    throw new ApiError(
      'InvalidParameterValueException',
      `TenantId: function ${fn.name} uses tenant isolation mode PER_TENANT; X-Amz-Tenant-Id is required`,
    );
  }
  if (!TENANT_ID.test(header)) {
    throw new ApiError(
      'InvalidParameterValueException',
      'TenantId: must be 1 to 256 characters of letters, digits, spaces and . _ : / = + - @',
    );
  }
  return header;
}
