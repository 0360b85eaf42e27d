// Field errors in the shape of k8s.io/apimachinery's field.Error: a field path, a type
// and a message that starts with the field path (so a user reading only the message
// knows which field is wrong). Values are only ever names and numbers from the spec;
// no Secret content can reach them.

export type FieldErrorType = "Required" | "Invalid" | "Forbidden" | "InternalError";

export interface FieldError {
  /** Field path, e.g. `spec.podTemplate.spec.containers[0]`. */
  field: string;
  type: FieldErrorType;
  /** What is wrong, without the path. */
  detail: string;
  /** `<field>: <type text>: [<value>: ]<detail>` */
  message: string;
}

/** The value as Kubernetes field errors show it: strings quoted, others as is. */
function quoteFieldValue(value: string | number | boolean | null): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

export function fieldRequired(field: string, detail: string): FieldError {
  return { field, type: "Required", detail, message: `${field}: Required value: ${detail}` };
}

export function fieldInvalid(field: string, value: string | number | boolean | null | undefined, detail: string): FieldError {
  const shown = value === undefined ? "" : `${quoteFieldValue(value)}: `;
  return { field, type: "Invalid", detail, message: `${field}: Invalid value: ${shown}${detail}` };
}

export function fieldForbidden(field: string, detail: string): FieldError {
  return { field, type: "Forbidden", detail, message: `${field}: Forbidden: ${detail}` };
}

export function fieldInternalError(field: string, detail: string): FieldError {
  return { field, type: "InternalError", detail, message: `${field}: Internal error: ${detail}` };
}

/** The `details.causes[].reason` of a Kubernetes Status for each error type. */
export function causeTypeOf(type: FieldErrorType): string {
  return type === "InternalError" ? "InternalError" : `FieldValue${type}`;
}

/**
 * The message without the leading field path (Go's ErrorBody), as a Status cause
 * carries it next to its `field` (kubectl prints "<field>: <body>").
 */
export function fieldErrorBody(e: FieldError): string {
  const prefix = `${e.field}: `;
  return e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}
