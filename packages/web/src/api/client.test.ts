import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  changePassword,
  disableTwoFactor,
  enableTwoFactor,
  regenerateBackupCodes,
  requestEmailChange,
  scheduleDeletion,
} from './account';
import { ApiError, apiRequest, errorOf, fetchJson, fetchWithSession, toApiError } from './client';

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

/**
 * The server's answers as the accounts module gives them: 401 `unauthenticated` when the access cookie is missing,
 * expired or its session ended; 401 `invalid_credentials` / `two_factor_invalid` when the person typed a wrong
 * password or code, each check drawing on their attempt budget (`passwordChecks`).
 */
function fakeServer(
  options: { sessionExpired?: boolean; refreshWorks?: boolean; alwaysExpired?: boolean } = {},
) {
  const state = { accessValid: !options.sessionExpired, refreshes: 0, passwordChecks: 0, codeChecks: 0 };
  const calls: string[] = [];
  const refused = (status: number, code: string, message: string) =>
    answer(status, { error: { code, message } });
  const fetchMock = vi.fn(async (input: string, init: RequestInit = {}) => {
    calls.push(input);
    const body =
      input === '/api/account/avatar'
        ? {}
        : (JSON.parse(String(init.body ?? '{}')) as Record<string, string>);
    if (input === '/api/auth/refresh') {
      state.refreshes += 1;
      if (options.refreshWorks === false) return refused(401, 'unauthenticated', 'This session has ended.');
      state.accessValid = !options.alwaysExpired;
      return answer(200, { user: { id: 'u1' } });
    }
    if (!state.accessValid) return refused(401, 'unauthenticated', 'The access token is invalid or expired.');
    const password = body.password ?? body.currentPassword;
    if (password !== undefined) {
      state.passwordChecks += 1;
      if (password !== 'the right password')
        return refused(401, 'invalid_credentials', 'The password is not right.');
    }
    if (body.code !== undefined) {
      state.codeChecks += 1;
      if (body.code !== '123456') return refused(401, 'two_factor_invalid', 'That code is not right.');
    }
    if (input === '/api/account/avatar') return answer(200, { user: { id: 'u1' } });
    return answer(200, { backupCodes: ['aaaaa-bbbbb'], deletionScheduledFor: '2030-01-01' });
  });
  vi.stubGlobal('fetch', fetchMock);
  // A signed-in browser: the readable CSRF cookie is what tells the client a session exists to renew.
  vi.stubGlobal('document', { cookie: 'webox_csrf=csrf-token' });
  return { state, calls };
}

describe('renewing the session on a 401', () => {
  it.each([
    [
      'a password change',
      () => changePassword({ currentPassword: 'a guess', newPassword: 'a new passphrase' }),
    ],
    ['an address change', () => requestEmailChange({ password: 'a guess', newEmail: 'new@example.com' })],
    ['turning two-step verification off', () => disableTwoFactor({ code: '123456', password: 'a guess' })],
    ['turning two-step verification on', () => enableTwoFactor({ code: '123456', password: 'a guess' })],
    ['deleting the account', () => scheduleDeletion('a guess')],
  ])(
    'spends one attempt of the password budget on a wrong password for %s, and does not renew the session',
    async (_, call) => {
      const { state, calls } = fakeServer();
      await expect(call()).rejects.toMatchObject({ code: 'invalid_credentials', status: 401 });
      expect(state.passwordChecks).toBe(1);
      expect(state.refreshes).toBe(0);
      expect(calls).toHaveLength(1);
    },
  );

  it.each([
    [
      'turning two-step verification off',
      () => disableTwoFactor({ code: '000000', password: 'the right password' }),
    ],
    ['new backup codes', () => regenerateBackupCodes('000000')],
  ])('spends one attempt of the code budget on a wrong code for %s', async (_, call) => {
    const { state, calls } = fakeServer();
    await expect(call()).rejects.toMatchObject({ code: 'two_factor_invalid', status: 401 });
    expect(state.codeChecks).toBe(1);
    expect(state.refreshes).toBe(0);
    expect(calls).toHaveLength(1);
  });

  it('renews an expired session once and sends the call again once', async () => {
    const { state, calls } = fakeServer({ sessionExpired: true });
    await expect(
      changePassword({ currentPassword: 'the right password', newPassword: 'a new passphrase' }),
    ).resolves.toBeUndefined();
    expect(calls).toEqual(['/api/account/password', '/api/auth/refresh', '/api/account/password']);
    expect(state.passwordChecks).toBe(1);
  });

  it('checks a wrong password once when the session had also expired', async () => {
    const { state, calls } = fakeServer({ sessionExpired: true });
    await expect(scheduleDeletion('a guess')).rejects.toMatchObject({ code: 'invalid_credentials' });
    expect(calls).toEqual(['/api/account/deletion', '/api/auth/refresh', '/api/account/deletion']);
    expect(state.passwordChecks).toBe(1);
  });

  it('gives the first answer back when the session cannot be renewed, and never loops', async () => {
    const ended = fakeServer({ sessionExpired: true, refreshWorks: false });
    await expect(apiRequest('/api/account')).rejects.toMatchObject({ code: 'unauthenticated', status: 401 });
    expect(ended.calls).toEqual(['/api/account', '/api/auth/refresh']);

    const stillRefused = fakeServer({ sessionExpired: true, alwaysExpired: true });
    await expect(apiRequest('/api/account')).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(stillRefused.calls).toEqual(['/api/account', '/api/auth/refresh', '/api/account']);
  });

  it('does the same for raw calls: renews an expired session, never resends a refused secret', async () => {
    const expired = fakeServer({ sessionExpired: true });
    const upload = await fetchWithSession('/api/account/avatar', { method: 'PUT', body: 'image bytes' });
    expect(upload.status).toBe(200);
    expect(expired.calls).toEqual(['/api/account/avatar', '/api/auth/refresh', '/api/account/avatar']);

    const wrong = fakeServer();
    const refused = await fetchWithSession('/api/account/deletion', {
      method: 'POST',
      body: JSON.stringify({ password: 'a guess' }),
    });
    expect(refused.status).toBe(401);
    // The caller still reads the refusal it was given.
    await expect(errorOf(refused)).resolves.toMatchObject({ code: 'invalid_credentials' });
    expect(wrong.calls).toEqual(['/api/account/deletion']);
    expect(wrong.state.passwordChecks).toBe(1);
  });
});
