// How a sandbox gets fetch(): SandboxOptions::network compiled into a policy, and the built-in
// capability registered with the flag that makes the guest install fetch() around it.
#include "network/fetch.hh"
#include "sandbox_impl.hh"

namespace quickbox {

std::shared_ptr<internal::net::HttpClient> Engine::Impl::http_client() {
  std::lock_guard lock(http_mutex_);
  if (!http_) http_ = std::make_shared<internal::net::HttpClient>();
  return http_;
}

std::optional<Error> Sandbox::Impl::grant_network() {
  if (!options.network) return std::nullopt;
  auto compiled = internal::net::Policy::compile(*options.network);
  if (auto *error = std::get_if<Error>(&compiled)) return *error;
  auto policy = std::get<std::shared_ptr<const internal::net::Policy>>(std::move(compiled));
  Status status = add_capability(internal::net::fetch_capability(std::move(policy), engine->http_client()),
                                 QB_CAPABILITY_FETCH);
  if (!status) return status.error();
  return std::nullopt;
}

}  // namespace quickbox
