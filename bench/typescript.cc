// quickbox-bench-typescript: how long transform_source takes to strip a 10 KB TypeScript program
// (the target is at most 1 ms). Prints the median and the 90th percentile of many runs; the
// target is reported (OK / MISSED), never enforced through the exit status.
//
//   quickbox-bench-typescript [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"

namespace {

/// A TypeScript program of about `bytes` bytes, written as agents write it: interfaces, type
/// aliases, an enum, generic functions and classes with annotated members, `as` and `!`.
std::string program(size_t bytes) {
  std::string out;
  for (int i = 0; out.size() < bytes; i++) {
    std::string n = std::to_string(i);
    out += "interface Record" + n + " { id: number; name: string; tags?: string[]; meta: Map<string, unknown> }\n";
    out += "type Key" + n + " = keyof Record" + n + " | `k_${string}`;\n";
    out += "enum Status" + n + " { Active = 'active', Inactive = 'inactive', Pending }\n";
    out += "function pick" + n + "<T extends object, K extends keyof T>(o: T, keys: K[]): Pick<T, K> {\n";
    out += "  const out = {} as Pick<T, K>;\n  for (const k of keys) out[k] = o[k]!;\n  return out;\n}\n";
    out += "class Store" + n + "<V> {\n  private readonly items: Map<string, V> = new Map();\n";
    out += "  constructor(public name: string) {}\n";
    out += "  get(key: string): V | undefined { return this.items.get(key); }\n";
    out += "  set(key: string, value: V): this { this.items.set(key, value); return this; }\n}\n";
    out += "const store" + n + " = new Store" + n + "<Record" + n + ">('s" + n + "');\n";
    out += "const total" + n + ": number = [1, 2, 3].map((x: number): number => x * 2).reduce((a, b) => a + b, 0);\n";
  }
  return out;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

}  // namespace

int main(int argc, char **argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const std::string source = program(10 * 1024);
  const int runs = quick ? 20 : 2000;
  quickbox::TransformOptions options;
  std::vector<double> ms;
  for (int i = 0; i < runs + 10; i++) {
    auto start = std::chrono::steady_clock::now();
    auto js = quickbox::transform_source(source, options);
    auto end = std::chrono::steady_clock::now();
    if (!js.ok()) {
      std::fprintf(stderr, "quickbox-bench-typescript: the program did not strip: %s\n",
                   js.error().to_string().c_str());
      return 1;
    }
    if (i >= 10) ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());  // after warm-up
  }
  double median = percentile(ms, 0.5);
  std::printf("TypeScript strip of a %zu-byte program, %d runs: median %.3f ms, p90 %.3f ms "
              "(target: at most 1 ms: %s)\n",
              source.size(), runs, median, percentile(ms, 0.9), median <= 1.0 ? "OK" : "MISSED");
  return 0;
}
