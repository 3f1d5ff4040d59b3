import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { authenticate, bearerToken, VIRTUAL_KEY_PREFIX } from '../../plugins/authenticate.js';
import { declareAccess } from '../../plugins/route-access.js';
import type { UserRole } from '../accounts/tables.js';
import type { QuotaLimits } from '../billing/index.js';
import type { VirtualKeyVerifier } from './keys-service.js';

/** Who calls /v1 and what their key allows. */
export interface V1Caller {
  userId: string;
  role: UserRole;
  /** Null when a signed-in person calls (the web studio) rather than a virtual key. */
  keyId: string | null;
  allowedModels: string[] | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  /** The key's budgets and daily request quota, checked by billing's metering (`limitsFor`); empty when none. */
  keyLimits: QuotaLimits;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: V1Caller;
  }
}

/** OpenAI SDKs send `Authorization: Bearer`, Anthropic SDKs send `x-api-key`; both are accepted. */
function presentedKey(request: FastifyRequest): string | undefined {
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey.trim();
  return bearerToken(request);
}

/**
 * Authenticates /v1 calls: a virtual key (verified from a short cache, no database round trip on the hot path),
 * or a signed-in person's access token through the accounts module. Signed-in calls (the web studio) are held to
 * the generation tier per person (`generation`, 60 a minute); virtual keys are limited by their own RPM/TPM.
 */
export function authenticateV1(
  verifier: VirtualKeyVerifier,
  generation?: (request: FastifyRequest, reply: FastifyReply) => Promise<void>,
) {
  const signedIn = authenticate();
  return declareAccess(
    async function authenticateV1Handler(request: FastifyRequest, reply: FastifyReply) {
      const key = presentedKey(request);
      if (key?.startsWith(VIRTUAL_KEY_PREFIX)) {
        const identity = await verifier.verify(key);
        if (!identity) throw new AppError('unauthenticated', 'This API key is unknown, revoked or expired.');
        request.auth = {
          userId: identity.userId,
          role: identity.role,
          keyId: identity.keyId,
          via: 'virtual_key',
        };
        request.caller = {
          userId: identity.userId,
          role: identity.role,
          keyId: identity.keyId,
          allowedModels: identity.allowedModels,
          rpmLimit: identity.rpmLimit,
          tpmLimit: identity.tpmLimit,
          keyLimits: identity.keyLimits,
        };
        return;
      }
      if (!key && !request.cookies?.webox_access) {
        throw new AppError(
          'unauthenticated',
          'Send an API key: Authorization: Bearer wbx_… (create one under API keys).',
        );
      }
      await signedIn(request, reply);
      await generation?.(request, reply);
      request.caller = {
        userId: request.auth.userId,
        role: request.auth.role,
        keyId: null,
        allowedModels: null,
        rpmLimit: null,
        tpmLimit: null,
        keyLimits: {},
      };
    },
    { kind: 'signed_in', virtualKeys: true, allowMissingTwoFactor: false },
  );
}
