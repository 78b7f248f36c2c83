// Whether the tests were built with AddressSanitizer (make test-asan).
#pragma once

namespace quickbox::test_support {

/// AddressSanitizer reserves terabytes of address space for its shadow memory at start-up and keeps
/// freed memory in a quarantine, so under it an address-space limit (ulimit -v) stops ASan itself
/// before the code under test runs, and memory figures measure ASan. Tests of those properties
/// skip or only report under it; everything else runs unchanged.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace quickbox::test_support
