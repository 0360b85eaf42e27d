// A small, pure renderer for the subset of Go's text/template that
// `spec.slowQueryLogConfigTmpl` templates use (docs/api.md "slowQueryLogConfigTmpl").
// It lives in the API package because the validating webhook renders the template at
// admission (the data is fixed, so rendering once finds every error a reconcile would).
//
// Grammar (Go semantics for everything accepted; anything else is a TemplateError):
//   template := (text | action)*
//   action   := "{{" ["- "] body [" -"] "}}"   trim markers remove all adjacent
//                                              spaces, tabs, CRs and newlines of the text
//   body     := "/*" … "*/"                    a comment (only right after the delimiter)
//             | pipeline
//             | "if" pipeline | "with" pipeline | "else" ["if" pipeline] | "end"
//   pipeline := command ("|" command)*         each result is the last argument of the next
//   command  := function operand* | operand
//   operand  := "." | field+ | "(" pipeline ")" field* | string | raw string | int | true | false
//   field    := ".Path"                         the only field of the data
//   function := print | printf | println | len | not | and | or | eq | ne | lt | le | gt | ge
// printf verbs: %v %s %q %d %x %X %t %%, with the flags "-" and "0", a width, and a
// precision for %s/%q/%v. Strings take Go's escapes (\n \t \" \\ \xHH \ooo \uHHHH …).
// Not supported (refused with the action's position): variables ($x), range, define,
// else with,
// template, block, break, continue, nil, floating-point and character constants, and
// the functions html, js, urlquery, index, slice and call.

/** The data a template sees: Go's `struct{ Path string }`. */
export interface TemplateData {
  readonly Path: string;
}

/** A template that cannot be parsed or rendered; `line`/`column` are 1-based. */
export class TemplateError extends Error {
  override name = "TemplateError";
  readonly line: number;
  readonly column: number;
  /** The action's source text (shortened), or "" outside an action. */
  readonly action: string;
  readonly detail: string;
  constructor(line: number, column: number, action: string, detail: string) {
    super(`line ${line}, column ${column}: ${action === "" ? "" : `${action}: `}${detail}`);
    this.line = line;
    this.column = column;
    this.action = action;
    this.detail = detail;
  }
}

type Value =
  | { readonly k: "string"; readonly v: string }
  | { readonly k: "int"; readonly v: number }
  | { readonly k: "bool"; readonly v: boolean }
  | { readonly k: "data"; readonly v: TemplateData };

type Operand =
  | { readonly t: "dot"; readonly fields: readonly string[] }
  | { readonly t: "const"; readonly value: Value }
  | { readonly t: "func"; readonly name: string }
  | { readonly t: "pipe"; readonly pipe: Pipeline; readonly fields: readonly string[] };
type Command = readonly Operand[];
type Pipeline = readonly Command[];

type Node =
  | { readonly t: "text"; readonly text: string }
  | { readonly t: "action"; readonly at: number; readonly pipe: Pipeline }
  | { readonly t: "if" | "with"; readonly at: number; readonly pipe: Pipeline; readonly then: Node[]; readonly otherwise: Node[] };

const FUNCTIONS = new Set(["print", "printf", "println", "len", "not", "and", "or", "eq", "ne", "lt", "le", "gt", "ge"]);
const GO_ONLY_FUNCTIONS = new Set(["html", "js", "urlquery", "index", "slice", "call"]);
const UNSUPPORTED_KEYWORDS = new Set(["range", "define", "template", "block", "break", "continue"]);
const DATA_TYPE = "struct { Path string }";

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\r" || c === "\n";
}
function trimRightSpace(s: string): string {
  return s.replace(/[ \t\r\n]+$/, "");
}
function trimLeftSpace(s: string): string {
  return s.replace(/^[ \t\r\n]+/, "");
}

// ---- lexer -------------------------------------------------------------------------

type Token =
  | { readonly t: "text"; readonly text: string; readonly at: number }
  | { readonly t: "open"; readonly at: number }
  | { readonly t: "close"; readonly at: number; readonly trim: boolean }
  | { readonly t: "space" | "pipe" | "lparen" | "rparen" | "dot"; readonly at: number }
  | { readonly t: "field" | "ident" | "number"; readonly text: string; readonly at: number }
  | { readonly t: "string"; readonly value: string; readonly at: number };

class Source {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  error(at: number, detail: string): TemplateError {
    const before = this.text.slice(0, at);
    const line = before.split("\n").length;
    const column = at - (before.lastIndexOf("\n") + 1) + 1;
    const open = this.text.lastIndexOf("{{", at + 1);
    const close = this.text.indexOf("}}", at);
    let action = open >= 0 && close >= 0 ? this.text.slice(open, close + 2) : "";
    if (action.length > 60) action = `${action.slice(0, 57)}...`;
    return new TemplateError(line, column, action.replace(/\n/g, "\\n"), detail);
  }
}

function lex(src: Source): Token[] {
  const s = src.text;
  const out: Token[] = [];
  let pos = 0;
  let trimNext = false;
  const pushText = (text: string, at: number, trimEnd: boolean) => {
    let t = trimNext ? trimLeftSpace(text) : text;
    if (trimEnd) t = trimRightSpace(t);
    if (t !== "") out.push({ t: "text", text: t, at });
  };
  while (pos < s.length) {
    const open = s.indexOf("{{", pos);
    if (open < 0) {
      pushText(s.slice(pos), pos, false);
      break;
    }
    const trimLeft = s[open + 2] === "-" && isSpace(s[open + 3]);
    pushText(s.slice(pos, open), pos, trimLeft);
    trimNext = false;
    let p = open + 2 + (trimLeft ? 2 : 0);
    if (s.startsWith("/*", p)) {
      const end = s.indexOf("*/", p + 2);
      if (end < 0) throw src.error(open, "unclosed comment");
      p = end + 2;
      if (isSpace(s[p]) && s.startsWith("-}}", p + 1)) {
        trimNext = true;
        pos = p + 4;
      } else if (s.startsWith("}}", p)) {
        pos = p + 2;
      } else throw src.error(open, "comment ends before closing delimiter");
      continue;
    }
    out.push({ t: "open", at: open });
    pos = lexAction(src, p, open, out);
    const last = out[out.length - 1];
    trimNext = last?.t === "close" && last.trim;
  }
  return out;
}

/** Lexes one action's body from `p`; returns the position after its `}}`. */
function lexAction(src: Source, start: number, open: number, out: Token[]): number {
  const s = src.text;
  let p = start;
  for (;;) {
    if (isSpace(s[p]) && s.startsWith("-}}", p + 1)) {
      out.push({ t: "close", at: p, trim: true });
      return p + 4;
    }
    if (s.startsWith("}}", p)) {
      out.push({ t: "close", at: p, trim: false });
      return p + 2;
    }
    const c = s[p];
    if (c === undefined) throw src.error(open, "unclosed action");
    if (isSpace(c)) {
      let q = p;
      while (isSpace(s[q]) && !s.startsWith("-}}", q + 1)) q++; // stops before " -}}"
      out.push({ t: "space", at: p });
      p = q;
    } else if (c === "|") {
      out.push({ t: "pipe", at: p++ });
    } else if (c === "(") {
      out.push({ t: "lparen", at: p++ });
    } else if (c === ")") {
      out.push({ t: "rparen", at: p++ });
    } else if (c === '"') {
      const { value, end } = lexQuoted(src, p);
      out.push({ t: "string", value, at: p });
      p = end;
    } else if (c === "`") {
      const end = s.indexOf("`", p + 1);
      if (end < 0) throw src.error(p, "unterminated raw quoted string");
      out.push({ t: "string", value: s.slice(p + 1, end).replace(/\r/g, ""), at: p });
      p = end + 1;
    } else if (c === "." && /[A-Za-z_]/.test(s[p + 1] ?? "")) {
      const m = /^\.[A-Za-z_0-9]+/.exec(s.slice(p)) as RegExpExecArray;
      out.push({ t: "field", text: m[0].slice(1), at: p });
      p += m[0].length;
    } else if (c === "." && !/[0-9]/.test(s[p + 1] ?? "")) {
      out.push({ t: "dot", at: p++ });
    } else if (/[0-9.+-]/.test(c)) {
      const m = /^[+-]?[0-9A-Za-z_.]*/.exec(s.slice(p)) as RegExpExecArray;
      out.push({ t: "number", text: m[0], at: p });
      p += Math.max(1, m[0].length);
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_0-9]+/.exec(s.slice(p)) as RegExpExecArray;
      out.push({ t: "ident", text: m[0], at: p });
      p += m[0].length;
    } else if (c === "$") {
      throw src.error(p, "variables ($…) are not supported by moco-ts");
    } else if (c === "'") {
      throw src.error(p, "character constants are not supported by moco-ts");
    } else {
      throw src.error(p, `unrecognized character in action: ${JSON.stringify(c)}`);
    }
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92, '"': 34 };

/** A Go interpreted string literal starting at `start` (Go's strconv.Unquote). */
function lexQuoted(src: Source, start: number): { value: string; end: number } {
  const s = src.text;
  const bytes: number[] = [];
  let p = start + 1;
  for (;;) {
    const c = s[p];
    if (c === undefined || c === "\n") throw src.error(start, "unterminated quoted string");
    if (c === '"') break;
    if (c !== "\\") {
      const cp = s.codePointAt(p) as number;
      bytes.push(...Buffer.from(String.fromCodePoint(cp), "utf8"));
      p += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = s[p + 1] ?? "";
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      bytes.push(simple);
      p += 2;
    } else if (e === "x" && /^[0-9A-Fa-f]{2}$/.test(s.slice(p + 2, p + 4))) {
      bytes.push(parseInt(s.slice(p + 2, p + 4), 16));
      p += 4;
    } else if (/^[0-7]{3}$/.test(s.slice(p + 1, p + 4)) && parseInt(s.slice(p + 1, p + 4), 8) <= 255) {
      bytes.push(parseInt(s.slice(p + 1, p + 4), 8));
      p += 4;
    } else if ((e === "u" || e === "U") && new RegExp(`^[0-9A-Fa-f]{${e === "u" ? 4 : 8}}$`).test(s.slice(p + 2, p + (e === "u" ? 6 : 10)))) {
      const n = e === "u" ? 4 : 8;
      const cp = parseInt(s.slice(p + 2, p + 2 + n), 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) throw src.error(p, `invalid escape \\${s.slice(p + 1, p + 2 + n)} in quoted string`);
      bytes.push(...Buffer.from(String.fromCodePoint(cp), "utf8"));
      p += 2 + n;
    } else throw src.error(p, `invalid escape \\${e} in quoted string`);
  }
  const value = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  try {
    return { value: value.decode(Uint8Array.from(bytes)), end: p + 1 };
  } catch {
    throw src.error(start, "the string is not valid UTF-8 (a ConfigMap holds UTF-8 text)");
  }
}

// ---- parser ------------------------------------------------------------------------

class Parser {
  #i = 0;
  readonly src: Source;
  readonly tokens: readonly Token[];
  constructor(src: Source, tokens: readonly Token[]) {
    this.src = src;
    this.tokens = tokens;
  }

  #peek(): Token | undefined {
    return this.tokens[this.#i];
  }
  #next(): Token | undefined {
    return this.tokens[this.#i++];
  }
  /** The next token other than space. */
  #nextNonSpace(): Token | undefined {
    let t = this.#next();
    while (t?.t === "space") t = this.#next();
    return t;
  }
  #peekNonSpace(): Token | undefined {
    let j = this.#i;
    while (this.tokens[j]?.t === "space") j++;
    return this.tokens[j];
  }
  #end(): number {
    return this.src.text.length;
  }

  /** Parses a list of nodes up to EOF (top) or to `{{ else … }}` / `{{ end }}`. */
  parseList(open: number | undefined): { nodes: Node[]; stop: "eof" | "end" | "else"; at: number } {
    const nodes: Node[] = [];
    for (;;) {
      const t = this.#next();
      if (t === undefined) {
        if (open !== undefined) throw this.src.error(open, "unexpected EOF: missing {{ end }}");
        return { nodes, stop: "eof", at: this.#end() };
      }
      if (t.t === "text") {
        nodes.push({ t: "text", text: t.text });
        continue;
      }
      // t is "open"
      const first = this.#peekNonSpace();
      if (first?.t === "ident" && (first.text === "end" || first.text === "else")) {
        this.#nextNonSpace();
        if (open === undefined) throw this.src.error(first.at, `unexpected {{ ${first.text} }}`);
        if (first.text === "end") this.#expectClose(first.at, "end");
        return { nodes, stop: first.text, at: first.at };
      }
      if (first?.t === "ident" && (first.text === "if" || first.text === "with")) {
        this.#nextNonSpace();
        nodes.push(this.#parseControl(first.text, first.at));
        continue;
      }
      if (first?.t === "ident" && UNSUPPORTED_KEYWORDS.has(first.text)) {
        throw this.src.error(first.at, `{{ ${first.text} }} is not supported by moco-ts`);
      }
      nodes.push({ t: "action", at: t.at, pipe: this.#parsePipeline(t.at, "close") });
    }
  }

  #expectClose(at: number, what: string): void {
    const t = this.#nextNonSpace();
    if (t?.t !== "close") throw this.src.error(at, `unexpected ${describe(t)} in ${what}`);
  }

  #parseControl(kind: "if" | "with", at: number): Node {
    const pipe = this.#parsePipeline(at, "close");
    const then = this.parseList(at);
    let otherwise: Node[] = [];
    if (then.stop === "else") {
      const next = this.#peekNonSpace();
      if (next?.t === "ident" && next.text === "if") {
        // {{ else if … }}: a nested if sharing this {{ end }}.
        this.#nextNonSpace();
        otherwise = [this.#parseControl("if", next.at)];
        return { t: kind, at, pipe, then: then.nodes, otherwise };
      }
      this.#expectClose(then.at, "else");
      const rest = this.parseList(at);
      if (rest.stop === "else") throw this.src.error(rest.at, "expected {{ end }}; found {{ else }}");
      otherwise = rest.nodes;
    }
    return { t: kind, at, pipe, then: then.nodes, otherwise };
  }

  #parsePipeline(at: number, stop: "close" | "rparen"): Pipeline {
    const commands: Command[] = [];
    let command: Operand[] = [];
    for (;;) {
      const t = this.#nextNonSpace();
      if (t === undefined) throw this.src.error(at, stop === "close" ? "unclosed action" : "unclosed left paren");
      if (t.t === stop) break;
      if (t.t === "pipe") {
        if (command.length === 0) throw this.src.error(t.at, "missing command before |");
        commands.push(command);
        command = [];
        continue;
      }
      command.push(this.#parseOperand(t));
      const after = this.#peek();
      if (after !== undefined && after.t !== "space" && after.t !== "pipe" && after.t !== stop) {
        throw this.src.error(after.at, `unexpected ${describe(after)} in operand`);
      }
    }
    if (command.length === 0) throw this.src.error(at, commands.length === 0 ? "missing value for command" : "missing command after |");
    commands.push(command);
    commands.forEach((c, i) => {
      const head = c[0] as Operand;
      if (head.t !== "func" && c.length > 1) throw this.src.error(at, "can't give argument to non-function");
      if (head.t !== "func" && i > 0) throw this.src.error(at, "a value cannot take piped input; only a function can follow |");
      c.slice(1).forEach((o) => {
        if (o.t === "func") throw this.src.error(at, `function ${o.name} used as an argument: wrap it in parentheses`);
      });
    });
    return commands;
  }

  #fieldChain(): string[] {
    const fields: string[] = [];
    for (let t = this.#peek(); t?.t === "field"; t = this.#peek()) {
      fields.push(t.text);
      this.#next();
    }
    return fields;
  }

  #parseOperand(t: Token): Operand {
    switch (t.t) {
      case "dot":
        return { t: "dot", fields: [] };
      case "field":
        return { t: "dot", fields: [t.text, ...this.#fieldChain()] };
      case "lparen": {
        const pipe = this.#parsePipeline(t.at, "rparen");
        return { t: "pipe", pipe, fields: this.#fieldChain() };
      }
      case "string":
        return { t: "const", value: { k: "string", v: t.value } };
      case "number": {
        if (!/^[+-]?(0|[1-9][0-9]*)$/.test(t.text)) {
          throw this.src.error(t.at, `number ${t.text}: only decimal integers are supported by moco-ts`);
        }
        const n = Number(t.text);
        if (!Number.isSafeInteger(n)) throw this.src.error(t.at, `number ${t.text} is out of range`);
        return { t: "const", value: { k: "int", v: n } };
      }
      case "ident":
        if (t.text === "true" || t.text === "false") return { t: "const", value: { k: "bool", v: t.text === "true" } };
        if (FUNCTIONS.has(t.text)) return { t: "func", name: t.text };
        if (t.text === "nil") throw this.src.error(t.at, "nil is not supported by moco-ts");
        if (GO_ONLY_FUNCTIONS.has(t.text)) throw this.src.error(t.at, `function "${t.text}" is not supported by moco-ts`);
        throw this.src.error(t.at, `function "${t.text}" not defined`);
      default:
        throw this.src.error(t.at, `unexpected ${describe(t)} in command`);
    }
  }
}

function describe(t: Token | undefined): string {
  if (t === undefined) return "EOF";
  switch (t.t) {
    case "close":
      return "}}";
    case "rparen":
      return ")";
    case "lparen":
      return "(";
    case "pipe":
      return "|";
    case "ident":
    case "number":
      return JSON.stringify(t.text);
    case "field":
      return `.${t.text}`;
    default:
      return t.t;
  }
}

// ---- evaluation --------------------------------------------------------------------

function typeName(v: Value): string {
  return v.k === "data" ? DATA_TYPE : v.k;
}

function truth(v: Value): boolean {
  switch (v.k) {
    case "string":
      return v.v !== "";
    case "int":
      return v.v !== 0;
    case "bool":
      return v.v;
    case "data":
      return true;
  }
}

/** fmt's %v. */
function formatPercentV(v: Value): string {
  switch (v.k) {
    case "string":
      return v.v;
    case "int":
    case "bool":
      return String(v.v);
    case "data":
      return `{${v.v.Path}}`;
  }
}

/** Go's strconv.Quote (printable runes kept, others escaped). */
export function goQuote(s: string, quote = '"'): string {
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (cp === 7) out += "\\a";
    else if (cp === 8) out += "\\b";
    else if (cp === 12) out += "\\f";
    else if (cp === 10) out += "\\n";
    else if (cp === 13) out += "\\r";
    else if (cp === 9) out += "\\t";
    else if (cp === 11) out += "\\v";
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp === 0x20 || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return out + quote;
}

interface Spec {
  minus: boolean;
  zero: boolean;
  width: number | undefined;
  precision: number | undefined;
}

/** fmt's padding to the width: spaces, or zeros (after the sign of a number). */
function pad(s: string, spec: Spec, numeric: boolean): string {
  const len = [...s].length;
  if (spec.width === undefined || len >= spec.width) return s;
  const fill = spec.width - len;
  if (spec.minus) return s + " ".repeat(fill);
  if (!spec.zero) return " ".repeat(fill) + s;
  const sign = numeric && s.startsWith("-") ? "-" : "";
  return sign + "0".repeat(fill) + s.slice(sign.length);
}

/** fmt's `%!verb(type=value)`: the value printed with %v and the directive's flags and width. */
function badVerb(verb: string, v: Value, spec: Spec): string {
  return `%!${verb}(${typeName(v)}=${formatVerb("v", v, spec)})`;
}

/** One verb applied to one value, as fmt does for string, int and bool. */
function formatVerb(verb: string, v: Value, spec: Spec): string {
  if (v.k === "data") return `{${formatVerb(verb, { k: "string", v: v.v.Path }, spec)}}`;
  const precise = (s: string) => (spec.precision === undefined ? s : [...s].slice(0, spec.precision).join(""));
  switch (verb) {
    case "v":
      return v.k === "int" ? pad(String(v.v), spec, true) : pad(v.k === "string" ? precise(v.v) : String(v.v), spec, false);
    case "s":
      return v.k === "string" ? pad(precise(v.v), spec, false) : badVerb(verb, v, spec);
    case "q":
      if (v.k === "string") return pad(goQuote(precise(v.v)), spec, false);
      if (v.k === "int" && v.v >= 0 && v.v <= 0x10ffff) return pad(goQuote(String.fromCodePoint(v.v), "'"), spec, false);
      return badVerb(verb, v, spec);
    case "d":
      return v.k === "int" ? pad(String(v.v), spec, true) : badVerb(verb, v, spec);
    case "x":
    case "X": {
      let hex: string;
      if (v.k === "int") hex = (v.v < 0 ? "-" : "") + Math.abs(v.v).toString(16);
      else if (v.k === "string") hex = Buffer.from(v.v, "utf8").toString("hex");
      else return badVerb(verb, v, spec);
      return pad(verb === "X" ? hex.toUpperCase() : hex, spec, true);
    }
    case "t":
      return v.k === "bool" ? pad(String(v.v), spec, false) : badVerb(verb, v, spec);
    default:
      return badVerb(verb, v, spec);
  }
}

/** fmt.Sprintf for the verbs and flags listed in the header; others are refused. */
function sprintf(format: string, args: readonly Value[], fail: (detail: string) => never): string {
  let out = "";
  let argi = 0;
  const re = /%([-+# 0]*)([0-9]*)(?:\.([0-9]*))?(.?)/gsy;
  let p = 0;
  while (p < format.length) {
    const pct = format.indexOf("%", p);
    if (pct < 0) {
      out += format.slice(p);
      break;
    }
    out += format.slice(p, pct);
    re.lastIndex = pct;
    const m = re.exec(format) as RegExpExecArray;
    p = re.lastIndex;
    const [whole, flags = "", width = "", precision, verb = ""] = m;
    if (verb === "") {
      out += "%!(NOVERB)";
      continue;
    }
    if (verb === "%") {
      if (whole !== "%%") fail(`printf: the directive ${JSON.stringify(whole)} is not supported by moco-ts`);
      out += "%";
      continue;
    }
    if (!"vsqdxXt".includes(verb)) fail(`printf: the verb %${verb} is not supported by moco-ts (use %v %s %q %d %x %X %t)`);
    const spec: Spec = {
      minus: flags.includes("-"),
      zero: flags.includes("0") && !flags.includes("-"),
      width: width === "" ? undefined : Number(width),
      precision: precision === undefined ? undefined : Number(precision === "" ? "0" : precision),
    };
    const other = flags.replace(/[-0]/g, "");
    if (other !== "") fail(`printf: the flag ${JSON.stringify(other[0])} is not supported by moco-ts (only "-" and "0")`);
    if (spec.precision !== undefined && !"sqv".includes(verb)) fail(`printf: a precision with %${verb} is not supported by moco-ts`);
    const arg = args[argi++];
    out += arg === undefined ? `%!${verb}(MISSING)` : formatVerb(verb, arg, spec);
  }
  if (argi < args.length) out += `%!(EXTRA ${args.slice(argi).map((a) => `${typeName(a)}=${formatPercentV(a)}`).join(", ")})`;
  return out;
}

function compare(name: string, a: Value, b: Value, fail: (detail: string) => never): number {
  if (a.k === "data" || b.k === "data") fail(`${name}: invalid type for comparison`);
  if (a.k !== b.k) fail(`${name}: incompatible types for comparison: ${a.k} and ${b.k}`);
  if (a.k === "bool") {
    if (name !== "eq" && name !== "ne") fail(`${name}: invalid type for comparison`);
    return a.v === b.v ? 0 : 1;
  }
  return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
}

class Evaluator {
  readonly src: Source;
  constructor(src: Source) {
    this.src = src;
  }

  #fail(at: number): (detail: string) => never {
    return (detail) => {
      throw this.src.error(at, detail);
    };
  }

  list(nodes: readonly Node[], dot: Value): string {
    let out = "";
    for (const n of nodes) {
      if (n.t === "text") out += n.text;
      else if (n.t === "action") out += formatPercentV(this.#pipe(n.pipe, dot, n.at));
      else {
        const v = this.#pipe(n.pipe, dot, n.at);
        if (truth(v)) out += this.list(n.then, n.t === "with" ? v : dot);
        else out += this.list(n.otherwise, dot);
      }
    }
    return out;
  }

  #pipe(pipe: Pipeline, dot: Value, at: number): Value {
    let final: Value | undefined;
    for (const cmd of pipe) {
      const head = cmd[0] as Operand;
      if (head.t === "func") {
        const args = cmd.slice(1);
        final = this.#call(head.name, args, final, dot, at);
      } else final = this.#operand(head, dot, at);
    }
    return final as Value;
  }

  #fields(v: Value, fields: readonly string[], at: number): Value {
    let cur = v;
    for (const f of fields) {
      if (cur.k === "data" && f === "Path") cur = { k: "string", v: cur.v.Path };
      else throw this.src.error(at, `can't evaluate field ${f} in type ${typeName(cur)} (the data has only .Path)`);
    }
    return cur;
  }

  #operand(o: Operand, dot: Value, at: number): Value {
    switch (o.t) {
      case "dot":
        return this.#fields(dot, o.fields, at);
      case "const":
        return o.value;
      case "pipe":
        return this.#fields(this.#pipe(o.pipe, dot, at), o.fields, at);
      case "func":
        throw this.src.error(at, `function ${o.name} used as a value`);
    }
  }

  #call(name: string, operands: readonly Operand[], final: Value | undefined, dot: Value, at: number): Value {
    const fail: (detail: string) => never = this.#fail(at);
    const all: (() => Value)[] = operands.map((o) => () => this.#operand(o, dot, at));
    if (final !== undefined) all.push(() => final);
    const want = (n: number) => {
      if (all.length !== n) fail(`wrong number of args for ${name}: want ${n} got ${all.length}`);
    };
    switch (name) {
      case "and":
      case "or": {
        if (all.length === 0) fail(`wrong number of args for ${name}: want at least 1 got 0`);
        let v = (all[0] as () => Value)();
        for (const next of all.slice(1)) {
          if (truth(v) !== (name === "and")) return v;
          v = next();
        }
        return v;
      }
      case "not":
        want(1);
        return { k: "bool", v: !truth((all[0] as () => Value)()) };
      case "len": {
        want(1);
        const v = (all[0] as () => Value)();
        if (v.k !== "string") fail(`error calling len: len of type ${typeName(v)}`);
        return { k: "int", v: Buffer.byteLength(v.v, "utf8") };
      }
      default:
        break;
    }
    const args = all.map((f) => f());
    switch (name) {
      case "print":
        return { k: "string", v: args.map((a, i) => (i > 0 && a.k !== "string" && (args[i - 1] as Value).k !== "string" ? " " : "") + formatPercentV(a)).join("") };
      case "println":
        return { k: "string", v: `${args.map(formatPercentV).join(" ")}\n` };
      case "printf": {
        const format = args[0];
        if (format === undefined) fail("wrong number of args for printf: want at least 1 got 0");
        if (format.k !== "string") fail(`wrong type for value; expected string; got ${typeName(format)}`);
        return { k: "string", v: sprintf(format.v, args.slice(1), fail) };
      }
      case "eq": {
        if (args.length < 2) fail("missing argument for comparison");
        const [first, ...rest] = args as [Value, ...Value[]];
        return { k: "bool", v: rest.some((b) => compare(name, first, b, fail) === 0) };
      }
      default: {
        want(2);
        const c = compare(name, args[0] as Value, args[1] as Value, fail);
        const v = name === "ne" ? c !== 0 : name === "lt" ? c < 0 : name === "le" ? c <= 0 : name === "gt" ? c > 0 : c >= 0;
        return { k: "bool", v };
      }
    }
  }
}

/**
 * Renders `template` with `data` as Go's text/template would, for the subset in this
 * file's header; throws a TemplateError (with line and column) for anything else.
 */
export function renderGoTemplate(template: string, data: TemplateData): string {
  const src = new Source(template);
  const { nodes } = new Parser(src, lex(src)).parseList(undefined);
  return new Evaluator(src).list(nodes, { k: "data", v: data });
}
