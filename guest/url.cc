/* The C++ half of URL and URLSearchParams: ada (the WHATWG URL parser, compiled into the guest)
 * behind a few functions that guest/url.js builds the two classes on. qb_url_natives() hands them
 * over at bootstrap in an object no global refers to.
 *
 * No ada object outlives a call: a URL is kept in JS as its parts (strings), and each change
 * re-parses its href. So nothing here needs a finalizer, and a URL travels with a snapshot like
 * any other JS object. ada allocates with operator new, outside QuickJS's memory accounting, for
 * the length of one call; before it runs, room_for() asks the accounting for an upper bound of
 * what it may need (below), so a huge input ends in a catchable out-of-memory error instead of
 * reaching the sandbox's hard memory cap. Argument conversion (ToString, the errors the standard
 * specifies) is done in url.js: these receive strings and trust their callers. */
#include <cstring>
#include <string>
#include <string_view>

#include "ada.h"

extern "C" {
#include "guest.h"
}

namespace {

/* The parts of a URL, in the order url.js reads them. */
enum Part : uint32_t { HREF, PROTOCOL, USERNAME, PASSWORD, HOST, HOSTNAME, PORT, PATHNAME, SEARCH, HASH, PART_COUNT };

/* Upper bounds of ada's working memory per byte of input, measured on hostile inputs of 1 MiB on
 * a 64-bit host (more than wasm32 needs): percent-encoding a path of non-ASCII text peaks at 13
 * bytes per input byte; IDNA on a host of U+FDFA (which maps to 18 code points) at 67. IDNA only
 * runs on the host, so the larger factor applies to the stretch of input that can hold one. */
constexpr size_t kBytesPerByte = 16;
constexpr size_t kBytesPerHostByte = 80;
constexpr size_t kSlack = 64 * 1024;

/* How much of the input a host can lie in: up to the end of the first authority, i.e. the first
 * '/', '\\', '?' or '#' after the first run of slashes (tabs and newlines, which the parser
 * drops, are skipped). An upper bound, never exact: scheme and userinfo count too. */
size_t host_region(std::string_view s) {
  auto terminator = [](char c) { return c == '/' || c == '\\' || c == '?' || c == '#'; };
  auto dropped = [](char c) { return c == '\t' || c == '\n' || c == '\r'; };
  size_t i = 0;
  while (i < s.size() && !terminator(s[i])) i++;
  if (i < s.size() && (s[i] == '/' || s[i] == '\\')) {
    while (i < s.size() && (s[i] == '/' || s[i] == '\\' || dropped(s[i]))) i++;
    while (i < s.size() && !terminator(s[i])) i++;
  }
  return i;
}

size_t url_estimate(std::string_view s) { return kBytesPerByte * s.size() + kBytesPerHostByte * host_region(s); }

/* Throws out-of-memory (false) unless the memory limit leaves room for `bytes` more. */
bool room_for(JSContext *ctx, size_t bytes) {
  if (qb_heap_has_room(bytes + kSlack)) return true;
  JS_ThrowOutOfMemory(ctx);
  return false;
}

/* A JS string argument as UTF-8, each lone surrogate replaced by U+FFFD (the USVString
 * conversion); the JS text is released when it goes out of scope. */
class Utf8 {
 public:
  Utf8(JSContext *ctx, JSValueConst value) : ctx_(ctx) {
    text_ = JS_ToCStringLen(ctx, &len_, value);
    if (text_) qb_replace_lone_surrogates(const_cast<char *>(text_), len_);
  }
  ~Utf8() {
    if (text_) JS_FreeCString(ctx_, text_);
  }
  Utf8(const Utf8 &) = delete;
  Utf8 &operator=(const Utf8 &) = delete;
  bool ok() const { return text_ != nullptr; }
  std::string_view view() const { return {text_, len_}; }

 private:
  JSContext *ctx_;
  const char *text_ = nullptr;
  size_t len_ = 0;
};

JSValue string(JSContext *ctx, std::string_view s) { return JS_NewStringLen(ctx, s.data(), s.size()); }

/* [href, protocol, username, password, host, hostname, port, pathname, search, hash] */
JSValue parts(JSContext *ctx, const ada::url_aggregator &url) {
  const std::string_view values[PART_COUNT] = {
      url.get_href(), url.get_protocol(), url.get_username(), url.get_password(), url.get_host(),
      url.get_hostname(), url.get_port(), url.get_pathname(), url.get_search(), url.get_hash()};
  JSValue out = JS_NewArray(ctx);
  if (JS_IsException(out)) return out;
  for (uint32_t i = 0; i < PART_COUNT; i++) {
    if (JS_SetPropertyUint32(ctx, out, i, string(ctx, values[i])) < 0) {
      JS_FreeValue(ctx, out);
      return JS_EXCEPTION;
    }
  }
  return out;
}

/* parse(input, base?) -> parts, or null when input (against base) is not a valid URL */
JSValue url_parse(JSContext *ctx, JSValueConst, int argc, JSValueConst *argv) {
  Utf8 input(ctx, argv[0]);
  if (!input.ok()) return JS_EXCEPTION;
  if (argc < 2 || JS_IsUndefined(argv[1])) {
    if (!room_for(ctx, url_estimate(input.view()))) return JS_EXCEPTION;
    auto url = ada::parse<ada::url_aggregator>(input.view());
    return url ? parts(ctx, *url) : JS_NULL;
  }
  Utf8 base_text(ctx, argv[1]);
  if (!base_text.ok()) return JS_EXCEPTION;
  if (!room_for(ctx, url_estimate(input.view()) + url_estimate(base_text.view()))) return JS_EXCEPTION;
  auto base = ada::parse<ada::url_aggregator>(base_text.view());
  if (!base) return JS_NULL;
  auto url = ada::parse<ada::url_aggregator>(input.view(), &*base);
  return url ? parts(ctx, *url) : JS_NULL;
}

/* canParse(input, base?) -> boolean */
JSValue url_can_parse(JSContext *ctx, JSValueConst, int argc, JSValueConst *argv) {
  Utf8 input(ctx, argv[0]);
  if (!input.ok()) return JS_EXCEPTION;
  if (argc < 2 || JS_IsUndefined(argv[1])) {
    if (!room_for(ctx, url_estimate(input.view()))) return JS_EXCEPTION;
    return JS_NewBool(ctx, ada::can_parse(input.view()));
  }
  Utf8 base(ctx, argv[1]);
  if (!base.ok()) return JS_EXCEPTION;
  if (!room_for(ctx, url_estimate(input.view()) + url_estimate(base.view()))) return JS_EXCEPTION;
  std::string_view base_view = base.view();
  return JS_NewBool(ctx, ada::can_parse(input.view(), &base_view));
}

/* set(href, part, value) -> the parts after the change, or null when the standard's setter
 * ignores the value (href's setter throws instead: url.js does). href is a valid URL's href. */
JSValue url_set(JSContext *ctx, JSValueConst, int, JSValueConst *argv) {
  Utf8 href(ctx, argv[0]);
  Utf8 value(ctx, argv[2]);
  uint32_t part;
  if (!href.ok() || !value.ok() || JS_ToUint32(ctx, &part, argv[1]) < 0) return JS_EXCEPTION;
  if (!room_for(ctx, url_estimate(href.view()) + url_estimate(value.view()))) return JS_EXCEPTION;
  auto url = ada::parse<ada::url_aggregator>(href.view());
  if (!url) return JS_NULL;
  const std::string_view v = value.view();
  bool changed = true;
  switch (part) {
    case HREF: changed = url->set_href(v); break;
    case PROTOCOL: changed = url->set_protocol(v); break;
    case USERNAME: changed = url->set_username(v); break;
    case PASSWORD: changed = url->set_password(v); break;
    case HOST: changed = url->set_host(v); break;
    case HOSTNAME: changed = url->set_hostname(v); break;
    case PORT: changed = url->set_port(v); break;
    case PATHNAME: changed = url->set_pathname(v); break;
    case SEARCH: url->set_search(v); break;
    case HASH: url->set_hash(v); break;
    default: return JS_ThrowRangeError(ctx, "URL: no part %u", part);
  }
  return changed ? parts(ctx, *url) : JS_NULL;
}

/* origin(href) -> the origin's serialization ("null" for an opaque origin) */
JSValue url_origin(JSContext *ctx, JSValueConst, int, JSValueConst *argv) {
  Utf8 href(ctx, argv[0]);
  if (!href.ok()) return JS_EXCEPTION;
  if (!room_for(ctx, url_estimate(href.view()))) return JS_EXCEPTION;
  auto url = ada::parse<ada::url_aggregator>(href.view());
  return url ? string(ctx, url->get_origin()) : JS_NULL;
}

/* parseQuery(string) -> [name, value, name, value, ...]: the application/x-www-form-urlencoded
 * parser (a leading '?' is not skipped here: url.js decides). */
JSValue query_parse(JSContext *ctx, JSValueConst, int, JSValueConst *argv) {
  Utf8 input(ctx, argv[0]);
  if (!input.ok()) return JS_EXCEPTION;
  if (!room_for(ctx, kBytesPerByte * input.view().size())) return JS_EXCEPTION;
  std::string_view text = input.view();
  /* ada's parser skips a leading '?'; a name that starts with one must keep it. */
  ada::url_search_params params(std::string_view{});
  if (!text.empty() && text.front() == '?')
    params = ada::url_search_params(std::string("?") + std::string(text));
  else
    params = ada::url_search_params(text);
  JSValue out = JS_NewArray(ctx);
  if (JS_IsException(out)) return out;
  uint32_t i = 0;
  auto entries = params.get_entries();
  while (entries.has_next()) {
    auto entry = *entries.next();
    if (JS_SetPropertyUint32(ctx, out, i++, string(ctx, entry.first)) < 0 ||
        JS_SetPropertyUint32(ctx, out, i++, string(ctx, entry.second)) < 0) {
      JS_FreeValue(ctx, out);
      return JS_EXCEPTION;
    }
  }
  return out;
}

/* serializeQuery([name, value, name, value, ...]) -> string: the application/x-www-form-urlencoded
 * serializer. The array is url.js's own, holding strings only. */
JSValue query_serialize(JSContext *ctx, JSValueConst, int, JSValueConst *argv) {
  int64_t count;
  if (JS_GetLength(ctx, argv[0], &count) < 0) return JS_EXCEPTION;
  ada::url_search_params params;
  size_t total = 0;
  for (int64_t i = 0; i + 1 < count; i += 2) {
    JSValue name_value = JS_GetPropertyInt64(ctx, argv[0], i);
    JSValue value_value = JS_GetPropertyInt64(ctx, argv[0], i + 1);
    Utf8 name(ctx, name_value);
    Utf8 value(ctx, value_value);
    JS_FreeValue(ctx, name_value);
    JS_FreeValue(ctx, value_value);
    if (!name.ok() || !value.ok()) return JS_EXCEPTION;
    total += name.view().size() + value.view().size();
    /* each byte may become %XX, and the list and its serialization are both held */
    if (!room_for(ctx, 2 * (total + 3 * total))) return JS_EXCEPTION;
    params.append(name.view(), value.view());
  }
  return string(ctx, params.to_string());
}

}  // namespace

extern "C" JSValue qb_url_natives(JSContext *ctx) {
  static const JSCFunctionListEntry natives[] = {
      JS_CFUNC_DEF("parse", 2, url_parse),
      JS_CFUNC_DEF("canParse", 2, url_can_parse),
      JS_CFUNC_DEF("set", 3, url_set),
      JS_CFUNC_DEF("origin", 1, url_origin),
      JS_CFUNC_DEF("parseQuery", 1, query_parse),
      JS_CFUNC_DEF("serializeQuery", 1, query_serialize),
  };
  return qb_natives_object(ctx, natives, sizeof natives / sizeof natives[0]);
}
