// nsrun SDK: the plugin ABI.
//
// A plugin is a shared object that exports exactly one symbol, `nsrun_plugin_entry`, returning a
// plain descriptor. The loader reads `api_version` first and refuses the plugin unless it equals
// the core's NSRUN_API_VERSION exactly (LLVM's pass plugins do the same), then compares the ABI
// tag, because C++ objects (std::string, boost::json::object) cross the boundary.
//
// Writing a plugin:
//
//   #include <nsrun/plugin.hpp>
//   class MyStage : public nsrun::IStage {
//     void validate(nsrun::Context& ctx) override { ... }
//   };
//   NSRUN_PLUGIN(MyStage, "org.example.network.mine", "1.0.0", "network", "what it does")
//
// and build it with -fvisibility=hidden (only the entry point is exported). See
// docs/plugin-authors.md.
//
// Bump NSRUN_API_VERSION whenever a descriptor field, the Context, a Journal/Logger method or an
// IStage virtual changes.
#pragma once

#include <boost/version.hpp>
#include <cstdint>
#include <exception>
#include <string_view>

#include "nsrun/stage.hpp"

#define NSRUN_API_VERSION 1u

#define NSRUN_STRINGIFY_(x) #x
#define NSRUN_STRINGIFY(x) NSRUN_STRINGIFY_(x)

// What must match between the core and a plugin for C++ objects to cross the boundary: the
// standard library's string ABI and the Boost version (boost::json types are passed by reference).
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define NSRUN_ABI_TAG                                                                     \
  "libstdc++-cxx11abi" NSRUN_STRINGIFY(_GLIBCXX_USE_CXX11_ABI) ";boost-" NSRUN_STRINGIFY( \
      BOOST_VERSION)
#else
#define NSRUN_ABI_TAG "other-stdlib;boost-" NSRUN_STRINGIFY(BOOST_VERSION)
#endif

namespace nsrun {

/// Where a plugin reports a failed call; implemented by the core. The core copies the message, so
/// nothing the plugin allocated is freed by the core.
class ErrorSink {
 public:
  virtual void fail(std::string_view message, int exit_code) noexcept = 0;

 protected:
  ~ErrorSink() = default;
};

/// The descriptor a plugin's entry point returns. Plain data: its layout is part of the API
/// version, except that the first three fields (api_version, struct_size, name) keep their place
/// in every version, so a loader can always say which plugin it refuses and why. `struct_size`
/// lets the loader refuse a descriptor shorter than it expects.
struct PluginDescriptor {
  std::uint32_t api_version;
  std::uint32_t struct_size;
  const char* name;     ///< reverse-DNS, unique, e.g. "nsrun.network.bridge"
  const char* version;  ///< the plugin's own version, e.g. "1.0.0"
  const char* kind;     ///< the pipeline slot it fills: namespaces, storage, network, cgroups, exec
  const char* summary;  ///< one line for `nsrun plugins`
  const char* abi_tag;  ///< NSRUN_ABI_TAG as the plugin was compiled
  /// Creates a stage object; null on failure (reported through `errors`).
  IStage* (*create)(ErrorSink* errors);
  void (*destroy)(IStage* stage);
  /// Runs one phase. Returns true on success; on failure reports through `errors`. Never throws.
  bool (*invoke)(IStage* stage, Phase phase, Context* ctx, ErrorSink* errors);
};

/// The entry point's type and symbol name.
using PluginEntry = const PluginDescriptor*();
inline constexpr const char* plugin_entry_symbol = "nsrun_plugin_entry";

namespace detail {

// Runs `call` and turns any exception into a report: this is the wall exceptions stop at.
template <typename Call>
bool guarded(ErrorSink* errors, Call&& call) noexcept {
  try {
    call();
    return true;
  } catch (const StageError& e) {
    errors->fail(e.what(), e.exit_code());
  } catch (const std::exception& e) {
    errors->fail(e.what(), exit_code::runtime_error);
  } catch (...) {
    errors->fail("unknown exception", exit_code::runtime_error);
  }
  return false;
}

template <typename Stage>
IStage* create_stage(ErrorSink* errors) noexcept {
  IStage* stage = nullptr;
  guarded(errors, [&] { stage = new Stage(); });
  return stage;
}

inline void destroy_stage(IStage* stage) noexcept {
  delete stage;
}

inline bool invoke_stage(IStage* stage, Phase phase, Context* ctx, ErrorSink* errors) noexcept {
  return guarded(errors, [&] {
    switch (phase) {
      case Phase::validate:
        return stage->validate(*ctx);
      case Phase::prepare:
        return stage->prepare(*ctx);
      case Phase::create_runtime:
        return stage->create_runtime(*ctx);
      case Phase::create_container:
        return stage->create_container(*ctx);
      case Phase::start_container:
        return stage->start_container(*ctx);
      case Phase::poststart:
        return stage->poststart(*ctx);
      case Phase::teardown:
        return stage->teardown(*ctx);
    }
    throw StageError("unknown phase " + std::to_string(static_cast<int>(phase)));
  });
}

}  // namespace detail
}  // namespace nsrun

/// Exports the plugin's entry point. Use once per plugin, at namespace scope.
#define NSRUN_PLUGIN(StageClass, Name, Version, Kind, Summary)                       \
  extern "C" __attribute__((visibility("default"))) const ::nsrun::PluginDescriptor* \
  nsrun_plugin_entry() {                                                             \
    static const ::nsrun::PluginDescriptor descriptor{                               \
        NSRUN_API_VERSION,                                                           \
        sizeof(::nsrun::PluginDescriptor),                                           \
        Name,                                                                        \
        Version,                                                                     \
        Kind,                                                                        \
        Summary,                                                                     \
        NSRUN_ABI_TAG,                                                               \
        &::nsrun::detail::create_stage<StageClass>,                                  \
        &::nsrun::detail::destroy_stage,                                             \
        &::nsrun::detail::invoke_stage,                                              \
    };                                                                               \
    return &descriptor;                                                              \
  }
