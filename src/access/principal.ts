// Who is asking. Every owned row (personas, sessions) is read and written through a principal's
// owner_id, and the role decides what it may change.

export type Role = 'admin' | 'user';

export interface Principal {
  role: Role;
  /** Whose rows these are: an API key's owner_id, a JWT's sub, or 'local'. */
  ownerId: string;
  /**
   * What the rate limits count: 'admin', 'key:<id>' or 'jwt:<sub>'. Undefined for the implicit
   * principal of AUTH_MODE=none, which every client shares, so they are counted by address instead.
   */
  subject: string | undefined;
}

/** The owner of everything made without access control, and of the admin key's rows. */
export const LOCAL_OWNER = 'local';

/** In AUTH_MODE=none every request acts as this admin. */
export const LOCAL_ADMIN: Principal = Object.freeze({ role: 'admin', ownerId: LOCAL_OWNER, subject: undefined });
