// Parses the FunctionName forms Lambda accepts: name, name:qualifier, partial ARN and full ARN.
import { ApiError } from '../../../apis/errors.ts';

export interface FunctionRef {
  namespace: string;
  name: string;
  qualifier?: string | undefined;
}

const NAME = /^[a-zA-Z0-9-_]{1,64}$/;
const QUALIFIER = /^(\$LATEST|[a-zA-Z0-9-_$]{1,128})$/;
const FULL_ARN = /^arn:(?:serval|aws[a-z-]*):lambda:([a-z0-9-]+):([^:]+):function:([^:]+)(?::([^:]+))?$/;
const PARTIAL_ARN = /^([^:]+):function:([^:]+)(?::([^:]+))?$/;
const NAME_WITH_QUALIFIER = /^([^:]+)(?::([^:]+))?$/;

function matchForms(raw: string, defaultNamespace: string): FunctionRef | undefined {
  const full = FULL_ARN.exec(raw);
  if (full) return { namespace: full[2]!, name: full[3]!, qualifier: full[4] };
  const partial = PARTIAL_ARN.exec(raw);
  if (partial) return { namespace: partial[1]!, name: partial[2]!, qualifier: partial[3] };
  const plain = NAME_WITH_QUALIFIER.exec(raw);
  return plain ? { namespace: defaultNamespace, name: plain[1]!, qualifier: plain[2] } : undefined;
}

export function parseFunctionRef(
  raw: string,
  qualifierParam: string | undefined,
  defaultNamespace: string,
): FunctionRef {
  const ref = matchForms(raw, defaultNamespace);
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
