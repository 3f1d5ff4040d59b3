import { apiRequest } from './client';

export interface CreateAdministratorOptions {
  token: string;
  name: string;
  email: string;
  password: string;
}

export interface CreatedAdministrator {
  id: string;
  email: string;
  name: string;
  role: 'admin';
}

/** Redeems the one-time setup token printed by the server on first start. */
export async function createAdministrator(
  options: CreateAdministratorOptions,
): Promise<CreatedAdministrator> {
  const response = await apiRequest<{ user: CreatedAdministrator }>('/api/setup', {
    method: 'POST',
    body: options,
  });
  return response.user;
}
