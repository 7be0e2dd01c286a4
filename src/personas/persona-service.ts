// Persona rules: names and prompts within limits (checked by the route schemas), and a voice the
// active speech engine can speak, checked when it is set so that no reply is ever voiceless.
import type { PersonaRow } from '../db/schema.ts';
import { NotFoundError, UnprocessableError } from '../errors.ts';
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

  return {
    async create(input: PersonaInput): Promise<Persona> {
      await checkVoice(input.voice_id);
      const row = await personas.create({
        name: input.name,
        systemPrompt: input.system_prompt ?? '',
        voiceId: input.voice_id ?? null,
      });
      return toPersona(row);
    },

    async list(): Promise<Persona[]> {
      return (await personas.list()).map(toPersona);
    },

    async get(id: string): Promise<Persona> {
      const row = await personas.findById(id);
      if (!row) throw notFound(id);
      return toPersona(row);
    },

    async update(id: string, patch: PersonaPatch): Promise<Persona> {
      await checkVoice(patch.voice_id);
      const fields: Partial<PersonaFields> = {};
      if (patch.name !== undefined) fields.name = patch.name;
      if (patch.system_prompt !== undefined) fields.systemPrompt = patch.system_prompt;
      if (patch.voice_id !== undefined) fields.voiceId = patch.voice_id;
      const row = await personas.update(id, fields);
      if (!row) throw notFound(id);
      return toPersona(row);
    },

    async delete(id: string): Promise<void> {
      if (!(await personas.delete(id))) throw notFound(id);
    },
  };
}

export type PersonaService = ReturnType<typeof createPersonaService>;
