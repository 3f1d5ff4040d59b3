import { GatewayError } from '@webox/gateway';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, type ErrorDetail, openAiErrorType } from '../errors.js';

/** Fastify's own error codes that are the client's fault, mapped to ours. */
const fastifyCodes: Record<string, () => AppError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: () => new AppError('invalid_json', 'The request body is not valid JSON.'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () =>
    new AppError('invalid_json', 'The request body is empty but the content type says JSON.'),
  FST_ERR_CTP_BODY_TOO_LARGE: () =>
    new AppError('payload_too_large', 'The request body is larger than allowed.'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new AppError('unsupported_media_type', 'This content type is not accepted here; send application/json.'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () =>
    new AppError('validation_failed', 'The Content-Length header does not match the body.'),
  FST_ERR_CTP_INVALID_TYPE: () =>
    new AppError('unsupported_media_type', 'The content type header is malformed.'),
};

/** Turns anything thrown into an AppError whose message is safe to show. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const part = (error as FastifyError).validationContext ?? 'body';
    const details: ErrorDetail[] = error.validation.map((issue) => ({
      path: [part, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
      message: issue.message ?? 'is invalid',
    }));
    return new AppError('validation_failed', 'The request is not valid.', { details });
  }
  const fastifyError = error as Partial<FastifyError> | undefined;
  const mapped = fastifyError?.code ? fastifyCodes[fastifyError.code] : undefined;
  if (mapped) return mapped();
  if (fastifyError?.statusCode === 404) return new AppError('not_found', 'Not found.');
  if (fastifyError?.statusCode === 413)
    return new AppError('payload_too_large', 'The request body is larger than allowed.');
  if (fastifyError?.statusCode === 415) {
    return new AppError(
      'unsupported_media_type',
      'This content type is not accepted here; send application/json.',
    );
  }
  if (fastifyError?.statusCode === 503)
    return new AppError('service_unavailable', 'The server is shutting down.');
  if (fastifyError?.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new AppError('validation_failed', 'The request is not valid.');
  }
  return new AppError(
    'internal_error',
    'Something went wrong on our side. The request id identifies it in our logs.',
    {
      cause: error,
    },
  );
}

/**
 * `/v1/*` speaks OpenAI's error shape so OpenAI SDKs understand it; `/v1/messages` adds Anthropic's top-level
 * `type: "error"` so Anthropic SDKs do too. The rest speaks ours.
 */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: AppError | GatewayError,
): FastifyReply {
  const retryAfterSeconds =
    error instanceof GatewayError
      ? error.retryAfterMs !== undefined
        ? error.retryAfterMs / 1000
        : undefined
      : error.options.retryAfterSeconds;
  if (retryAfterSeconds !== undefined)
    reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  // The OpenAI and Anthropic SDKs send a request again on any 5xx unless this header says not to. After a provider's
  // 2xx the gateway sends nothing again, as the provider may have done and billed the work; a client must not either.
  if (error instanceof GatewayError && error.code === 'upstream_invalid_response')
    reply.header('x-should-retry', 'false');
  reply.code(error.status);
  if (request.url.startsWith('/v1/')) {
    const type = error instanceof GatewayError ? error.type : openAiErrorType(error.status);
    const body = { error: { type, code: error.code, message: error.message, param: null as string | null } };
    if (error instanceof GatewayError && error.param) body.error.param = error.param;
    // As OpenAI does, a refused body names the parameter at fault (`messages`, `model`, `messages.0.content`).
    const details = error instanceof AppError ? error.options.details : undefined;
    const fault = Array.isArray(details) ? details[0]?.path : undefined;
    if (fault?.startsWith('body.')) body.error.param = fault.slice('body.'.length);
    return reply.send(request.url.startsWith('/v1/messages') ? { type: 'error', ...body } : body);
  }
  if (error instanceof GatewayError)
    return reply.send({ error: { code: error.code, message: error.message } });
  const body: { code: string; message: string; details?: unknown } = {
    code: error.code,
    message: error.message,
  };
  if (error.options.details) body.details = error.options.details;
  return reply.send({ error: body });
}

export function registerErrorHandling(
  app: FastifyInstance,
  options: { spaFallback?: (request: FastifyRequest, reply: FastifyReply) => boolean },
) {
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof GatewayError) {
      // Upstream trouble is ours to watch, not a bug: logged as a warning with the provider, never its body.
      if (error.status >= 500)
        request.log.warn(
          { code: error.code, provider: error.provider, upstreamStatus: error.upstreamStatus },
          'upstream failed',
        );
      return sendError(request, reply, error);
    }
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code }, 'request refused');
    return sendError(request, reply, appError);
  });

  app.setNotFoundHandler((request, reply) => {
    if (options.spaFallback?.(request, reply)) return reply;
    return sendError(
      request,
      reply,
      new AppError('not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`),
    );
  });
}
