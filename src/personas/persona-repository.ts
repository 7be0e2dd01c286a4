// Persona rows. Every query goes through this module, so a later owner filter is one where-clause.
import { desc, eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { personas, type PersonaRow } from '../db/schema.ts';

export interface PersonaFields {
  name: string;
  systemPrompt: string;
  voiceId: string | null;
}

export interface PersonaRepository {
  create(fields: PersonaFields): Promise<PersonaRow>;
  list(): Promise<PersonaRow[]>;
  findById(id: string): Promise<PersonaRow | undefined>;
  /** Undefined when there is no such persona. */
  update(id: string, patch: Partial<PersonaFields>): Promise<PersonaRow | undefined>;
  /** False when there was no such persona. */
  delete(id: string): Promise<boolean>;
}

export function createPersonaRepository(db: Database): PersonaRepository {
  return {
    async create(fields) {
      const [row] = await db.insert(personas).values(fields).returning();
      return row!;
    },
    list: () => db.select().from(personas).orderBy(desc(personas.createdAt), desc(personas.id)),
    async findById(id) {
      const [row] = await db.select().from(personas).where(eq(personas.id, id));
      return row;
    },
    async update(id, patch) {
      const [row] = await db
        .update(personas)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(personas.id, id))
        .returning();
      return row;
    },
    async delete(id) {
      const rows = await db.delete(personas).where(eq(personas.id, id)).returning({ id: personas.id });
      return rows.length > 0;
    },
  };
}
