// Making, listing and deleting API keys. The key is generated here, shown once, and stored only as
// its SHA-256.
import { randomBytes, randomUUID } from 'node:crypto';
import type { ApiKeyRow } from '../db/schema.ts';
import { NotFoundError } from '../errors.ts';
import type { ApiKeyRepository } from './api-key-repository.ts';
import type { ApiKey, ApiKeyInput, NewApiKey } from './api-key-schemas.ts';
import { sha256Hex, type Authenticator } from './credentials.ts';

const PREFIX_LENGTH = 12; // cbx_ and 8 characters

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    owner_id: row.ownerId,
    key_prefix: row.keyPrefix,
    created_at: row.createdAt.toISOString(),
  };
}

export function createApiKeyService(deps: { keys: ApiKeyRepository; authenticator: Pick<Authenticator, 'forgetKey'> }) {
  const { keys, authenticator } = deps;
  return {
    async create(input: ApiKeyInput): Promise<NewApiKey> {
      const key = `cbx_${randomBytes(32).toString('base64url')}`;
      const row = await keys.create({
        name: input.name,
        role: input.role ?? 'user',
        ownerId: input.owner_id ?? randomUUID(),
        keyHash: sha256Hex(key),
        keyPrefix: key.slice(0, PREFIX_LENGTH),
      });
      return { ...toApiKey(row), key };
    },

    async list(): Promise<ApiKey[]> {
      return (await keys.list()).map(toApiKey);
    },

    async delete(id: string): Promise<void> {
      if (!(await keys.delete(id))) throw new NotFoundError(`API key ${id} not found`);
      authenticator.forgetKey(id);
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
