// Persona rules: names and prompts within limits (checked by the route schemas), and a voice the
// active speech engine can speak, checked when it is set so that no reply is ever voiceless.
import type { Principal } from '../access/principal.ts';
import type { PersonaRow } from '../db/schema.ts';
import { ForbiddenError, NotFoundError, UnprocessableError } from '../errors.ts';
import type { VoiceCatalogue } from '../speech/synthesizer.ts';
import type { PersonaFields, PersonaRepository } from './persona-repository.ts';

// The shapes are the route schemas' (persona-schemas.ts), so code and OpenAPI document agree.
import type { Persona, PersonaInput, PersonaPatch } from './persona-schemas.ts';
export type { Persona, PersonaInput, PersonaPatch };

export function toPersona(row: PersonaRow): Persona {
  return {
    id: row.id,
    name: row.name,
    system_prompt: row.systemPrompt,
    voice_id: row.voiceId,
    shared: row.shared,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export interface PersonaServiceDeps {
  personas: PersonaRepository;
  voices: Pick<VoiceCatalogue, 'problemWith'>;
}

export function createPersonaService({ personas, voices }: PersonaServiceDeps) {
  async function checkVoice(voiceId: string | null | undefined) {
    if (voiceId == null) return;
    const problem = await voices.problemWith(voiceId);
    if (problem) throw new UnprocessableError(problem);
  }

  function notFound(id: string) {
    return new NotFoundError(`persona ${id} not found`);
  }

  /** A persona the caller can see but not change is a shared one, and the caller is no admin. */
  function forbidden(id: string) {
    return new ForbiddenError(`persona ${id} is shared: only an admin may change it`);
  }

  return {
    async create(principal: Principal, input: PersonaInput): Promise<Persona> {
      await checkVoice(input.voice_id);
      const row = await personas.create(principal, {
        name: input.name,
        systemPrompt: input.system_prompt ?? '',
        voiceId: input.voice_id ?? null,
      });
      return toPersona(row);
    },

    async list(principal: Principal): Promise<Persona[]> {
      return (await personas.list(principal)).map(toPersona);
    },

    async get(principal: Principal, id: string): Promise<Persona> {
      const row = await personas.findVisible(principal, id);
      if (!row) throw notFound(id);
      return toPersona(row);
    },

    async update(principal: Principal, id: string, patch: PersonaPatch): Promise<Persona> {
      await checkVoice(patch.voice_id);
      const fields: Partial<PersonaFields> = {};
      if (patch.name !== undefined) fields.name = patch.name;
      if (patch.system_prompt !== undefined) fields.systemPrompt = patch.system_prompt;
      if (patch.voice_id !== undefined) fields.voiceId = patch.voice_id;
      const row = await personas.update(principal, id, fields);
      if (row === 'forbidden') throw forbidden(id);
      if (!row) throw notFound(id);
      return toPersona(row);
    },

    async delete(principal: Principal, id: string): Promise<void> {
      const deleted = await personas.delete(principal, id);
      if (deleted === 'forbidden') throw forbidden(id);
      if (!deleted) throw notFound(id);
    },
  };
}

export type PersonaService = ReturnType<typeof createPersonaService>;
