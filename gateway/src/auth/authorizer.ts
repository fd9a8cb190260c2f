// Who may invoke: the one object every front door asks. It authenticates the caller's bearer token, finds
// the function's resource policy and the caller's identity policies, and evaluates them (policy.ts).
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../../../apis/errors.ts';
import type { WireRequest } from '../../../apis/sigv4.ts';
import type { GatewayConfig } from '../config.ts';
import { type FunctionDefinition, functionArn } from '../registry/function-definition.ts';
import type { FunctionRegistry } from '../registry/function-registry.ts';
import type { KeyLookup } from './access-keys/access-key.ts';
import { AuthenticationError } from './authentication-error.ts';
import { Authenticator } from './authenticator.ts';
import { type FetchJwks, KeysUnavailableError } from './key-sources.ts';
import {
  type AuthorizationRequest,
  type CompiledIdentityPolicy,
  type CompiledStatement,
  compileIdentityPolicies,
  compileStatements,
  type Decision,
  evaluate,
  INVOKE_FUNCTION,
  INVOKE_FUNCTION_URL,
  ownResources,
  type Principal,
} from './policy.ts';
import { signedPrincipal } from './signed-requests.ts';
import { SignatureError } from './sigv4/signature-error.ts';
import { SignatureVerifier } from './sigv4/verifier.ts';

/** What authorization needs from an HTTP request. */
export interface Caller {
  authorization: string | string[] | undefined;
  /** The key holder, when the request's SigV4 signature verified (signed-requests.ts). */
  signedBy?: Principal | undefined;
  sourceIp: string;
  secureTransport: boolean;
}

export function callerOf(req: IncomingMessage): Caller {
  return {
    authorization: req.headersDistinct.authorization,
    signedBy: signedPrincipal(req),
    sourceIp: (req.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, ''),
    secureTransport: (req.socket as { encrypted?: boolean }).encrypted === true,
  };
}

export interface FunctionTarget {
  namespace: string;
  name: string;
  qualifier?: string | undefined;
}

export interface AuthorizerDeps {
  config: Pick<GatewayConfig, 'region' | 'auth'>;
  registry: FunctionRegistry;
  log: (line: string) => void;
  clock?: () => number;
  fetchJwks?: FetchJwks;
  /** Serval-issued access keys, for requests signed with SigV4. */
  accessKeys?: KeyLookup;
  /** Runs one authorization as a trace span (the observability module's `tracing.span`). */
  span?: <T>(name: string, attributes: Record<string, string>, fn: () => Promise<T>) => Promise<T>;
}

/** At most this many rejection lines per window, then one line saying how many were left out. */
const LOG_WINDOW_MS = 10_000;
const LOG_LINES_PER_WINDOW = 50;

export class Authorizer {
  readonly enabled: boolean;
  readonly authenticator: Authenticator;
  private readonly signatures: SignatureVerifier;
  private readonly config: AuthorizerDeps['config'];
  private readonly registry: FunctionRegistry;
  private readonly identity: CompiledIdentityPolicy[];
  private readonly compiled = new WeakMap<object, CompiledStatement[]>();
  private readonly log: (line: string) => void;
  private readonly clock: () => number;
  private readonly span: NonNullable<AuthorizerDeps['span']>;
  private window = { start: 0, lines: 0, dropped: 0 };

  constructor(deps: AuthorizerDeps) {
    this.config = deps.config;
    this.enabled = deps.config.auth.mode === 'on';
    this.registry = deps.registry;
    this.log = deps.log;
    this.clock = deps.clock ?? Date.now;
    this.span = deps.span ?? ((_name, _attributes, fn) => fn());
    this.authenticator = new Authenticator(deps.config.auth.issuers, deps);
    this.identity = compileIdentityPolicies(deps.config.auth.identityPolicies);
    this.signatures = new SignatureVerifier({
      region: deps.config.region,
      keys: deps.accessKeys ?? { get: () => undefined },
      clock: this.clock,
    });
  }

  /**
   * SigV4: the key holder once the signature over the request and its body verifies. Everything that
   * needs no body is checked before `readBody` runs, so only a fresh request naming a known key is read.
   */
  async authenticateSignature(
    request: WireRequest,
    sourceIp: string,
    readBody: () => Promise<Buffer>,
  ): Promise<Principal> {
    try {
      const pending = this.signatures.begin(request);
      return this.signatures.finish(pending, request, await readBody());
    } catch (err) {
      if (err instanceof SignatureError) {
        const key = err.accessKeyId ? ` (key ${err.accessKeyId})` : '';
        const path = request.url
          .split('?')[0]!
          .replace(/[^\x21-\x7e]/g, '?')
          .slice(0, 256);
        this.record(`auth: 403 sigv4 ${err.reason}${key} for ${request.method} ${path} from ${sourceIp}`);
      }
      throw err;
    }
  }

  /** What the gateway says about auth at start-up; with auth off, loudly. */
  startupNotice(url: string): string[] {
    const { auth } = this.config;
    if (this.enabled) {
      const names = auth.issuers.map((i) => i.name).join(', ');
      return [
        `auth: on; bearer JWTs from ${names}; ${auth.identityPolicies.length} identity policies (${auth.source})`,
      ];
    }
    return [
      '************************************************************************************',
      'WARNING: authentication is OFF.',
      `WARNING: anyone who can reach ${url} may invoke every function (Invoke API and`,
      'WARNING: function URLs), publish versions and move aliases. No policy is checked, and',
      'WARNING: function URLs with authType JWT refuse every request.',
      'WARNING: This is the embedded default for one machine. To turn auth on, set',
      'WARNING: SERVAL_AUTH_CONFIG to a file that lists token issuers (docs/auth.md).',
      '************************************************************************************',
    ];
  }

  /** The caller must hold `action` (lambda:InvokeFunction unless named) on the function ARN as called. */
  async authorizeFunction(
    caller: Caller,
    target: FunctionTarget,
    action: string = INVOKE_FUNCTION,
  ): Promise<Principal | undefined> {
    if (!this.enabled) return undefined;
    const resource = functionArn(this.config.region, target.namespace, target.name, target.qualifier);
    return this.span('auth', { 'serval.action': action }, () =>
      this.checkFunction(caller, action, resource, target),
    );
  }

  private async checkFunction(
    caller: Caller,
    action: string,
    resource: string,
    target: FunctionTarget,
  ): Promise<Principal | undefined> {
    const principal = await this.authenticate(caller, action, resource);
    this.decide(
      {
        action,
        resource,
        resourceNamespace: target.namespace,
        principal,
        sourceIp: caller.sourceIp,
        secureTransport: caller.secureTransport,
      },
      this.resourcePolicyOf(target.namespace, target.name),
    );
    return principal;
  }

  /**
   * A function URL: NONE admits anonymous callers only if the resource policy grants "*"; JWT needs a
   * verified token and a grant. Returns the principal of a JWT caller.
   */
  async authorizeFunctionUrl(
    caller: Caller,
    fn: FunctionDefinition,
    qualifier: string | undefined,
  ): Promise<Principal | undefined> {
    const authType = fn.spec.url?.authType ?? 'NONE';
    const resource = functionArn(this.config.region, fn.namespace, fn.name, qualifier);
    if (!this.enabled) {
      if (authType === 'NONE') return undefined;
      throw new ApiError(
        'AccessDeniedException',
        `Forbidden: ${resource} has a JWT function URL, and authentication is off on this gateway`,
      );
    }
    return this.span('auth', { 'serval.action': INVOKE_FUNCTION_URL }, () =>
      this.checkFunctionUrl(caller, fn, resource, authType),
    );
  }

  private async checkFunctionUrl(
    caller: Caller,
    fn: FunctionDefinition,
    resource: string,
    authType: 'NONE' | 'JWT',
  ): Promise<Principal | undefined> {
    const principal =
      authType === 'JWT' ? await this.authenticate(caller, INVOKE_FUNCTION_URL, resource) : undefined;
    this.decide(
      {
        action: INVOKE_FUNCTION_URL,
        resource,
        resourceNamespace: fn.namespace,
        principal,
        sourceIp: caller.sourceIp,
        secureTransport: caller.secureTransport,
        functionUrlAuthType: authType,
      },
      this.resourcePolicyOf(fn.namespace, fn.name),
    );
    return principal;
  }

  /** Operations with no function resource (the operator API): identity policies alone decide. */
  async authorizeGatewayOperation(caller: Caller, action: string, resource: string): Promise<void> {
    if (!this.enabled) return;
    const principal = await this.authenticate(caller, action, resource);
    this.decide(
      {
        action,
        resource,
        resourceNamespace: principal.namespace,
        principal,
        sourceIp: caller.sourceIp,
        secureTransport: caller.secureTransport,
      },
      [],
    );
  }

  private async authenticate(caller: Caller, action: string, resource: string): Promise<Principal> {
    if (caller.signedBy) return caller.signedBy;
    try {
      return await this.authenticator.authenticate(caller.authorization);
    } catch (err) {
      if (err instanceof AuthenticationError) {
        const issuer = err.issuerName ? ` (issuer ${err.issuerName})` : '';
        this.record(`auth: 401 ${err.reason}${issuer} for ${action} on ${resource} from ${caller.sourceIp}`);
      }
      if (err instanceof KeysUnavailableError) {
        throw new ApiError(
          'ServiceException',
          "The token issuer's keys could not be fetched; try again later",
        );
      }
      throw err;
    }
  }

  private decide(request: AuthorizationRequest, resourcePolicy: readonly CompiledStatement[]): void {
    const decision = evaluate(request, this.identity, resourcePolicy);
    if (decision.allowed) return;
    const who = request.principal?.id ?? 'anonymous';
    this.record(`auth: 403 ${who} ${request.action} on ${request.resource} (${decision.reason})`);
    throw new ApiError(
      'AccessDeniedException',
      `User: ${who} is not authorized to perform: ${request.action} on resource: ${request.resource} because ${because(decision, request)}`,
    );
  }

  /** The function's own policy, compiled once per spec object (a changed spec is a new object). */
  private resourcePolicyOf(namespace: string, name: string): readonly CompiledStatement[] {
    const policy = this.registry.get(namespace, name)?.spec.policy;
    if (!policy) return [];
    let compiled = this.compiled.get(policy);
    if (!compiled) {
      compiled = compileStatements(
        policy.statements,
        ownResources(functionArn(this.config.region, namespace, name)),
      );
      this.compiled.set(policy, compiled);
    }
    return compiled;
  }

  /** Rejections are logged, a bounded number per window so a flood cannot flood the log. */
  private record(line: string): void {
    const now = this.clock();
    if (now - this.window.start >= LOG_WINDOW_MS) {
      if (this.window.dropped > 0) this.log(`auth: ${this.window.dropped} more rejections were not logged`);
      this.window = { start: now, lines: 0, dropped: 0 };
    }
    if (this.window.lines < LOG_LINES_PER_WINDOW) {
      this.window.lines++;
      this.log(line);
    } else this.window.dropped++;
  }
}

function because(decision: Exclude<Decision, { allowed: true }>, request: AuthorizationRequest): string {
  switch (decision.reason) {
    case 'explicit-deny':
      return `an explicit deny in a${decision.in === 'identity' ? 'n identity' : ' resource'}-based policy`;
    case 'no-allow':
      return request.principal
        ? `no identity-based or resource-based policy allows the ${request.action} action`
        : `no resource-based policy allows the ${request.action} action for anonymous callers`;
    case 'needs-identity-allow':
    case 'needs-resource-allow':
      return `the caller is in namespace ${request.principal?.namespace} and a cross-namespace call needs both an identity-based and a resource-based allow; no ${decision.reason === 'needs-identity-allow' ? 'identity' : 'resource'}-based policy allows it`;
  }
}
