// The text of a thrown value: Error → its message, anything else → String(value).

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
