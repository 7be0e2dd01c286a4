// Persona rows. Every query takes the principal and puts its owner in the WHERE clause, so a row the
// caller may not see is never loaded: it is simply not found.
import { and, desc, eq, or, type SQL } from 'drizzle-orm';
import type { Principal } from '../access/principal.ts';
import type { Database } from '../db/database.ts';
import { personas, type PersonaRow } from '../db/schema.ts';

export interface PersonaFields {
  name: string;
  systemPrompt: string;
  voiceId: string | null;
}

/** What a change or delete found: the row, a persona the caller sees but may not change, or nothing. */
export type Changed<T> = T | 'forbidden' | undefined;

export interface PersonaRepository {
  /** An admin's persona is shared; a user's is private to its owner. */
  create(principal: Principal, fields: PersonaFields): Promise<PersonaRow>;
  /** The shared personas and the caller's own, newest first. */
  list(principal: Principal): Promise<PersonaRow[]>;
  /** Undefined unless the persona is shared or the caller's own. */
  findVisible(principal: Principal, id: string): Promise<PersonaRow | undefined>;
  update(principal: Principal, id: string, patch: Partial<PersonaFields>): Promise<Changed<PersonaRow>>;
  delete(principal: Principal, id: string): Promise<Changed<true>>;
}

export function createPersonaRepository(db: Database): PersonaRepository {
  const visibleTo = (p: Principal): SQL => or(eq(personas.shared, true), eq(personas.ownerId, p.ownerId))!;
  // A private persona changes only for its owner; a shared one only for admins.
  const changeableBy = (p: Principal): SQL =>
    p.role === 'admin' ? visibleTo(p) : and(eq(personas.shared, false), eq(personas.ownerId, p.ownerId))!;

  /** After a change matched nothing: 'forbidden' when the caller can see the persona, else undefined. */
  async function refusal(p: Principal, id: string): Promise<'forbidden' | undefined> {
    const [seen] = await db.select({ id: personas.id }).from(personas).where(and(eq(personas.id, id), visibleTo(p)));
    return seen ? 'forbidden' : undefined;
  }

  return {
    async create(p, fields) {
      const [row] = await db
        .insert(personas)
        .values({ ...fields, ownerId: p.ownerId, shared: p.role === 'admin' })
        .returning();
      return row!;
    },

    list: (p) => db.select().from(personas).where(visibleTo(p)).orderBy(desc(personas.createdAt), desc(personas.id)),

    async findVisible(p, id) {
      const [row] = await db.select().from(personas).where(and(eq(personas.id, id), visibleTo(p)));
      return row;
    },

    async update(p, id, patch) {
      const [row] = await db
        .update(personas)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(eq(personas.id, id), changeableBy(p)))
        .returning();
      return row ?? refusal(p, id);
    },

    async delete(p, id) {
      const rows = await db
        .delete(personas)
        .where(and(eq(personas.id, id), changeableBy(p)))
        .returning({ id: personas.id });
      return rows.length > 0 ? true : refusal(p, id);
    },
  };
}
