// Label selectors: the string form the API accepts (`a=b,c!=d,e in (x,y),!f`) and the
// meta/v1 LabelSelector object form, both turned into a predicate over an object's labels.

export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: { [key: string]: string };
  matchExpressions?: LabelSelectorRequirement[];
}

interface Requirement { key: string; op: "in" | "notin" | "exists" | "!exists"; values: string[] }

export type Labels = { [key: string]: string } | undefined;

export class Selector {
  readonly #reqs: Requirement[];

  private constructor(reqs: Requirement[]) {
    this.#reqs = reqs;
  }

  static everything(): Selector { return new Selector([]); }

  /** Parses the string form; throws on syntax errors. */
  static parse(s: string): Selector {
    const reqs: Requirement[] = [];
    let i = 0;
    const src = s;
    const skipWs = () => { while (i < src.length && /\s/.test(src[i] ?? "")) i++; };
    const ident = (): string => {
      skipWs();
      const m = /^[A-Za-z0-9._\-/]+/.exec(src.slice(i));
      if (!m) throw new Error(`label selector ${JSON.stringify(s)}: expected a key or value at ${i}`);
      i += m[0].length;
      return m[0];
    };
    const value = (): string => {
      skipWs();
      const m = /^[A-Za-z0-9._-]*/.exec(src.slice(i));
      i += m?.[0].length ?? 0;
      return m?.[0] ?? "";
    };
    skipWs();
    if (i >= src.length) return new Selector([]);
    for (;;) {
      skipWs();
      if (src[i] === "!") {
        i++;
        reqs.push({ key: ident(), op: "!exists", values: [] });
      } else {
        const key = ident();
        skipWs();
        const rest = src.slice(i);
        if (rest.startsWith("==")) { i += 2; reqs.push({ key, op: "in", values: [value()] }); }
        else if (rest.startsWith("!=")) { i += 2; reqs.push({ key, op: "notin", values: [value()] }); }
        else if (rest.startsWith("=")) { i += 1; reqs.push({ key, op: "in", values: [value()] }); }
        else if (/^(in|notin)\s*\(/.test(rest)) {
          const op = rest.startsWith("in") ? "in" : "notin";
          i += op.length;
          skipWs();
          i++; // (
          const values: string[] = [];
          for (;;) {
            values.push(value());
            skipWs();
            if (src[i] === ",") { i++; continue; }
            if (src[i] === ")") { i++; break; }
            throw new Error(`label selector ${JSON.stringify(s)}: expected , or ) at ${i}`);
          }
          reqs.push({ key, op, values });
        } else reqs.push({ key, op: "exists", values: [] });
      }
      skipWs();
      if (i >= src.length) break;
      if (src[i] !== ",") throw new Error(`label selector ${JSON.stringify(s)}: expected , at ${i}`);
      i++;
    }
    return new Selector(reqs);
  }

  static fromLabelSelector(ls: LabelSelector): Selector {
    const reqs: Requirement[] = [];
    for (const [k, v] of Object.entries(ls.matchLabels ?? {})) reqs.push({ key: k, op: "in", values: [v] });
    for (const e of ls.matchExpressions ?? []) {
      const op = e.operator === "In" ? "in" : e.operator === "NotIn" ? "notin" : e.operator === "Exists" ? "exists"
        : e.operator === "DoesNotExist" ? "!exists" : undefined;
      if (!op) throw new Error(`label selector: unknown operator ${e.operator}`);
      reqs.push({ key: e.key, op, values: e.values ?? [] });
    }
    return new Selector(reqs);
  }

  matches(labels: Labels): boolean {
    const l = labels ?? {};
    for (const r of this.#reqs) {
      const has = Object.hasOwn(l, r.key);
      const v = l[r.key];
      switch (r.op) {
        case "in": if (!has || !r.values.includes(v ?? "")) return false; break;
        case "notin": if (has && r.values.includes(v ?? "")) return false; break;
        case "exists": if (!has) return false; break;
        case "!exists": if (has) return false; break;
      }
    }
    return true;
  }

  isEverything(): boolean { return this.#reqs.length === 0; }

  /** The string form, accepted by the API server's labelSelector parameter. */
  toString(): string {
    return this.#reqs.map((r) => {
      switch (r.op) {
        case "exists": return r.key;
        case "!exists": return `!${r.key}`;
        case "in": return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(",")})`;
        case "notin": return r.values.length === 1 ? `${r.key}!=${r.values[0]}` : `${r.key} notin (${r.values.join(",")})`;
      }
      return "";
    }).join(",");
  }
}

export function toSelector(sel: string | LabelSelector | Selector | undefined): Selector {
  if (sel === undefined) return Selector.everything();
  if (sel instanceof Selector) return sel;
  if (typeof sel === "string") return Selector.parse(sel);
  return Selector.fromLabelSelector(sel);
}
