import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, apiRequest, fetchJson, toApiError } from './client';

function answer(status: number, body: unknown): Response {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('toApiError', () => {
  it('reads code, message and field details', () => {
    const error = toApiError(400, {
      error: {
        code: 'validation_failed',
        message: 'Invalid body',
        details: [
          { path: 'password', message: 'Too short' },
          { path: ['body', 'email'], message: 'Invalid' },
        ],
      },
    });
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'validation_failed', message: 'Invalid body', status: 400 });
    expect(error.details).toEqual([
      { path: 'password', message: 'Too short' },
      { path: 'body.email', message: 'Invalid' },
    ]);
  });

  it('turns an unexpected body into invalid_response', () => {
    expect(toApiError(502, '<html>bad gateway</html>')).toMatchObject({
      code: 'invalid_response',
      status: 502,
    });
  });
});

describe('apiRequest', () => {
  it('sends JSON and returns the parsed body of a 2xx answer', async () => {
    const fetchMock = vi.fn(async () => answer(201, { user: { id: '1' } }));
    vi.stubGlobal('fetch', fetchMock);
    await expect(apiRequest('/api/setup', { method: 'POST', body: { token: 't' } })).resolves.toEqual({
      user: { id: '1' },
    });
    const [, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(init.method).toBe('POST');
    expect(init.body).toBe('{"token":"t"}');
    expect((init.headers as Record<string, string>)['content-type']).toBe('application/json');
  });

  it('throws the server error as an ApiError', async () => {
    vi.stubGlobal('fetch', async () => answer(409, { error: { code: 'admin_exists', message: 'Exists' } }));
    await expect(apiRequest('/api/setup')).rejects.toMatchObject({ code: 'admin_exists', status: 409 });
  });

  it('reports an unreachable server as network_error', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('fetch failed');
    });
    await expect(apiRequest('/health')).rejects.toMatchObject({ code: 'network_error', status: 0 });
  });

  it('reports a non-JSON answer as invalid_response', async () => {
    vi.stubGlobal('fetch', async () => answer(200, 'not json'));
    await expect(fetchJson('/health')).rejects.toMatchObject({ code: 'invalid_response' });
  });
});
