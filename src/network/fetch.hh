// The built-in capability behind the guest's fetch(): decodes the program's request, and runs it
// (with its redirects) on the engine's HTTP client under the sandbox's network policy.
#pragma once

#include <memory>

#include "network/http_client.hh"
#include "network/policy.hh"
#include "quickbox/capability.hh"

namespace quickbox::internal::net {

/// The JS name of the capability; the guest installs fetch() around it rather than defining it.
inline constexpr const char *kFetchCapability = "fetch";

/// The capability for a sandbox whose options grant this policy.
Capability fetch_capability(std::shared_ptr<const Policy> policy, std::shared_ptr<HttpClient> client);

}  // namespace quickbox::internal::net
