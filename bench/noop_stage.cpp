// A stage that does nothing, for bench/stage-cost.sh: what one more stage costs a run in nsrun's
// core and SDK alone (its file loaded, its phases called through the C boundary, its copies of
// the spec). Built several times with NOOP_NAME and NOOP_KIND, since a pipeline holds each kind
// once and a plugin fills only the kind it declares.
#include "nsrun/plugin.hpp"

namespace {

class NoopStage final : public nsrun::IStage {};

void* create(const nsrun_host* host) {
  return nsrun::detail::create_stage<NoopStage>(host);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const nsrun_plugin* nsrun_plugin_entry() {
  static const nsrun_plugin descriptor{
      NSRUN_API_MAJOR,
      static_cast<std::uint32_t>(sizeof(nsrun_plugin)),
      NOOP_NAME,
      NSRUN_API_MINOR,
      "0.0.1",
      NOOP_KIND,
      "does nothing (bench/stage-cost.sh)",
      nullptr,
      0,
      NSRUN_PLACE_ANYWHERE,
      nullptr,
      nullptr,
      nullptr,
      &create,
      &nsrun::detail::destroy_stage,
      &nsrun::detail::invoke_stage,
      nullptr,
      0,
      nullptr,
  };
  return &descriptor;
}
