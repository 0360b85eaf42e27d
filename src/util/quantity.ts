// resource.Quantity parsing: one grammar, read two ways — as a number to compare sizes
// ("10Gi" > "5000Mi"), and as the exact integer resource.Quantity.Value() gives (my.cnf sizes).
/** A Kubernetes quantity as written in a manifest ("10Gi", "500m", 1). */
type Quantity = string | number;

/** Thrown for a string that is not a Kubernetes quantity. */
export class QuantityParseError extends Error {
  override name = "QuantityParseError";
}

const QUANTITY_RE = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

const BINARY_SHIFT: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_EXP: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** value = ±whole.frac × 2^shift × 10^exp10 */
interface QuantityParts {
  negative: boolean;
  whole: string;
  frac: string;
  shift: number;
  exp10: number;
}

function quantityParts(q: string | number): QuantityParts | undefined {
  if (typeof q === "number" && !Number.isFinite(q)) return undefined;
  const m = QUANTITY_RE.exec(String(q).trim());
  if (m === null) return undefined;
  const whole = m[2] ?? "";
  const frac = m[3] ?? "";
  if (whole === "" && frac === "") return undefined;
  const suffix = m[4] ?? "";
  const shift = BINARY_SHIFT[suffix] ?? 0;
  const exp10 = DECIMAL_EXP[suffix] ?? (/^[eE][+-]?[0-9]/.test(suffix) ? Number(suffix.slice(1)) : 0);
  return { negative: m[1] === "-", whole, frac, shift, exp10 };
}

/** The numeric value of a quantity, or undefined when it is not a valid quantity. */
export function parseQuantity(q: Quantity | null | undefined): number | undefined {
  if (typeof q === "number") return Number.isFinite(q) ? q : undefined;
  if (typeof q !== "string") return undefined;
  const p = quantityParts(q);
  if (p === undefined) return undefined;
  const abs = Number(`${p.whole || "0"}.${p.frac}0e${p.exp10}`) * 2 ** p.shift;
  return p.negative ? -abs : abs;
}

/**
 * The integer value of a Kubernetes quantity (like resource.Quantity.Value(): rounded up,
 * away from zero). Accepts "128974848", "129e6", "129M", "123Mi", "0.5Gi", "1.5", "100m".
 * Throws QuantityParseError for anything else.
 */
export function parseQuantityValue(text: string | number): bigint {
  const p = quantityParts(text);
  if (p === undefined) throw new QuantityParseError(`invalid quantity ${JSON.stringify(text)}`);
  const digits = BigInt(`${p.whole}${p.frac}` || "0") << BigInt(p.shift);
  const exp10 = p.exp10 - p.frac.length;
  let value: bigint;
  if (exp10 >= 0) {
    value = digits * 10n ** BigInt(exp10);
  } else {
    const div = 10n ** BigInt(-exp10);
    value = (digits + div - 1n) / div; // ceiling for a non-negative numerator
  }
  return p.negative ? -value : value;
}
