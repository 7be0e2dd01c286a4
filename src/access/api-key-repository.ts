// API key rows. A key itself is never stored: only its SHA-256, which is what a request is looked up by.
import { desc, eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { apiKeys, type ApiKeyRow } from '../db/schema.ts';
import type { Role } from './principal.ts';

export interface NewApiKey {
  name: string;
  role: Role;
  ownerId: string;
  keyHash: string;
  keyPrefix: string;
}

export interface ApiKeyRepository {
  create(key: NewApiKey): Promise<ApiKeyRow>;
  list(): Promise<ApiKeyRow[]>;
  findByHash(keyHash: string): Promise<ApiKeyRow | undefined>;
  /** False when there was no such key. */
  delete(id: string): Promise<boolean>;
}

export function createApiKeyRepository(db: Database): ApiKeyRepository {
  return {
    async create(key) {
      const [row] = await db.insert(apiKeys).values(key).returning();
      return row!;
    },
    list: () => db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id)),
    async findByHash(keyHash) {
      const [row] = await db.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash));
      return row;
    },
    async delete(id) {
      const rows = await db.delete(apiKeys).where(eq(apiKeys.id, id)).returning({ id: apiKeys.id });
      return rows.length > 0;
    },
  };
}
