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

/** `/v1/*` speaks OpenAI's error shape so OpenAI and Anthropic SDKs understand it; the rest speaks ours. */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  if (error.options.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.options.retryAfterSeconds))));
  }
  reply.code(error.status);
  if (request.url.startsWith('/v1/')) {
    return reply.send({
      error: { type: openAiErrorType(error.status), code: error.code, message: error.message, param: null },
    });
  }
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
