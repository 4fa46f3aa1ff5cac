import type { FastifyError, FastifyInstance } from 'fastify';
import { ERRORS, type ErrorCode, VigilError } from '../errors/index.js';
import { StoreError } from '../store/index.js';

/** Maps every error to the catalog: a stable code, its status, `{"error":{"code","message"}}`. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | VigilError | StoreError, req, reply) => {
    const vigil =
      error instanceof VigilError
        ? error
        : error instanceof StoreError && error.code === 'unavailable'
          ? new VigilError('store_unavailable', { retryAfter: 5, cause: error })
          : error instanceof StoreError && error.code === 'out_of_memory'
            ? new VigilError('insufficient_memory', {
                message: `${ERRORS.insufficient_memory.message} The store said: ${error.message}.`,
                cause: error,
              })
            : error instanceof StoreError && error.code === 'unsupported'
              ? new VigilError('not_supported_by_store', { message: error.message, cause: error })
              : fromFastify(error as FastifyError);
    if (vigil.status >= 500 && vigil.code !== 'shutting_down' && vigil.code !== 'not_ready') {
      req.log.error({ err: error }, 'request failed');
    }
    if (vigil.retryAfter !== undefined) void reply.header('retry-after', String(vigil.retryAfter));
    return reply.status(vigil.status).send(vigil.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    const err = new VigilError('not_found', { message: `No route ${req.method} ${req.url.split('?')[0]}.` });
    return reply.status(err.status).send(err.toBody());
  });
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

/** The catalog error a Fastify error stands for (also used to count ingest rejections by code). */
export function fromFastify(error: FastifyError): VigilError {
  if (error.validation) {
    const where = error.validationContext === 'querystring' ? 'invalid_query' : 'invalid_body';
    const details = error.validation.slice(0, 3).map((v) => {
      const field =
        v.instancePath.replace(/^\//, '').replaceAll('/', '.') ||
        (v.params as { missingProperty?: string }).missingProperty ||
        error.validationContext;
      const allowed = (v.params as { allowedValues?: unknown[] }).allowedValues;
      return `${field}: ${v.message}${allowed ? ` (${allowed.join(', ')})` : ''}`;
    });
    return new VigilError(where, { message: [...new Set(details)].join('; ') });
  }
  const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
  if (mapped)
    return new VigilError(mapped, {
      message: mapped === 'invalid_json' ? `The body is not valid JSON: ${error.message}` : undefined,
    });
  if (error instanceof SyntaxError)
    return new VigilError('invalid_json', { message: `The body is not valid JSON: ${error.message}` });
  const status = error.statusCode ?? 500;
  if (status === 413) return new VigilError('payload_too_large');
  if (status === 415) return new VigilError('unsupported_media_type');
  if (status >= 400 && status < 500) return new VigilError('bad_request', { message: error.message });
  return new VigilError('internal', { cause: error });
}
