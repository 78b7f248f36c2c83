#include "workload.hh"

#include <iostream>

namespace bench {

bool Target::met(const Stats &quickbox, std::optional<double> ratio, std::optional<double> per_unit_ns) const {
  switch (kind) {
    case Kind::MedianAtMost: return quickbox.median.count() <= limit;
    case Kind::RatioAtMost: return ratio && *ratio <= limit;
    case Kind::PerUnitAtMost: return per_unit_ns && *per_unit_ns <= limit;
  }
  return false;
}

namespace {
size_t characters(const std::string &text) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
  return chars;
}
}  // namespace

std::string pad(std::string text, size_t width) {
  size_t chars = characters(text);
  if (chars < width) text.append(width - chars, ' ');
  return text;
}

std::string pad_left(const std::string &text, size_t width) {
  size_t chars = characters(text);
  return chars < width ? std::string(width - chars, ' ') + text : text;
}

quickbox::Result checked(quickbox::Result result, const std::string &what) {
  if (!result.ok()) {
    std::string why = result.failed() ? result.error().to_string() : "it suspended on host calls";
    throw std::runtime_error(what + " failed: " + why);
  }
  return result;
}

void expect_eval(quickbox::Sandbox &sandbox, const std::string &source, const quickbox::Value &expected) {
  auto result = checked(sandbox.eval(source), "quickbox: `" + source + "`");
  if (!(result.value() == expected))
    throw std::runtime_error("quickbox: `" + source + "` returned " +
                             quickbox::to_json(result.value()).substr(0, 80) + ", expected " +
                             quickbox::to_json(expected).substr(0, 80));
}

void print_extra(const std::string &name, const std::string &text) {
  std::cout << "  " << pad(name, kNameWidth) << " " << text << "\n";
}

}  // namespace bench
