// The API key shapes, written once (see persona-schemas.ts for why TypeBox only).
import { Type, type Static } from 'typebox';
import { NonBlank, Printable } from '../http/schemas.ts';

const Role = Type.Union([Type.Literal('admin'), Type.Literal('user')]);

export const ApiKeySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    role: Role,
    owner_id: Type.String({ description: 'whose personas and sessions the key reads and writes' }),
    key_prefix: Type.String({ description: 'the first characters of the key, to tell keys apart' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'ApiKey', description: 'An API key, without the key itself (only its SHA-256 is stored)' },
);

export const NewApiKeySchema = Type.Object(
  {
    ...ApiKeySchema.properties,
    key: Type.String({ pattern: '^cbx_', description: 'the key itself: shown here once, and never again' }),
  },
  { $id: 'NewApiKey', description: 'A new API key, with the key itself' },
);

export const ApiKeyInputSchema = Type.Object(
  {
    name: NonBlank({ maxLength: 100, description: '1-100 characters, to say what the key is for' }),
    role: Type.Optional({ ...Role, description: 'admin or user (the default)' }),
    // owner_id is varchar(200).
    owner_id: Type.Optional(
      Printable({ maxLength: 200, description: '1-200 characters, no control characters; the default is a new UUID, an owner of its own' }),
    ),
  },
  { additionalProperties: false, examples: [{ name: 'mobile app, user 42', role: 'user', owner_id: 'user-42' }] },
);

export type ApiKey = Static<typeof ApiKeySchema>;
export type NewApiKey = Static<typeof NewApiKeySchema>;
export type ApiKeyInput = Static<typeof ApiKeyInputSchema>;
