// quickbox::Value, the data that crosses the sandbox boundary. Its conversions live apart: CBOR in
// cbor.cc, JSON text in json.cc, BigInt arithmetic in bigint.cc. Values are shown to people by
// the sandbox's own formatter (Sandbox::format, EvalOptions::display), which sees real JS values.
#include "quickbox/value.hh"

namespace quickbox {

const Value *Value::find(std::string_view key) const {
  const auto *object = std::get_if<Object>(&storage_);
  if (!object) return nullptr;
  for (const auto &[name, value] : *object) {
    if (name == key) return &value;
  }
  return nullptr;
}

}  // namespace quickbox
