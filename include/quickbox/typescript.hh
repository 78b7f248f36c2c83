/// \file typescript.hh
/// \brief Source transforms in front of eval: TypeScript to JavaScript keeping every token at its
/// line and column, and top-level `const` to `var` (docs/typescript.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "quickbox/result.hh"

namespace quickbox {

/// The language of a source text.
enum class SourceLanguage {
  JavaScript,
  TypeScript,
  /// A `.tsx` file: types are stripped as for TypeScript, `<T>x` casts are not allowed, and JSX is
  /// refused with a SyntaxError (quickbox does not compile JSX).
  TSX,
};

/// What transform_source does.
struct TransformOptions {
  SourceLanguage language = SourceLanguage::TypeScript;
  /// Parse as an ES module (`import`/`export` at the top level); otherwise as a script, where
  /// top-level `await` is allowed, as Sandbox::eval allows it.
  bool module = false;
  /// Also turn top-level `const` declarations into `var` (written `var  `, the same width), so a
  /// REPL can declare the same name again in a later entry. Declarations in blocks and functions
  /// keep `const`.
  bool top_level_const_to_var = false;
  /// The name SyntaxErrors give the source ("at FILENAME:LINE:COLUMN").
  std::string filename = "<eval>";
};

/// The largest source transform_source accepts, in bytes (256 KiB); larger ones fail with
/// InvalidInput. It bounds the parser's time, memory and stack (docs/typescript.md).
inline constexpr uint64_t kMaxTransformBytes = 256ull << 10;

/// The deepest nesting transform_source accepts (brackets of every kind, and runs of operators),
/// checked on the text before parsing.
inline constexpr uint32_t kMaxTransformNesting = 1000;

/// Transforms source for eval. For TypeScript, the result is JavaScript in which every remaining
/// token keeps its line and column: type annotations, interfaces, type aliases, generics, `as`,
/// `satisfies`, `!`, `declare`, access modifiers, `?` on parameters and `import type` become
/// spaces; `enum`, `namespace` and parameter properties become JavaScript written over the same
/// lines. Stack traces and SyntaxErrors of the result therefore point into the TypeScript.
///
/// Fails with a JSException named "SyntaxError" when the source does not parse, uses a construct
/// that cannot be erased (`import x = require()`, `export =`, JSX), or nests deeper than
/// kMaxTransformNesting; its stack is "    at FILENAME:LINE:COLUMN", a position in the source.
/// Fails with InvalidInput for a source larger than kMaxTransformBytes or not UTF-8, and with
/// Internal if the parser itself failed (contained: the process goes on).
Expected<std::string> transform_source(std::string_view source, const TransformOptions &options = {});

}  // namespace quickbox
