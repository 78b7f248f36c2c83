//! quickbox's TypeScript stripper: TypeScript source in, JavaScript out, with every remaining token
//! at the line and column it had, so that stack traces and SyntaxErrors point into the TypeScript.
//!
//! How: oxc parses the source as TypeScript; a visitor collects edits; the edits are applied to
//! the original text.
//! - Erasable syntax (annotations, interfaces, type aliases, generics, `as`, `satisfies`, `!`,
//!   `declare`, access modifiers, `?` on parameters, `import type`...) is *blanked*: each of its
//!   characters becomes one space, line breaks stay. A removed statement starts with `;` so that
//!   the statements around it cannot merge (`let x = 1 \n type T = U \n (f)()`).
//! - `enum`, `namespace` and parameter properties become JavaScript written over the same lines:
//!   lines keep their numbers; columns after an inserted or rewritten part of a line may move.
//! - What cannot be erased or rewritten in place (`import x = require()`, `export =`, JSX) is
//!   refused with a SyntaxError at its position.
//!
//! Bounds, because the input is untrusted: the source length (the caller's), the nesting depth
//! (checked before parsing, since oxc's recursive-descent parser would overflow the stack), a
//! dedicated thread with a known stack for the parse, and `catch_unwind` at the C boundary, so a
//! panic in the parser is an error, not the end of the host process.

use std::panic::{AssertUnwindSafe, catch_unwind};

use oxc_allocator::Allocator;
use oxc_ast::ast::*;
use oxc_ast_visit::{Visit, walk};
use oxc_parser::{ParseOptions, Parser};
use oxc_span::{GetSpan, SourceType, Span};
use oxc_syntax::scope::ScopeFlags;

/// Flags of `quickbox_ts_strip`.
pub const QB_TS_MODULE: u32 = 1; // parse as an ES module (else a script, where top-level await is allowed)
pub const QB_TS_TSX: u32 = 2; // `.tsx`: `<T>x` casts are not allowed; JSX itself is refused
pub const QB_TS_STRIP: u32 = 4; // the source is TypeScript: strip its types (else it is JavaScript)
pub const QB_TS_CONST_TO_VAR: u32 = 8; // top-level `const` becomes `var` (a REPL may declare it again)

/// Status codes of `quickbox_ts_strip`.
pub const QB_TS_OK: i32 = 0;
pub const QB_TS_SYNTAX: i32 = 1; // a SyntaxError in the TypeScript (or a construct refused), at line:column
pub const QB_TS_LIMIT: i32 = 2; // the source is nested too deeply or is too large
pub const QB_TS_INTERNAL: i32 = 3; // the stripper failed (a panic in the parser, a thread that could not start)

/// Deepest bracket nesting accepted (parentheses, brackets, braces and type arguments together).
/// Checked on the raw text before parsing, so strings and comments count too: the check can only
/// err on the side of refusing.
pub const MAX_NESTING: u32 = 1000;
/// Stack of the parsing thread (reserved; a parse touches only what it uses). Measured with oxc
/// 0.146: 100 bytes (`!`) to 1.7 KiB (`(`) per nesting level; inputs built to slip past
/// `nesting_depth` (`(/)/`, `(")"` or `x=>` plus a line break, repeated) need at most about
/// 600 bytes of stack per byte of source, and the largest source accepted is 256 KiB (the C++
/// side's kMaxTransformBytes), which such inputs parse within this stack with room to spare.
const PARSE_STACK_BYTES: usize = 256 << 20;

/// The result of one strip: JavaScript on success, else a message with its 1-based position.
pub struct Outcome {
    pub status: i32,
    pub text: String,
    pub line: u32,
    pub column: u32,
}

impl Outcome {
    fn error(status: i32, text: impl Into<String>, line: u32, column: u32) -> Self {
        Outcome { status, text: text.into(), line, column }
    }
}

/// 1-based line and column of a byte offset, as QuickJS counts them: lines end at `\n`, and a
/// column counts bytes of UTF-8.
fn line_column(source: &str, offset: usize) -> (u32, u32) {
    let before = &source.as_bytes()[..offset.min(source.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line, (before.len() - line_start) as u32 + 1)
}

/// A pre-check of how deeply the source nests, on its raw text, so that the common deep inputs
/// end in a clear error before oxc's recursive-descent parser sees them:
/// - brackets `(`, `[`, `{`, counted everywhere (strings and comments too), closers lowering it;
/// - type-argument openers `<`, which also start speculative parses in TypeScript (`A<A<A<...`
///   costs the parser time and memory, not only stack), counted until a `;`, `{` or `}`;
/// - runs of operators on one line (`!!!!x`, `a = b = c = ...`, `x => y => ...`, `a ? b : c ? ...`),
///   which the parser also handles by recursion, counted until a `,`, `;` or line break.
/// This is a heuristic (a closer inside a string lowers the count); what it misses is bounded by
/// the source size and the parser thread's stack (see PARSE_STACK_BYTES).
/// Returns the first offset where a count goes over `limit`, if any.
fn nesting_depth(source: &[u8], limit: u32) -> Option<usize> {
    let mut depth: u32 = 0; // open brackets
    let mut angles: u32 = 0; // `<` since the last `;`, `{` or `}`
    let mut chain: u32 = 0; // operators since the last `,`, `;` or line break
    for (i, &b) in source.iter().enumerate() {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        match b {
            b'<' => angles += 1,
            b';' | b'{' | b'}' => angles = 0,
            _ => {}
        }
        match b {
            b'!' | b'~' | b'+' | b'-' | b'=' | b'?' | b':' | b'&' | b'|' | b'^' | b'*' | b'%' | b'/'
            | b'@' | b'<' | b'>' => chain += 1,
            b',' | b';' | b'\n' => chain = 0,
            _ => {}
        }
        if depth > limit || angles > limit || chain > limit * 4 {
            return Some(i);
        }
    }
    None
}

/// One change to the source.
enum Edit {
    /// Every character in the range becomes a space; line breaks stay.
    Blank(u32, u32),
    /// The range is replaced by the text (an insertion when the range is empty).
    Replace(u32, u32, String),
}

struct Stripper<'s> {
    source: &'s str,
    bytes: &'s [u8],
    edits: Vec<Edit>,
    /// The first construct refused, with its offset.
    refused: Option<(String, u32)>,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// A JavaScript string literal for `s`.
fn js_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn binding_names(pattern: &BindingPattern, out: &mut Vec<String>) {
    match pattern {
        BindingPattern::BindingIdentifier(id) => out.push(id.name.to_string()),
        BindingPattern::ObjectPattern(p) => {
            for property in &p.properties {
                binding_names(&property.value, out);
            }
            if let Some(rest) = &p.rest {
                binding_names(&rest.argument, out);
            }
        }
        BindingPattern::ArrayPattern(p) => {
            for element in p.elements.iter().flatten() {
                binding_names(element, out);
            }
            if let Some(rest) = &p.rest {
                binding_names(&rest.argument, out);
            }
        }
        BindingPattern::AssignmentPattern(p) => binding_names(&p.left, out),
    }
}

/// True when a namespace body holds anything that exists at run time; a namespace of types only
/// is erased, as TypeScript erases it.
fn namespace_has_values(body: &TSNamespaceDeclarationBody) -> bool {
    match body {
        TSNamespaceDeclarationBody::TSNamespaceDeclaration(inner) => {
            !inner.declare && namespace_has_values(&inner.body)
        }
        TSNamespaceDeclarationBody::TSModuleBlock(block) => block.body.iter().any(statement_has_values),
    }
}

fn declaration_has_values(declaration: &Declaration) -> bool {
    match declaration {
        Declaration::VariableDeclaration(d) => !d.declare,
        Declaration::FunctionDeclaration(f) => !f.declare && f.body.is_some(),
        Declaration::ClassDeclaration(c) => !c.declare,
        Declaration::TSEnumDeclaration(e) => !e.declare,
        Declaration::TSNamespaceDeclaration(n) => !n.declare && namespace_has_values(&n.body),
        Declaration::TSImportEqualsDeclaration(d) => d.import_kind.is_value(),
        Declaration::TSTypeAliasDeclaration(_)
        | Declaration::TSInterfaceDeclaration(_)
        | Declaration::TSExternalModuleDeclaration(_)
        | Declaration::TSGlobalDeclaration(_) => false,
    }
}

fn statement_has_values(statement: &Statement) -> bool {
    match statement {
        Statement::ExportDeclaration(e) => declaration_has_values(&e.declaration),
        Statement::ImportDeclaration(i) => i.import_kind.is_value(),
        Statement::ExportNamedDeclaration(e) => e.export_kind.is_value(),
        Statement::ExportFromDeclaration(e) => e.export_kind.is_value(),
        Statement::ExportAllDeclaration(e) => e.export_kind.is_value(),
        _ => match statement.as_declaration() {
            Some(declaration) => declaration_has_values(declaration),
            None => true,
        },
    }
}

impl<'s> Stripper<'s> {
    fn blank(&mut self, start: u32, end: u32) {
        if start < end {
            self.edits.push(Edit::Blank(start, end));
        }
    }

    fn blank_span(&mut self, span: Span) {
        self.blank(span.start, span.end);
    }

    fn replace(&mut self, start: u32, end: u32, text: impl Into<String>) {
        self.edits.push(Edit::Replace(start, end, text.into()));
    }

    fn refuse(&mut self, message: impl Into<String>, offset: u32) {
        if self.refused.is_none() {
            self.refused = Some((message.into(), offset));
        }
    }

    /// Removes a whole statement: a `;` where it started (so that its neighbours stay apart), and
    /// spaces for the rest.
    fn remove_statement(&mut self, span: Span) {
        if span.start < span.end {
            self.replace(span.start, span.start + 1, ";");
            self.blank(span.start + 1, span.end);
        }
    }

    /// The offset of the first character at or after `pos` that is neither white space nor part
    /// of a comment.
    fn skip_trivia(&self, mut pos: usize) -> usize {
        let b = self.bytes;
        loop {
            while pos < b.len() && (b[pos].is_ascii_whitespace()) {
                pos += 1;
            }
            if pos + 1 < b.len() && b[pos] == b'/' && b[pos + 1] == b'/' {
                while pos < b.len() && b[pos] != b'\n' {
                    pos += 1;
                }
            } else if pos + 1 < b.len() && b[pos] == b'/' && b[pos + 1] == b'*' {
                match self.source[pos + 2..].find("*/") {
                    Some(i) => pos += 2 + i + 2,
                    None => return b.len(),
                }
            } else if pos + 2 < b.len() && self.source.is_char_boundary(pos) && {
                let c = self.source[pos..].chars().next().unwrap_or('x');
                c != '\u{2028}' && c != '\u{2029}' && c.is_whitespace()
            } {
                pos += self.source[pos..].chars().next().map_or(1, char::len_utf8);
            } else {
                return pos;
            }
        }
    }

    /// Blanks a `,` that directly follows `end` (after trivia), as after a removed list item.
    fn blank_following_comma(&mut self, end: u32) {
        let pos = self.skip_trivia(end as usize);
        if self.bytes.get(pos) == Some(&b',') {
            self.blank(pos as u32, pos as u32 + 1);
        }
    }

    /// Blanks a single-character marker (`?` or `!`) that directly follows `end` (after trivia and
    /// a computed key's `]`).
    fn blank_marker_after(&mut self, end: u32, marker: u8) {
        let mut pos = self.skip_trivia(end as usize);
        if self.bytes.get(pos) == Some(&b']') {
            pos = self.skip_trivia(pos + 1);
        }
        if self.bytes.get(pos) == Some(&marker) {
            self.blank(pos as u32, pos as u32 + 1);
        }
    }

    /// Blanks the TypeScript-only modifier words (`public`, `readonly`, `abstract`, ...) found
    /// between `start` and `end`, skipping the given decorators.
    fn blank_modifiers(&mut self, start: u32, end: u32, decorators: &[Decorator]) {
        let mut pos = start as usize;
        let end = end as usize;
        while pos < end {
            pos = self.skip_trivia(pos);
            if pos >= end {
                break;
            }
            if let Some(d) = decorators.iter().find(|d| d.span.start as usize == pos) {
                pos = d.span.end as usize;
                continue;
            }
            if is_ident_byte(self.bytes[pos]) {
                let word_start = pos;
                while pos < end && is_ident_byte(self.bytes[pos]) {
                    pos += 1;
                }
                if matches!(
                    &self.source[word_start..pos],
                    "public" | "private" | "protected" | "readonly" | "override" | "abstract" | "declare"
                ) {
                    self.blank(word_start as u32, pos as u32);
                }
            } else {
                pos += 1;
            }
        }
    }

    /// `enum E { A, B = 2 }` becomes, over the same lines,
    /// `var E; (function (E) { var A = E["A"] = 0; E[A] = "A"; ... })(E || (E = {}));`.
    /// Members are locals inside the function, so initialisers may name earlier members; string
    /// members get no reverse mapping, as in TypeScript.
    fn transform_enum(&mut self, e: &TSEnumDeclaration, exported_from: Option<&str>) {
        let name = e.id.name.as_str();
        let open = e.body.span.start;
        self.replace(e.span.start, open + 1, format!("var {name}; (function ({name}) {{"));
        let mut previous: Option<String> = None;
        for member in &e.body.members {
            let (key, local) = match &member.id {
                TSEnumMemberName::Identifier(id) => (id.name.to_string(), Some(id.name.to_string())),
                TSEnumMemberName::String(s) | TSEnumMemberName::ComputedString(s) => {
                    (s.value.to_string(), None)
                }
                TSEnumMemberName::ComputedTemplateString(t) => {
                    match t.quasis.first().and_then(|q| q.value.cooked.as_ref()) {
                        Some(cooked) if t.expressions.is_empty() => (cooked.to_string(), None),
                        _ => {
                            self.refuse("an enum member name must be a constant string", member.span.start);
                            return;
                        }
                    }
                }
            };
            let slot = format!("{name}[{}]", js_string(&key));
            let target = match &local {
                Some(l) => format!("var {l} = {slot}"),
                None => slot.clone(),
            };
            let value_ref = local.clone().unwrap_or_else(|| slot.clone());
            let reverse = format!(
                " if (typeof {value_ref} !== \"string\") {name}[{value_ref}] = {};",
                js_string(&key)
            );
            match &member.initializer {
                Some(init) => {
                    let init_span = init.span();
                    self.replace(member.span.start, init_span.start, format!("{target} = ("));
                    self.visit_expression(init);
                    self.replace(init_span.end, member.span.end, format!(");{reverse}"));
                }
                None => {
                    let value = match &previous {
                        Some(p) => format!("{p} + 1"),
                        None => "0".to_string(),
                    };
                    self.replace(member.span.start, member.span.end, format!("{target} = {value};{reverse}"));
                }
            }
            self.blank_following_comma(member.span.end);
            previous = Some(value_ref);
        }
        let close = e.body.span.end - 1;
        let argument = match exported_from {
            Some(ns) => format!("{name} = {ns}.{name} || ({ns}.{name} = {{}})"),
            None => format!("{name} || ({name} = {{}})"),
        };
        self.replace(close, e.span.end, format!("}})({argument});"));
    }

    /// `namespace N { export const x = 1; }` becomes, over the same lines,
    /// `var N; (function (N) { const x = 1; N.x = x; })(N || (N = {}));`. Exported `let`/`var`
    /// bindings become accessors on N, so later assignments inside the namespace stay visible.
    fn transform_namespace(&mut self, n: &TSNamespaceDeclaration, exported_from: Option<&str>) {
        if n.declare || !namespace_has_values(&n.body) {
            self.remove_statement(n.span);
            return;
        }
        let name = n.id.name.to_string();
        let argument = match exported_from {
            Some(ns) => format!("{name} = {ns}.{name} || ({ns}.{name} = {{}})"),
            None => format!("{name} || ({name} = {{}})"),
        };
        match &n.body {
            TSNamespaceDeclarationBody::TSNamespaceDeclaration(inner) => {
                // `namespace A.B { }`: A's function holds B, exported from A.
                self.replace(n.span.start, inner.span.start, format!("var {name}; (function ({name}) {{ "));
                self.transform_namespace(inner, Some(&name));
                self.replace(n.span.end, n.span.end, format!(" }})({argument});"));
            }
            TSNamespaceDeclarationBody::TSModuleBlock(block) => {
                let mut hoisted = String::new();
                for statement in &block.body {
                    if let Statement::ExportDeclaration(e) = statement
                        && let Declaration::FunctionDeclaration(f) = &e.declaration
                        && f.body.is_some()
                        && !f.declare
                        && let Some(id) = &f.id
                    {
                        hoisted.push_str(&format!(" {name}.{0} = {0};", id.name));
                    }
                }
                self.replace(
                    n.span.start,
                    block.span.start + 1,
                    format!("var {name}; (function ({name}) {{{hoisted}"),
                );
                for statement in &block.body {
                    self.namespace_member(statement, &name);
                }
                self.replace(block.span.end - 1, n.span.end, format!("}})({argument});"));
            }
        }
    }

    /// One statement directly inside namespace `ns`.
    fn namespace_member(&mut self, statement: &Statement, ns: &str) {
        let Statement::ExportDeclaration(e) = statement else {
            match statement {
                Statement::ExportNamedDeclaration(_)
                | Statement::ExportFromDeclaration(_)
                | Statement::ExportAllDeclaration(_)
                | Statement::ExportDefaultDeclaration(_) => {
                    if statement_has_values(statement) {
                        self.refuse("a namespace can only export declarations", statement.span().start)
                    } else {
                        self.remove_statement(statement.span())
                    }
                }
                _ => self.visit_statement(statement),
            }
            return;
        };
        if !declaration_has_values(&e.declaration) {
            self.remove_statement(e.span);
            return;
        }
        let declaration_start = e.declaration.span().start;
        self.blank(e.span.start, declaration_start); // `export`
        match &e.declaration {
            Declaration::VariableDeclaration(v) => {
                self.visit_variable_declaration(v);
                let mut names = Vec::new();
                for d in &v.declarations {
                    binding_names(&d.id, &mut names);
                }
                let text: String = if v.kind.is_const() {
                    names.iter().map(|x| format!(" {ns}.{x} = {x};")).collect()
                } else {
                    names
                        .iter()
                        .map(|x| {
                            format!(
                                " Object.defineProperty({ns}, {}, {{ get: () => {x}, set: (v) => {{ {x} = v; }}, enumerable: true, configurable: true }});",
                                js_string(x)
                            )
                        })
                        .collect()
                };
                self.replace(e.span.end, e.span.end, text);
            }
            Declaration::FunctionDeclaration(f) => {
                // assigned at the top of the namespace's function (declarations are hoisted)
                self.visit_function(f, ScopeFlags::Function);
            }
            Declaration::ClassDeclaration(c) => {
                self.visit_class(c);
                if let Some(id) = &c.id {
                    self.replace(e.span.end, e.span.end, format!(" {ns}.{0} = {0};", id.name));
                }
            }
            Declaration::TSEnumDeclaration(en) => self.transform_enum(en, Some(ns)),
            Declaration::TSNamespaceDeclaration(inner) => self.transform_namespace(inner, Some(ns)),
            Declaration::TSImportEqualsDeclaration(d) => {
                self.refuse("`import ... =` is not supported; use `const x = ...` instead", d.span.start)
            }
            _ => {}
        }
    }

    /// Parameter properties (`constructor(private readonly x: T)`): the modifiers are blanked and
    /// `this.x = x;` is written at the start of the constructor's body, or after its top-level
    /// `super(...)` call in a derived class.
    fn parameter_properties(&mut self, method: &MethodDefinition, derived: bool) {
        let function = &method.value;
        let mut assignments = String::new();
        for param in &function.params.items {
            if param.accessibility.is_none() && !param.readonly && !param.r#override {
                continue;
            }
            match &param.pattern {
                BindingPattern::BindingIdentifier(id) => {
                    assignments.push_str(&format!(" this.{0} = {0};", id.name))
                }
                _ => {
                    self.refuse("a parameter property must be a plain identifier", param.span.start);
                    return;
                }
            }
        }
        if assignments.is_empty() {
            return;
        }
        let Some(body) = &function.body else { return };
        let mut at = body.span.start + 1;
        if derived {
            let super_call = body.statements.iter().find(|s| {
                matches!(s, Statement::ExpressionStatement(e)
                    if matches!(&e.expression, Expression::CallExpression(c) if matches!(c.callee, Expression::Super(_))))
            });
            match super_call {
                Some(s) => at = s.span().end,
                None => {
                    self.refuse(
                        "parameter properties in a derived class need a top-level `super(...)` call in the constructor",
                        method.span.start,
                    );
                    return;
                }
            }
        }
        self.replace(at, at, assignments);
    }

    /// `const` at the top level becomes `var  ` (same width), so that a later entry of a REPL
    /// may declare the name again. Declarations inside blocks and functions keep `const`.
    fn top_level_const_to_var(&mut self, program: &Program) {
        for statement in &program.body {
            let declaration = match statement {
                Statement::VariableDeclaration(v) => v,
                Statement::ExportDeclaration(e) => match &e.declaration {
                    Declaration::VariableDeclaration(v) => v,
                    _ => continue,
                },
                _ => continue,
            };
            if declaration.kind == VariableDeclarationKind::Const && !declaration.declare {
                let at = declaration.span.start;
                self.replace(at, at + 5, "var  ");
            }
        }
    }

    fn class_member_modifiers(&mut self, start: u32, key: &PropertyKey, decorators: &[Decorator]) {
        self.blank_modifiers(start, key.span().start, decorators);
    }
}

impl<'a> Visit<'a> for Stripper<'_> {
    fn visit_statement(&mut self, it: &Statement<'a>) {
        match it {
            Statement::TSTypeAliasDeclaration(_)
            | Statement::TSInterfaceDeclaration(_)
            | Statement::TSExternalModuleDeclaration(_)
            | Statement::TSGlobalDeclaration(_)
            | Statement::TSNamespaceExportDeclaration(_) => self.remove_statement(it.span()),
            Statement::TSEnumDeclaration(e) => {
                if e.declare {
                    self.remove_statement(e.span)
                } else {
                    self.transform_enum(e, None)
                }
            }
            Statement::TSNamespaceDeclaration(n) => self.transform_namespace(n, None),
            Statement::TSImportEqualsDeclaration(d) => {
                if d.import_kind.is_type() {
                    self.remove_statement(d.span)
                } else {
                    self.refuse(
                        "`import ... = require(...)` and `import x = N.y` are not supported; use `import` or `const`",
                        d.span.start,
                    )
                }
            }
            Statement::TSExportAssignment(d) => {
                self.refuse("`export =` is not supported; use `export default`", d.span.start)
            }
            Statement::ExportDeclaration(e) => {
                if !declaration_has_values(&e.declaration) {
                    self.remove_statement(e.span);
                    return;
                }
                match &e.declaration {
                    // `export` stays in front of the transformed code: `export var E; ...`
                    Declaration::TSEnumDeclaration(en) => self.transform_enum(en, None),
                    Declaration::TSNamespaceDeclaration(n) => self.transform_namespace(n, None),
                    Declaration::TSImportEqualsDeclaration(d) => self.refuse(
                        "`export import x = ...` is not supported; use `export const`",
                        d.span.start,
                    ),
                    _ => walk::walk_statement(self, it),
                }
            }
            Statement::ExportDefaultDeclaration(e) => match &e.declaration {
                ExportDefaultDeclarationKind::TSInterfaceDeclaration(_) => self.remove_statement(e.span),
                ExportDefaultDeclarationKind::FunctionDeclaration(f) if f.body.is_none() => {
                    self.remove_statement(e.span)
                }
                _ => walk::walk_statement(self, it),
            },
            Statement::ImportDeclaration(d) => {
                if d.import_kind.is_type() {
                    self.remove_statement(d.span);
                    return;
                }
                if let Some(specifiers) = &d.specifiers {
                    for s in specifiers {
                        if let ImportDeclarationSpecifier::ImportSpecifier(s) = s
                            && s.import_kind.is_type()
                        {
                            self.blank_span(s.span);
                            self.blank_following_comma(s.span.end);
                        }
                    }
                }
            }
            Statement::ExportNamedDeclaration(d) => {
                if d.export_kind.is_type() {
                    self.remove_statement(d.span);
                    return;
                }
                for s in &d.specifiers {
                    if s.export_kind.is_type() {
                        self.blank_span(s.span);
                        self.blank_following_comma(s.span.end);
                    }
                }
            }
            Statement::ExportFromDeclaration(d) => {
                if d.export_kind.is_type() {
                    self.remove_statement(d.span);
                    return;
                }
                for s in &d.specifiers {
                    if s.export_kind.is_type() {
                        self.blank_span(s.span);
                        self.blank_following_comma(s.span.end);
                    }
                }
            }
            Statement::ExportAllDeclaration(d) if d.export_kind.is_type() => self.remove_statement(d.span),
            Statement::VariableDeclaration(v) if v.declare => self.remove_statement(v.span),
            Statement::ClassDeclaration(c) if c.declare => self.remove_statement(c.span),
            Statement::FunctionDeclaration(f) if f.declare || f.body.is_none() => self.remove_statement(f.span),
            _ => walk::walk_statement(self, it),
        }
    }

    fn visit_ts_type_annotation(&mut self, it: &TSTypeAnnotation<'a>) {
        self.blank_span(it.span);
    }

    fn visit_ts_type_parameter_declaration(&mut self, it: &TSTypeParameterDeclaration<'a>) {
        self.blank_span(it.span);
    }

    fn visit_ts_type_parameter_instantiation(&mut self, it: &TSTypeParameterInstantiation<'a>) {
        self.blank_span(it.span);
    }

    fn visit_ts_this_parameter(&mut self, it: &TSThisParameter<'a>) {
        self.blank_span(it.span);
        self.blank_following_comma(it.span.end);
    }

    fn visit_ts_as_expression(&mut self, it: &TSAsExpression<'a>) {
        self.visit_expression(&it.expression);
        self.blank(it.expression.span().end, it.span.end);
    }

    fn visit_ts_satisfies_expression(&mut self, it: &TSSatisfiesExpression<'a>) {
        self.visit_expression(&it.expression);
        self.blank(it.expression.span().end, it.span.end);
    }

    fn visit_ts_type_assertion(&mut self, it: &TSTypeAssertion<'a>) {
        self.blank(it.span.start, it.expression.span().start);
        self.visit_expression(&it.expression);
    }

    fn visit_ts_non_null_expression(&mut self, it: &TSNonNullExpression<'a>) {
        self.visit_expression(&it.expression);
        self.blank(it.expression.span().end, it.span.end);
    }

    fn visit_ts_instantiation_expression(&mut self, it: &TSInstantiationExpression<'a>) {
        self.visit_expression(&it.expression);
        self.blank_span(it.type_arguments.span);
    }

    fn visit_variable_declarator(&mut self, it: &VariableDeclarator<'a>) {
        if it.definite {
            self.blank_marker_after(it.id.span().end, b'!');
        }
        walk::walk_variable_declarator(self, it);
    }

    fn visit_formal_parameter(&mut self, it: &FormalParameter<'a>) {
        if it.accessibility.is_some() || it.readonly || it.r#override {
            self.blank_modifiers(it.span.start, it.pattern.span().start, &it.decorators);
        }
        if it.optional {
            self.blank_marker_after(it.pattern.span().end, b'?');
        }
        walk::walk_formal_parameter(self, it);
    }

    fn visit_arrow_function_expression(&mut self, it: &ArrowFunctionExpression<'a>) {
        // A line break between `)` and `=>` is a SyntaxError in JavaScript, so when the blanked
        // return type spans lines, the `)` moves to the last column of the type.
        if let Some(return_type) = &it.return_type {
            let params_end = it.params.span.end;
            let between = &self.source[params_end as usize..return_type.span.end as usize];
            if between.contains('\n') && self.bytes.get(params_end as usize - 1) == Some(&b')') {
                self.blank(params_end - 1, params_end);
                self.replace(return_type.span.end - 1, return_type.span.end, ")");
                if let Some(t) = &it.type_parameters {
                    self.visit_ts_type_parameter_declaration(t);
                }
                self.visit_formal_parameters(&it.params);
                self.blank(return_type.span.start, return_type.span.end - 1);
                self.visit_arrow_function_body(&it.body);
                return;
            }
        }
        walk::walk_arrow_function_expression(self, it);
    }

    fn visit_class(&mut self, it: &Class<'a>) {
        if it.r#abstract {
            // `abstract` comes before `class`
            let start = it.decorators.last().map_or(it.span.start, |d| d.span.end);
            let class_kw = self.source[start as usize..].find("class").map_or(start, |i| start + i as u32);
            self.blank_modifiers(start, class_kw, &[]);
        }
        if let (Some(first), Some(last)) = (it.implements.first(), it.implements.last()) {
            let before = &self.source[..first.span.start as usize];
            if let Some(kw) = before.rfind("implements") {
                self.blank(kw as u32, last.span.end);
            }
        }
        let derived = it.heritage.is_some();
        for element in &it.body.body {
            if let ClassElement::MethodDefinition(m) = element
                && m.kind.is_constructor()
            {
                self.parameter_properties(m, derived);
            }
        }
        walk::walk_class(self, it);
    }

    fn visit_ts_class_implements(&mut self, _it: &TSClassImplements<'a>) {}

    fn visit_class_element(&mut self, it: &ClassElement<'a>) {
        match it {
            ClassElement::TSIndexSignature(s) => self.blank_span(s.span),
            ClassElement::MethodDefinition(m) => {
                if m.r#type.is_abstract() || m.value.body.is_none() {
                    self.blank_span(m.span);
                    return;
                }
                self.class_member_modifiers(m.span.start, &m.key, &m.decorators);
                if m.optional {
                    self.blank_marker_after(m.key.span().end, b'?');
                }
                walk::walk_class_element(self, it);
            }
            ClassElement::PropertyDefinition(p) => {
                if p.declare || p.r#type.is_abstract() {
                    self.blank_span(p.span);
                    return;
                }
                self.class_member_modifiers(p.span.start, &p.key, &p.decorators);
                if p.optional {
                    self.blank_marker_after(p.key.span().end, b'?');
                }
                if p.definite {
                    self.blank_marker_after(p.key.span().end, b'!');
                }
                walk::walk_class_element(self, it);
            }
            ClassElement::AccessorProperty(a) => {
                if a.r#type.is_abstract() {
                    self.blank_span(a.span);
                    return;
                }
                self.class_member_modifiers(a.span.start, &a.key, &a.decorators);
                if a.definite {
                    self.blank_marker_after(a.key.span().end, b'!');
                }
                walk::walk_class_element(self, it);
            }
            ClassElement::StaticBlock(_) => walk::walk_class_element(self, it),
        }
    }

    fn visit_jsx_element(&mut self, it: &JSXElement<'a>) {
        self.refuse("JSX is not supported: quickbox strips types from .tsx files but does not compile JSX", it.span.start);
    }

    fn visit_jsx_fragment(&mut self, it: &JSXFragment<'a>) {
        self.refuse("JSX is not supported: quickbox strips types from .tsx files but does not compile JSX", it.span.start);
    }
}

/// Applies the edits to the source. A blanked character becomes one space per byte (so columns,
/// which QuickJS counts in bytes of UTF-8, stay); line terminators are kept.
fn apply(source: &str, mut edits: Vec<Edit>) -> String {
    let mut blanks: Vec<(u32, u32)> = Vec::new();
    let mut replaces: Vec<(u32, u32, String)> = Vec::new();
    for e in edits.drain(..) {
        match e {
            Edit::Blank(s, e) => blanks.push((s, e)),
            Edit::Replace(s, e, t) => replaces.push((s, e, t)),
        }
    }
    blanks.sort_unstable();
    replaces.sort_by_key(|r| r.0); // stable: insertions at one offset keep their order
    let mut out = String::with_capacity(source.len() + 64);
    let mut blank_index = 0;
    let mut replace_index = 0;
    let mut pos = 0usize;
    let mut chars = source.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        // replacements starting here (an empty range is an insertion)
        let mut replaced = false;
        while replace_index < replaces.len() && replaces[replace_index].0 as usize <= i {
            let (start, end, ref text) = replaces[replace_index];
            replace_index += 1;
            if (start as usize) < pos {
                continue; // overlaps an earlier replacement: cannot happen for a valid AST
            }
            out.push_str(text);
            if end as usize > i {
                pos = end as usize;
                replaced = true;
            }
        }
        if replaced {
            while let Some(&(j, _)) = chars.peek() {
                if j >= pos {
                    break;
                }
                chars.next();
            }
            continue;
        }
        chars.next();
        pos = i + c.len_utf8();
        while blank_index < blanks.len() && blanks[blank_index].1 as usize <= i {
            blank_index += 1;
        }
        let blanked = blanks[blank_index..]
            .iter()
            .take_while(|b| b.0 as usize <= i)
            .any(|b| (b.0 as usize) <= i && i < b.1 as usize);
        if blanked && !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') {
            // one space per byte: QuickJS counts columns in bytes of UTF-8
            for _ in 0..c.len_utf8() {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    for (start, _, text) in &replaces[replace_index..] {
        if *start as usize >= pos {
            out.push_str(text);
        }
    }
    out
}

fn strip_on_this_thread(source: &str, flags: u32) -> Outcome {
    if let Some(at) = nesting_depth(source.as_bytes(), MAX_NESTING) {
        let (line, column) = line_column(source, at);
        return Outcome::error(
            QB_TS_LIMIT,
            format!("the TypeScript source nests more than {MAX_NESTING} levels deep"),
            line,
            column,
        );
    }
    let allocator = Allocator::default();
    let source_type = if flags & QB_TS_TSX != 0 {
        SourceType::tsx()
    } else if flags & QB_TS_STRIP != 0 {
        SourceType::ts()
    } else {
        SourceType::mjs()
    };
    let source_type = if flags & QB_TS_MODULE != 0 {
        source_type.with_module(true)
    } else {
        // A script may use top-level await (quickbox evaluates it as an async script); import and
        // export are left for QuickJS to refuse.
        source_type.with_unambiguous(true)
    };
    let options = ParseOptions { allow_return_outside_function: false, ..ParseOptions::default() };
    let parsed = Parser::new(&allocator, source, source_type).with_options(options).parse();
    if let Some(diagnostic) = parsed.diagnostics.errors().next() {
        let offset = diagnostic.labels.iter().find(|l| l.primary()).or(diagnostic.labels.first()).map_or(0, |l| l.offset());
        let (line, column) = line_column(source, offset as usize);
        let mut message = diagnostic.message.to_string();
        if let Some(help) = &diagnostic.help {
            message.push_str(&format!(" ({help})"));
        }
        return Outcome::error(QB_TS_SYNTAX, message, line, column);
    }
    let mut stripper = Stripper {
        source,
        bytes: source.as_bytes(),
        edits: Vec::new(),
        refused: None,
    };
    stripper.visit_program(&parsed.program);
    if flags & QB_TS_CONST_TO_VAR != 0 {
        stripper.top_level_const_to_var(&parsed.program);
    }
    if let Some((message, offset)) = stripper.refused {
        let (line, column) = line_column(source, offset as usize);
        return Outcome::error(QB_TS_SYNTAX, message, line, column);
    }
    Outcome { status: QB_TS_OK, text: apply(source, stripper.edits), line: 0, column: 0 }
}

/// Strips on a thread with a known stack, catching panics.
pub fn strip(source: &str, flags: u32) -> Outcome {
    let owned = source.to_owned();
    let spawned = std::thread::Builder::new()
        .name("quickbox-typescript".into())
        .stack_size(PARSE_STACK_BYTES)
        .spawn(move || catch_unwind(AssertUnwindSafe(|| strip_on_this_thread(&owned, flags))));
    let handle = match spawned {
        Ok(handle) => handle,
        Err(e) => {
            return Outcome::error(QB_TS_INTERNAL, format!("could not start the TypeScript parser: {e}"), 0, 0);
        }
    };
    match handle.join() {
        Ok(Ok(outcome)) => outcome,
        _ => Outcome::error(QB_TS_INTERNAL, "the TypeScript parser failed on this input", 0, 0),
    }
}

/// What `quickbox_ts_strip` hands back. `text` (JavaScript, or the error message) is owned by
/// the library: release it with `quickbox_ts_free`.
#[repr(C)]
pub struct QuickboxTsResult {
    pub status: i32,
    pub line: u32,
    pub column: u32,
    pub text: *mut u8,
    pub len: usize,
}

/// Strips TypeScript `source` (UTF-8, `len` bytes) to JavaScript. See the QB_TS_* constants.
///
/// # Safety
/// `source` must point to `len` readable bytes; `out` must be a valid pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn quickbox_ts_strip(
    source: *const u8,
    len: usize,
    flags: u32,
    out: *mut QuickboxTsResult,
) -> i32 {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let bytes = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(source, len) } };
        match std::str::from_utf8(bytes) {
            Ok(text) => strip(text, flags),
            Err(e) => Outcome::error(
                QB_TS_SYNTAX,
                format!("the source is not valid UTF-8 (first bad byte at offset {})", e.valid_up_to()),
                0,
                0,
            ),
        }
    }))
    .unwrap_or_else(|_| Outcome::error(QB_TS_INTERNAL, "the TypeScript stripper failed", 0, 0));
    let mut text = outcome.text.into_bytes().into_boxed_slice();
    let result = QuickboxTsResult {
        status: outcome.status,
        line: outcome.line,
        column: outcome.column,
        len: text.len(),
        text: text.as_mut_ptr(),
    };
    std::mem::forget(text);
    let status = result.status;
    unsafe { *out = result };
    status
}

/// Releases the text of a `quickbox_ts_strip` result.
///
/// # Safety
/// `result` must come from `quickbox_ts_strip` and not have been freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn quickbox_ts_free(result: *mut QuickboxTsResult) {
    if result.is_null() {
        return;
    }
    let r = unsafe { &mut *result };
    if !r.text.is_null() {
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(r.text, r.len)) });
        r.text = std::ptr::null_mut();
        r.len = 0;
    }
}
