// renderGoTemplate (src/api/v1beta2/gotemplate.ts) against Go's text/template. Every
// expected output in GO_OUTPUTS was produced by Go 1.26's text/template executing the
// template with the data struct{ Path string }{"/var/log/mysql/mysql.slow"}.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderGoTemplate, TemplateError, type TemplateData } from "../../../src/api/v1beta2/gotemplate.ts";

const DATA: TemplateData = { Path: "/var/log/mysql/mysql.slow" };
const render = (t: string) => renderGoTemplate(t, DATA);

const GO_OUTPUTS: readonly (readonly [string, string])[] = [
  ["[INPUT]\n  Path {{ .Path }}\n", "[INPUT]\n  Path /var/log/mysql/mysql.slow\n"],
  ["a {{.Path}} b", "a /var/log/mysql/mysql.slow b"],
  ["a {{   .Path\t}} b", "a /var/log/mysql/mysql.slow b"],
  ["a {{\n.Path\n}} b", "a /var/log/mysql/mysql.slow b"],
  ["x  {{- .Path -}}  y", "x/var/log/mysql/mysql.slowy"],
  ["x \n\t {{- .Path }} \n y", "x/var/log/mysql/mysql.slow \n y"],
  ["x {{ .Path -}} \n\r\n y", "x /var/log/mysql/mysql.slowy"],
  ["a {{/* comment */}} b", "a  b"],
  ["a {{- /* comment */ -}} b", "ab"],
  ["a {{/* multi\nline }} */}}b", "a b"],
  ["{{ if .Path }}yes{{ else }}no{{ end }}", "yes"],
  ["{{ if not .Path }}yes{{ else }}no{{ end }}", "no"],
  ["{{ if eq .Path \"/x\" }}x{{ else if eq .Path \"/var/log/mysql/mysql.slow\" }}slow{{ else }}other{{ end }}", "slow"],
  ["{{ with .Path }}{{ . }}{{ end }}", "/var/log/mysql/mysql.slow"],
  ["{{ with \"\" }}set{{ else }}empty {{ .Path }}{{ end }}", "empty /var/log/mysql/mysql.slow"],
  ["{{ with .Path }}{{ len . }}{{ end }}", "25"],
  ["{{ . }}", "{/var/log/mysql/mysql.slow}"],
  ["{{ printf \"%s\" .Path }}", "/var/log/mysql/mysql.slow"],
  ["{{ printf \"%q\" .Path }}", "\"/var/log/mysql/mysql.slow\""],
  ["{{ printf \"%v|%d|%t\" .Path 42 true }}", "/var/log/mysql/mysql.slow|42|true"],
  ["{{ printf \"%-15s|\" \"Path\" }}", "Path           |"],
  ["{{ printf \"%15s|\" \"Path\" }}", "           Path|"],
  ["{{ printf \"%.3s|%5.2s|\" \"abcdef\" \"xyz\" }}", "abc|   xy|"],
  ["{{ printf \"%05d|%-5d|%x|%X|%x\" 42 7 255 255 \"hi\" }}", "00042|7    |ff|FF|6869"],
  ["{{ printf \"%05s\" \"ab\" }}", "000ab"],
  ["{{ printf \"%d\" \"str\" }}", "%!d(string=str)"],
  ["{{ printf \"%s %s\" \"one\" }}", "one %!s(MISSING)"],
  ["{{ printf \"%s\" \"one\" 2 true }}", "one%!(EXTRA int=2, bool=true)"],
  ["{{ printf \"100%%\" }}", "100%"],
  ["{{ printf \"%\" }}", "%!(NOVERB)"],
  ["{{ printf \"%q\" 65 }}", "'A'"],
  ["{{ printf \"%v\" . }}", "{/var/log/mysql/mysql.slow}"],
  ["{{ printf \"%q\" \"tab\\there \\\"q\\\" \\u00e9 \\x01\" }}", "\"tab\\there \\\"q\\\" é \\x01\""],
  ["{{ .Path | printf \"%s.0\" }}", "/var/log/mysql/mysql.slow.0"],
  ["{{ .Path | printf \"%s:%s\" \"tail\" }}", "tail:/var/log/mysql/mysql.slow"],
  ["{{ .Path | len }}", "25"],
  ["{{ print \"a\" \"b\" 1 2 true \"c\" }}", "ab1 2 truec"],
  ["{{ println \"a\" 1 }}", "a 1\n"],
  ["{{ print }}|{{ println }}|", "|\n|"],
  ["{{ and .Path \"x\" }}|{{ and \"\" .Path }}|{{ or \"\" 0 }}|{{ or \"\" \"y\" }}", "x||0|y"],
  ["{{ and 1 0 }}|{{ or 0 3 }}", "0|3"],
  ["{{ eq 1 2 3 1 }}|{{ ne \"a\" \"b\" }}|{{ lt 1 2 }}|{{ le 2 2 }}|{{ gt \"b\" \"a\" }}|{{ ge 1 2 }}", "true|true|true|true|true|false"],
  ["{{ eq true true }}|{{ ne false true }}", "true|true"],
  ["{{ \"a\\tb\\n\" }}", "a\tb\n"],
  ["{{ `raw\\n{{x}}` }}", "raw\\n{{x}}"],
  ["{{ \"\\101\\x42\\u0043\\U0001F600\" }}", "ABC😀"],
  ["{{ (printf \"%s\" .Path) }}", "/var/log/mysql/mysql.slow"],
  ["{{ -3 }}|{{ +4 }}|{{ 0 }}", "-3|4|0"],
  ["{{ true }}|{{ false }}", "true|false"],
  ["{{ not 0 }}|{{ not \"\" }}|{{ not . }}", "true|true|false"],
  ["{{ with .Path }}{{ with \"inner\" }}{{ . }}{{ end }} {{ . }}{{ end }}", "inner /var/log/mysql/mysql.slow"],
  ["{{ (.).Path }}", "/var/log/mysql/mysql.slow"],
  ["{{ printf \"%v\" (eq .Path \"x\") }}", "false"],
  ["a}}b{{\"}}\"}}", "a}}b}}"],
  ["{{- .Path }}", "/var/log/mysql/mysql.slow"],
  ["{{ .Path -}}", "/var/log/mysql/mysql.slow"],
  ["{{ if .Path }}x{{ else }}{{ .Foo }}{{ end }}", "x"],
  ["{{ printf \"%q\" \"\\u00a0é\\U0001F600\\u200b\\u2028x\\x7f\" }}", "\"\\u00a0é😀\\u200b\\u2028x\\x7f\""],
  ["{{ printf \"%05d|%-4s|%6t\" \"r\" 5 1 }}", "%!d(string=0000r)|%!s(int=5   )|%!t(int=     1)"],
  ["", ""],];

describe("renderGoTemplate: same output as Go's text/template", () => {
  for (const [template, want] of GO_OUTPUTS) {
    it(JSON.stringify(template), () => assert.equal(render(template), want));
  }
});

// Realistic slowQueryLogConfigTmpl values (also checked with Go 1.26).
const FLUENT_BIT: readonly { name: string; template: string; want: string }[] = [
  {
    name: "MOCO's default template",
    template:
      "[SERVICE]\n  Log_Level      error\n[INPUT]\n  Name           tail\n  Path           {{ .Path }}\n  Read_from_Head true\n" +
      "[OUTPUT]\n  Name           file\n  Match          *\n  Path           /dev\n  File           stdout\n  Format         template\n  Template       {log}\n",
    want:
      "[SERVICE]\n  Log_Level      error\n[INPUT]\n  Name           tail\n  Path           /var/log/mysql/mysql.slow\n  Read_from_Head true\n" +
      "[OUTPUT]\n  Name           file\n  Match          *\n  Path           /dev\n  File           stdout\n  Format         template\n  Template       {log}\n",
  },
  {
    name: "extra [FILTER] and an aligned printf entry",
    template:
      "{{/* slow log to the collector */}}\n[INPUT]\n  Name tail\n  Tag  mysql.slow\n  Path {{.Path}}\n" +
      "[FILTER]\n  Name  record_modifier\n  Match mysql.*\n  Record source {{ printf \"%q\" .Path }}\n" +
      "{{ printf \"  %-15s%s\" \"Mem_Buf_Limit\" \"5MB\" }}\n[OUTPUT]\n  Name  forward\n  Match *\n",
    want:
      "\n[INPUT]\n  Name tail\n  Tag  mysql.slow\n  Path /var/log/mysql/mysql.slow\n" +
      "[FILTER]\n  Name  record_modifier\n  Match mysql.*\n  Record source \"/var/log/mysql/mysql.slow\"\n" +
      "  Mem_Buf_Limit  5MB\n[OUTPUT]\n  Name  forward\n  Match *\n",
  },
  {
    name: "{{- if .Path }} with trim markers and a trimmed comment",
    template:
      "[INPUT]\n  Name tail\n{{- if .Path }}\n  Path {{ .Path }}\n{{- else }}\n  Path /dev/null\n{{- end }}\n" +
      "{{- /* the rotated file too */}}\n  Exclude_Path {{ .Path | printf \"%s.*\" }}\n",
    want: "[INPUT]\n  Name tail\n  Path /var/log/mysql/mysql.slow\n  Exclude_Path /var/log/mysql/mysql.slow.*\n",
  },
  {
    name: "with, and a raw string",
    template: "{{ with .Path -}}\n  DB {{ . }}.db\n{{- end }}\n  Parser {{ `multiline` }}\n",
    // "-}}" also eats the indentation of the next line (Go does the same).
    want: "DB /var/log/mysql/mysql.slow.db\n  Parser multiline\n",
  },
];

describe("renderGoTemplate: fluent-bit templates MOCO users write", () => {
  for (const { name, template, want } of FLUENT_BIT) {
    it(name, () => assert.equal(render(template), want));
  }
});

// Refused: Go's own errors, and what moco-ts does not support. [template, line, column, detail]
const REFUSED: readonly (readonly [string, number, number, RegExp])[] = [
  ["{{ .Foo }}", 1, 1, /can't evaluate field Foo in type struct \{ Path string \}/],
  ["{{ .path }}", 1, 1, /can't evaluate field path/],
  ["{{ .Path.Foo }}", 1, 1, /can't evaluate field Foo in type string/],
  ["{{ with .Path }}{{ .Path }}{{ end }}", 1, 17, /can't evaluate field Path in type string/],
  ["line1\nline2 {{ .Nope }}", 2, 7, /can't evaluate field Nope/],
  ["{{ .Path ", 1, 1, /unclosed action/],
  ["{{ .Path }} {{", 1, 13, /unclosed action/],
  ["{{/* unclosed", 1, 1, /unclosed comment/],
  ["{{/* c */ x}}", 1, 1, /comment ends before closing delimiter/],
  ["{{ }}", 1, 1, /missing value for command/],
  ["{{ range .Path }}{{ end }}", 1, 4, /\{\{ range \}\} is not supported by moco-ts/],
  ['{{ define "x" }}{{ end }}', 1, 4, /\{\{ define \}\} is not supported/],
  ['{{ template "x" }}', 1, 4, /\{\{ template \}\} is not supported/],
  ['{{ block "x" . }}{{ end }}', 1, 4, /\{\{ block \}\} is not supported/],
  ["{{ $x := .Path }}{{ $x }}", 1, 4, /variables \(\$…\) are not supported/],
  ["{{ html .Path }}", 1, 4, /function "html" is not supported by moco-ts/],
  ["{{ foo .Path }}", 1, 4, /function "foo" not defined/],
  ["{{ if .Path }}x", 1, 4, /missing \{\{ end \}\}/],
  ["{{ end }}", 1, 4, /unexpected \{\{ end \}\}/],
  ["{{ else }}", 1, 4, /unexpected \{\{ else \}\}/],
  ["{{ if .Path }}a{{ else }}b{{ else }}c{{ end }}", 1, 30, /expected \{\{ end \}\}; found \{\{ else \}\}/],
  ["{{ if .Path }}a{{ else with .Path }}b{{ end }}", 1, 19, /unexpected "with" in else/],
  ["{{ nil }}", 1, 4, /nil is not supported/],
  ["{{ 1.5 }}", 1, 4, /only decimal integers are supported/],
  ["{{ 0x10 }}", 1, 4, /only decimal integers are supported/],
  ["{{ 'a' }}", 1, 4, /character constants are not supported/],
  ['{{ "unterminated }}', 1, 4, /unterminated quoted string/],
  ['{{ "bad \\q escape" }}', 1, 9, /invalid escape \\q/],
  ["{{ `raw }}", 1, 4, /unterminated raw quoted string/],
  ['{{ "\\xff" }}', 1, 4, /not valid UTF-8/],
  ["{{ len 3 }}", 1, 1, /len of type int/],
  ["{{ not }}", 1, 1, /wrong number of args for not: want 1 got 0/],
  ["{{ eq 1 }}", 1, 1, /missing argument for comparison/],
  ['{{ eq 1 "a" }}', 1, 1, /incompatible types for comparison: int and string/],
  ["{{ lt true false }}", 1, 1, /invalid type for comparison/],
  ["{{ printf 3 }}", 1, 1, /expected string; got int/],
  ['{{ .Path "x" }}', 1, 1, /can't give argument to non-function/],
  ['{{ "x" | .Path }}', 1, 1, /only a function can follow \|/],
  ["{{ .Path | }}", 1, 1, /missing command after \|/],
  ["{{ | len }}", 1, 4, /missing command before \|/],
  ["{{ @ }}", 1, 4, /unrecognized character in action: "@"/],
  ['{{ printf "%e" 1 }}', 1, 1, /the verb %e is not supported by moco-ts/],
  ['{{ printf "%+d" 1 }}', 1, 1, /the flag "\+" is not supported by moco-ts/],
  ["{{ eq . . }}", 1, 1, /invalid type for comparison/],
  ["{{ ( .Path }}", 1, 12, /unexpected \}\} in command/],
];

describe("renderGoTemplate: refused templates name the action and its position", () => {
  for (const [template, line, column, detail] of REFUSED) {
    it(JSON.stringify(template), () => {
      assert.throws(
        () => render(template),
        (e: unknown) => {
          assert.ok(e instanceof TemplateError, String(e));
          assert.deepEqual([e.line, e.column], [line, column]);
          assert.match(e.detail, detail);
          assert.match(e.message, new RegExp(`^line ${line}, column ${column}: `));
          return true;
        },
      );
    });
  }

  it("the message quotes the action", () => {
    assert.throws(() => render("a\n  {{ .Foo }}\n"), { message: /^line 2, column 3: \{\{ \.Foo \}\}: can't evaluate field Foo/ });
  });
});
