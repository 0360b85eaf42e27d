// resource.Quantity parsing, enough to compare sizes ("10Gi" > "5000Mi"). Quantities are a
// Kubernetes concept: the generic layer (fieldsv1) and the API package (validation) both use this.

/** A resource.Quantity on the wire: "10Gi", "500m" or a plain integer. */
type Quantity = string | number;

const QUANTITY_RE =
  /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE])|[eE]([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)))?$/;

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The numeric value of a quantity, or undefined when it is not a valid quantity. */
export function parseQuantity(q: Quantity | null | undefined): number | undefined {
  if (typeof q === "number") return Number.isFinite(q) ? q : undefined;
  if (typeof q !== "string") return undefined;
  const m = QUANTITY_RE.exec(q.trim());
  if (m === null) return undefined;
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * (BINARY[m[2]] as number);
  if (m[3] !== undefined) return base * (DECIMAL[m[3]] as number);
  if (m[4] !== undefined) return base * 10 ** Number(m[4]);
  return base;
}
