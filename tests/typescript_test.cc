// Specification of TypeScript support (include/quickbox/typescript.hh, EvalOptions::language):
// erasable syntax is stripped, enum and namespace are transformed, positions in stack traces and
// SyntaxErrors are the TypeScript's, and hostile input ends in a clear error, never a crash.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace test_support;

EvalOptions ts(std::string filename = "<ts>") {
  EvalOptions options;
  options.language = SourceLanguage::TypeScript;
  options.filename = std::move(filename);
  return options;
}

Value run_ts(std::string_view source) {
  Sandbox sandbox = make_sandbox();
  return eval_ok(sandbox, source, ts());
}

std::string strip(std::string_view source, SourceLanguage language = SourceLanguage::TypeScript) {
  TransformOptions options;
  options.language = language;
  auto js = transform_source(source, options);
  EXPECT_TRUE(js.ok()) << (js.ok() ? "" : js.error().to_string());
  return js.ok() ? js.value() : "";
}

Error strip_error(std::string_view source, SourceLanguage language = SourceLanguage::TypeScript) {
  TransformOptions options;
  options.language = language;
  options.filename = "<ts>";
  auto js = transform_source(source, options);
  EXPECT_FALSE(js.ok()) << "stripped to: " << (js.ok() ? js.value() : "");
  return js.ok() ? Error{} : js.error();
}

// ---- erasable syntax is stripped, keeping every column ----------------------------------------------

TEST(TypeScript, AnnotationsBecomeSpaces) {
  EXPECT_EQ(strip("let x: number = 1;"), "let x         = 1;");
  EXPECT_EQ(strip("function f(a: string, b: Array<number>): void {}"),
            "function f(a        , b               )       {}");
  EXPECT_EQ(strip("const g = (a: number): number => a;"), "const g = (a        )         => a;");
  EXPECT_EQ(strip("try {} catch (e: unknown) {}"), "try {} catch (e         ) {}");
  EXPECT_EQ(run_ts("const total: number = [1, 2, 3].reduce((a: number, b: number): number => a + b, 0); total"),
            Value(6));
}

TEST(TypeScript, InterfacesAndTypeAliasesAreRemovedWhole) {
  // A removed statement leaves a `;`, so the statements around it cannot merge.
  EXPECT_EQ(strip("interface P { x: number }"), ";                        ");
  EXPECT_EQ(strip("type T = string | number;"), ";                        ");
  EXPECT_EQ(run_ts("let a = 1\ntype T = number\n(function () { a = 2 })()\na"), Value(2));
  EXPECT_EQ(run_ts("interface Point {\n  x: number;\n  y: number;\n}\nconst p: Point = { x: 1, y: 2 };\np.x + p.y"),
            Value(3));
}

TEST(TypeScript, GenericsAreStripped) {
  EXPECT_EQ(strip("function id<T>(x: T): T { return x; }"), "function id   (x   )    { return x; }");
  EXPECT_EQ(strip("const m = new Map<string, number>();"), "const m = new Map                ();");
  EXPECT_EQ(strip("f<number>(1);"), "f        (1);");
  EXPECT_EQ(run_ts("class Box<T> { constructor(public v: T) {} get(): T { return this.v; } }\n"
                   "const b = new Box<string>('x');\nconst id = <T,>(x: T): T => x;\nid<string>(b.get())"),
            Value("x"));
}

TEST(TypeScript, AsSatisfiesAndNonNullAreStripped) {
  EXPECT_EQ(strip("const a = (x as any).y;"), "const a = (x       ).y;");
  EXPECT_EQ(strip("const c = { a: 1 } satisfies { a: number };"), "const c = { a: 1 }                        ;");
  EXPECT_EQ(strip("const d = x!.y!;"), "const d = x .y ;");
  EXPECT_EQ(strip("const e = <string>x;"), "const e =         x;");
  EXPECT_EQ(run_ts("const o: { v?: number } = { v: 4 };\n(o.v! as number) * (o satisfies object ? 2 : 0)"), Value(8));
}

TEST(TypeScript, DeclareIsRemoved) {
  EXPECT_EQ(strip("declare const x: number;"), ";                       ");
  EXPECT_EQ(strip("declare function f(): void;"), ";                          ");
  EXPECT_EQ(strip("declare module 'm' { }"), ";                     ");
  EXPECT_EQ(strip("declare global { interface W {} }"), ";                                ");
  EXPECT_EQ(run_ts("declare let injected: number;\nclass C { declare x: number; y = 1 }\nnew C().y + ('x' in new C() ? 10 : 0)"),
            Value(1));
}

TEST(TypeScript, AccessModifiersAndAbstractAreStripped) {
  EXPECT_EQ(strip("class A { private x = 1; public static readonly y = 2; protected m(): void {} }"),
            "class A {         x = 1;        static          y = 2;           m()       {} }");
  EXPECT_EQ(run_ts("abstract class Shape {\n  abstract area(): number;\n  protected readonly name: string = 'shape';\n"
                   "  override toString(): string { return this.name; }\n}\n"
                   "class Square extends Shape { constructor(private side: number) { super(); }\n"
                   "  area(): number { return this.side ** 2; } }\nnew Square(3).area()"),
            Value(9));
}

TEST(TypeScript, OptionalParametersAndMembersAreStripped) {
  EXPECT_EQ(strip("function f(a?: number, b?) {}"), "function f(a         , b ) {}");
  EXPECT_EQ(strip("class K { x?: number; m?() {} }"), "class K { x         ; m () {} }");
  EXPECT_EQ(strip("let v!: number;"), "let v         ;");
  EXPECT_EQ(run_ts("function greet(name?: string): string { return `hi ${name ?? 'you'}`; }\ngreet()"), Value("hi you"));
}

TEST(TypeScript, ThisParametersOverloadsIndexSignaturesAndImplementsAreStripped) {
  EXPECT_EQ(strip("function f(this: Window, a) {}"), "function f(              a) {}");
  EXPECT_EQ(run_ts("function pick(x: string): string;\nfunction pick(x: number): number;\n"
                   "function pick(x: any): any { return x; }\n"
                   "interface Named { name: string }\n"
                   "class N implements Named { [key: string]: unknown; name = 'n'; }\n"
                   "pick(new N().name)"),
            Value("n"));
}

TEST(TypeScript, TypeOnlyImportsAndExportsAreRemoved) {
  TransformOptions options;
  options.module = true;
  auto js = transform_source("import type { A } from './a';\nimport { type B, c } from './c';\n"
                             "export type { A };\nexport { type B, c };\nexport type * from './t';\n"
                             "export interface I {}\nexport const x: number = 1;",
                             options);
  ASSERT_TRUE(js.ok()) << js.error().to_string();
  EXPECT_EQ(js.value(),
            ";                            \nimport {         c } from './c';\n"
            ";                 \nexport {         c };\n;                        \n"
            ";                    \nexport const x         = 1;");
  // A module that only had type imports still runs.
  Sandbox sandbox = make_sandbox();
  EvalOptions module = ts();
  module.kind = EvalOptions::Kind::Module;
  Result r = sandbox.eval("export type T = number;\nexport const v: T = 1;\nglobalThis.seen = v;", module);
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(eval_ok(sandbox, "seen"), Value(1));
}

TEST(TypeScript, EnumsBecomeObjectsWithReverseMappings) {
  EXPECT_EQ(run_ts("enum Color { Red, Green = 5, Blue }\n[Color.Red, Color.Green, Color.Blue, Color[6]]"),
            Value(Value::Array{Value(0), Value(5), Value(6), Value("Blue")}));
  EXPECT_EQ(run_ts("enum S { A = 'a', B = 'b' }\nObject.keys(S).join()"), Value("A,B"));  // no reverse map
  EXPECT_EQ(run_ts("const enum Flags { None = 0, R = 1 << 0, W = 1 << 1, RW = R | W }\nFlags.RW"), Value(3));
  EXPECT_EQ(run_ts("enum E { 'two words' = 2 }\nE['two words']"), Value(2));
  // Merged declarations add to one object.
  EXPECT_EQ(run_ts("enum M { A = 1 }\nenum M { B = 2 }\nM.A + M.B"), Value(3));
  // Lines stay where they were: an error after the enum reports its own line.
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "enum Dir {\n  Up,\n  Down,\n}\nnull.x;", ts());
  EXPECT_NE(e.stack.find("<ts>:5:"), std::string::npos) << e.stack;
}

TEST(TypeScript, NamespacesBecomeObjects) {
  EXPECT_EQ(run_ts("namespace Geo {\n  export const unit: string = 'm';\n  export function area(w: number, h: number) { return w * h; }\n"
                   "  const hidden = 1;\n  export class P { x = hidden }\n}\n"
                   "[Geo.unit, Geo.area(2, 3), new Geo.P().x, 'hidden' in Geo]"),
            Value(Value::Array{Value("m"), Value(6), Value(1), Value(false)}));
  EXPECT_EQ(run_ts("namespace A.B { export const c = 3; }\nA.B.c"), Value(3));
  EXPECT_EQ(run_ts("namespace N { export let n = 1; export function inc() { n++; } }\nN.inc(); N.n"), Value(2));
  EXPECT_EQ(run_ts("namespace Outer { export namespace Inner { export enum K { X = 7 } } }\nOuter.Inner.K.X"), Value(7));
  // A namespace of types only disappears, as in TypeScript.
  EXPECT_EQ(strip("namespace T { export type X = number; }"), ";                                      ");
}

TEST(TypeScript, ParameterPropertiesAssignInTheConstructor) {
  EXPECT_EQ(run_ts("class P { constructor(public x: number, private readonly y = 2) {} sum() { return this.x + this.y; } }\n"
                   "new P(1).sum()"),
            Value(3));
  EXPECT_EQ(run_ts("class B { constructor(public a: number) {} }\n"
                   "class D extends B { constructor(a: number, public b: number) { super(a); } }\n"
                   "const d = new D(1, 2); d.a + d.b"),
            Value(3));
}

TEST(TypeScript, TopLevelConstCanBecomeVar) {
  TransformOptions options;
  options.language = SourceLanguage::JavaScript;
  options.top_level_const_to_var = true;
  auto js = transform_source("const a = 1;\n{ const b = 2; }\nfunction f() { const c = 3; }", options);
  ASSERT_TRUE(js.ok()) << js.error().to_string();
  EXPECT_EQ(js.value(), "var   a = 1;\n{ const b = 2; }\nfunction f() { const c = 3; }");
}

TEST(TypeScript, TopLevelAwaitWorksInScripts) {
  EXPECT_EQ(run_ts("const v: number = await Promise.resolve(41);\nv + 1"), Value(42));
}

// ---- positions are the TypeScript's -------------------------------------------------------------------

TEST(TypeScript, StackTracesPointIntoTheTypeScript) {
  // The same program without types, written by hand with the same columns, gives the same stack.
  const char *typescript =
      "interface Options { depth: number }\n"
      "function fail<T>(o: Options, v: T): never { throw new Error(`at ${o.depth}`); }\n"
      "const r = fail<string>({ depth: 1 } as Options, 'x');";
  const char *javascript =
      ";                                  \n"
      "function fail   (o         , v   )        { throw new Error(`at ${o.depth}`); }\n"
      "const r = fail        ({ depth: 1 }           , 'x');";
  EXPECT_EQ(strip(typescript), javascript);
  Sandbox first = make_sandbox();
  Error from_ts = eval_error(first, typescript, ts("prog.ts"));
  Sandbox second = make_sandbox();
  EvalOptions js;
  js.filename = "prog.ts";
  Error from_js = eval_error(second, javascript, js);
  EXPECT_EQ(from_ts.stack, from_js.stack);
  EXPECT_EQ(from_ts.stack, "    at fail (prog.ts:2:67)\n    at <eval> (prog.ts:3:23)\n");
}

TEST(TypeScript, ColumnsCountBytesAsQuickJSDoes) {
  // QuickJS counts a column in bytes of UTF-8, so a blanked character becomes one space per byte.
  EXPECT_EQ(strip("let s: '\xc3\xa9' = 1;"), "let s       = 1;");
  const std::string source = "let s: '\xc3\xa9\xe2\x82\xac' = null as any; s.x;";
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, source, ts());
  EXPECT_EQ(e.stack, "    at <eval> (<ts>:1:" + std::to_string(source.rfind("s.x") + 1) + ")\n");
}

TEST(TypeScript, ArrowReturnTypesOverSeveralLinesStayValid) {
  // `)` and `=>` may not be on different lines in JavaScript: the `)` moves down.
  EXPECT_EQ(run_ts("const f = (a: number):\n  number => a * 2;\nf(4)"), Value(8));
}

TEST(TypeScript, TypeScriptSyntaxErrorsSayWhere) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "const ok = 1;\nconst x: = 2;", ts("bad.ts"));
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "SyntaxError");
  EXPECT_FALSE(e.message.empty());
  EXPECT_EQ(e.stack, "    at bad.ts:2:10\n");
  // Nothing ran.
  EXPECT_EQ(eval_ok(sandbox, "typeof ok"), Value("undefined"));
}

TEST(TypeScript, JavaScriptSyntaxErrorsFoundAfterStrippingSayWhereInTheTypeScript) {
  // oxc's parser does not look for redeclarations; QuickJS does, on the stripped text.
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "let a: number = 1;\nlet b: string = '', a: number = 2;", ts("dup.ts"));
  EXPECT_EQ(e.name, "SyntaxError");
  EXPECT_NE(e.stack.find("dup.ts:2:"), std::string::npos) << e.stack;
}

TEST(TypeScript, ConstructsThatCannotBeErasedAreRefusedWithAPosition) {
  Error e = strip_error("\nimport fs = require('fs');");
  EXPECT_EQ(e.name, "SyntaxError");
  EXPECT_NE(e.message.find("require"), std::string::npos) << e.message;
  EXPECT_EQ(e.stack, "    at <ts>:2:1\n");
  e = strip_error("export = 1;");
  EXPECT_NE(e.message.find("export ="), std::string::npos) << e.message;
}

TEST(TypeScript, TsxStripsTypesAndRefusesJsx) {
  EXPECT_EQ(strip("const n: number = 1;", SourceLanguage::TSX), "const n         = 1;");
  Error e = strip_error("const el = <div>hi</div>;", SourceLanguage::TSX);
  EXPECT_EQ(e.name, "SyntaxError");
  EXPECT_NE(e.message.find("JSX is not supported"), std::string::npos) << e.message;
  EXPECT_EQ(e.stack, "    at <ts>:1:12\n");
}

TEST(TypeScript, ParseOnlyChecksTypeScript) {
  Sandbox sandbox = make_sandbox();
  EvalOptions options = ts();
  options.parse_only = true;
  Result r = sandbox.eval("const f = (x: number): number => x;", options);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(eval_error(sandbox, "const f = (x: number) =>", options).name, "SyntaxError");
}

// ---- hostile input: a clear error, never a crash, a hang or an exhausted host ---------------------

TEST(TypeScriptHostile, DeepNestingIsRefusedBeforeParsing) {
  const size_t n = 60000;  // as deep as fits in the 256 KiB a source may have
  for (const auto &[open, close] : {std::pair<std::string, std::string>{"(", ")"}, {"[", "]"}, {"{", "}"},
                                    {"A<", ">"}, {"f(", ")"}}) {
    std::string source = "let x: ";
    if (open == "A<") {
      for (size_t i = 0; i < n; i++) source += open;
      source += "B";
      for (size_t i = 0; i < n; i++) source += close;
    } else {
      source = "x = ";
      for (size_t i = 0; i < n; i++) source += open;
      for (size_t i = 0; i < n; i++) source += close;
    }
    Error e = strip_error(source);
    EXPECT_EQ(e.name, "SyntaxError") << open;
    EXPECT_NE(e.message.find("nests more than 1000 levels"), std::string::npos) << e.message;
  }
}

TEST(TypeScriptHostile, LongChainsWithoutBracketsAreRefused) {
  const size_t n = 50000;
  std::string bangs(n, '!');
  std::string assignments, arrows, ternaries, unary;
  for (size_t i = 0; i < n; i++) {
    assignments += "a=";
    arrows += "x=>";
    ternaries += "a?b:";
    unary += "- ";
  }
  for (const std::string &source : {bangs + "x", assignments + "1", arrows + "1", ternaries + "c", unary + "1"}) {
    Error e = strip_error(source);
    EXPECT_EQ(e.name, "SyntaxError");
    EXPECT_NE(e.message.find("nests more than"), std::string::npos) << e.message.substr(0, 200);
  }
}

TEST(TypeScriptHostile, InputsBuiltToSlipPastThePreCheckStayWithinTheParserStack) {
  // Closers hidden in regular expressions and strings, and chains broken by line breaks: the
  // pre-check does not see them as deep, and the parser's thread has the stack for them at the
  // largest size accepted. Each ends in JavaScript or a SyntaxError; none takes the process down.
  for (const std::string unit : {"(/)/", "(\")\"", "!\n", "x=>\n", "a=\n", "[/]/,", "{a:/}/,", "a?b:\n",
                                 "`${\"}\"+", "(A|\n", "new \n", "- \n", "f(/)/,", "A<\n"}) {
    std::string source = "x = ";
    while (source.size() + unit.size() < kMaxTransformBytes) source += unit;
    auto js = transform_source(source, {});
    if (!js.ok()) EXPECT_EQ(js.error().name, "SyntaxError") << unit << ": " << js.error().to_string();
  }
}

TEST(TypeScriptHostile, NestingJustUnderTheLimitParses) {
  std::string source = "const x = ";
  for (int i = 0; i < 900; i++) source += "(";
  source += "1";
  for (int i = 0; i < 900; i++) source += ")";
  EXPECT_EQ(strip(source), source);
}

TEST(TypeScriptHostile, OversizedAndInvalidSourcesAreRefused) {
  TransformOptions options;
  auto big = transform_source(std::string(kMaxTransformBytes + 1, ' '), options);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().kind, ErrorKind::InvalidInput);
  EXPECT_NE(big.error().message.find("256 KiB"), std::string::npos) << big.error().message;
  auto bad = transform_source("let x = '\xff';", options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::InvalidInput);
}

TEST(TypeScriptHostile, RandomInputNeverCrashes) {
  // Random sequences of TypeScript tokens, and random text: each ends in JavaScript or a
  // SyntaxError, and whatever JavaScript comes out, QuickJS gets to judge it.
  static const char *kTokens[] = {
      "let ", "const ", "x", "y", ": ", "number", "string", "<", ">", "(", ")", "{", "}", "[", "]", ",", ";",
      "=", "=>", "?", "!", " as ", " satisfies ", "interface ", "type ", "enum ", "namespace ", "class ",
      "implements ", "extends ", "public ", "private ", "readonly ", "abstract ", "declare ", "import ",
      "export ", "from ", "'m'", "`t${", "}`", "/*", "*/", "//", "\n", "1", "\"s\"", ".", "...", "@", "#",
      "function ", "return ", "new ", "this", "super", "constructor", "keyof ", "typeof ", "|", "&", "é"};
  std::mt19937 rng(11);
  Sandbox sandbox = make_sandbox();
  for (int round = 0; round < 1500; round++) {
    std::string source;
    int length = std::uniform_int_distribution<int>(1, 60)(rng);
    for (int i = 0; i < length; i++) {
      if (round % 3 == 2) {
        source += static_cast<char>(std::uniform_int_distribution<int>(0x20, 0x7e)(rng));
      } else {
        source += kTokens[std::uniform_int_distribution<size_t>(0, std::size(kTokens) - 1)(rng)];
      }
    }
    auto js = transform_source(source, {});
    if (js.ok()) {
      Result r = sandbox.eval(js.value());
      if (r.failed()) EXPECT_NE(r.error().kind, ErrorKind::Internal) << source;
    } else {
      EXPECT_TRUE(js.error().kind == ErrorKind::JSException && js.error().name == "SyntaxError")
          << js.error().to_string() << " for: " << source;
    }
  }
}

}  // namespace
}  // namespace quickbox
