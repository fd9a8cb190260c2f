// Parses the FunctionName forms Lambda accepts: name, name:qualifier, partial ARN and full ARN. A full ARN
// names this gateway only in its own partition (`serval`, or `aws` as the AWS SDKs and CLI write it) and,
// when the caller knows it, its own region; any other is refused as Lambda refuses another region's.
import { ApiError } from '../../../apis/errors.ts';

export interface FunctionRef {
  namespace: string;
  name: string;
  qualifier?: string | undefined;
}

const NAME = /^[a-zA-Z0-9-_]{1,64}$/;
const QUALIFIER = /^(\$LATEST|[a-zA-Z0-9-_$]{1,128})$/;
const FULL_ARN = /^arn:([^:]*):lambda:([^:]*):([^:]+):function:([^:]+)(?::([^:]+))?$/;
/** The partitions that mean "this gateway". */
const OWN_PARTITIONS = new Set(['serval', 'aws']);
const PARTIAL_ARN = /^([^:]+):function:([^:]+)(?::([^:]+))?$/;
const NAME_WITH_QUALIFIER = /^([^:]+)(?::([^:]+))?$/;

function matchForms(
  raw: string,
  defaultNamespace: string,
  region: string | undefined,
): FunctionRef | undefined {
  const full = FULL_ARN.exec(raw);
  if (full) {
    const [, partition = '', arnRegion = ''] = full;
    if (!OWN_PARTITIONS.has(partition)) {
      throw new ApiError(
        'ResourceNotFoundException',
        `Functions from partition '${printable(partition)}' are not reachable from this gateway ('serval' or 'aws')`,
      );
    }
    if (region !== undefined && arnRegion !== region) {
      throw new ApiError(
        'ResourceNotFoundException',
        `Functions from '${printable(arnRegion)}' are not reachable in this region ('${region}')`,
      );
    }
    return { namespace: full[3]!, name: full[4]!, qualifier: full[5] };
  }
  const partial = PARTIAL_ARN.exec(raw);
  if (partial) return { namespace: partial[1]!, name: partial[2]!, qualifier: partial[3] };
  const plain = NAME_WITH_QUALIFIER.exec(raw);
  return plain ? { namespace: defaultNamespace, name: plain[1]!, qualifier: plain[2] } : undefined;
}

/** `region`, when given, must be the region a full ARN names (the gateway's own). */
export function parseFunctionRef(
  raw: string,
  qualifierParam: string | undefined,
  defaultNamespace: string,
  region?: string,
): FunctionRef {
  const ref = raw.length > 256 ? undefined : matchForms(raw, defaultNamespace, region);
  if (!ref || !NAME.test(ref.name) || raw.length > 256) {
    throw new ApiError(
      'InvalidParameterValueException',
      'FunctionName must be a function name (1-64 of [a-zA-Z0-9-_]), name:qualifier, or a function ARN',
    );
  }
  if (qualifierParam !== undefined && qualifierParam !== '') {
    if (ref.qualifier !== undefined && ref.qualifier !== qualifierParam) {
      throw new ApiError(
        'InvalidParameterValueException',
        'The derived qualifier from the function name does not match the specified qualifier.',
      );
    }
    ref.qualifier = qualifierParam;
  }
  if (ref.qualifier !== undefined && !QUALIFIER.test(ref.qualifier)) {
    throw new ApiError(
      'InvalidParameterValueException',
      'Qualifier must match \\$LATEST or [a-zA-Z0-9-_$]{1,128}',
    );
  }
  return ref;
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
