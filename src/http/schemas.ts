// Schemas shared by every route: the error body and id params. Route-specific schemas live with
// their routes. The same schemas validate requests, serialize responses and build the OpenAPI doc.
import { Type } from 'typebox';

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
  },
  { $id: 'Error', description: "Fastify's error shape; message says what was wrong" },
);

export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [code, Type.Ref('Error')])) as Record<number, ReturnType<typeof Type.Ref>>;

export const Uuid = Type.String({ format: 'uuid', description: 'a UUID' });

/** A string that must contain something other than whitespace. */
export const NonBlank = (opts: { maxLength: number; description?: string }) =>
  Type.String({ minLength: 1, pattern: '\\S', ...opts });

export const IdParams = Type.Object({ id: Uuid });
