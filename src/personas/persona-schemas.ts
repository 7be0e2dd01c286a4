// The persona shapes, written once: these TypeBox schemas validate the bodies, serialize the answers,
// become the OpenAPI components, and (through Static) are the service's TypeScript types.
// TypeBox only, so that the service can import it without importing the routes.
import { Type, type Static } from 'typebox';
import { NonBlank } from '../http/schemas.ts';

// Limits from the contract. The database types match them (varchar(100) for name and voice_id).
const Name = NonBlank({ maxLength: 100, description: '1-100 characters' });
const SystemPrompt = Type.String({ maxLength: 20_000, description: 'up to 20,000 characters' });
const VoiceId = Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()], {
  description: 'a voice id from GET /api/voices, or null for the default voice',
});

export const PersonaSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    system_prompt: Type.String(),
    voice_id: Type.Union([Type.String(), Type.Null()], {
      description: 'the persona\'s voice; null speaks with DEFAULT_POLLY_VOICE_ID',
    }),
    shared: Type.Boolean({
      description: "made by an admin: every caller sees and uses it, only admins change it; else private to its owner",
    }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'Persona',
    description: 'A character: a system prompt and a voice',
    examples: [
      {
        id: '0f8a6c2e-5b1d-4c3a-9e7f-2d4b6a8c0e1f',
        name: 'Captain',
        system_prompt: 'You are a cheerful pirate captain.',
        voice_id: 'Matthew',
        shared: true,
        created_at: '2025-06-01T12:00:00.000Z',
        updated_at: '2025-06-01T12:00:00.000Z',
      },
    ],
  },
);

/** The body of POST /api/personas. */
export const PersonaInputSchema = Type.Object(
  { name: Name, system_prompt: Type.Optional(SystemPrompt), voice_id: Type.Optional(VoiceId) },
  {
    additionalProperties: false,
    examples: [{ name: 'Captain', system_prompt: 'You are a cheerful pirate captain.', voice_id: 'Matthew' }],
  },
);

/** The body of PATCH /api/personas/{id}: at least one field. */
export const PersonaPatchSchema = Type.Object(
  { name: Type.Optional(Name), system_prompt: Type.Optional(SystemPrompt), voice_id: Type.Optional(VoiceId) },
  { additionalProperties: false, minProperties: 1, examples: [{ voice_id: 'Amy' }] },
);

export type Persona = Static<typeof PersonaSchema>;
export type PersonaInput = Static<typeof PersonaInputSchema>;
export type PersonaPatch = Static<typeof PersonaPatchSchema>;
