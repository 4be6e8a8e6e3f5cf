// nsrun SDK: the C++ face of the plugin boundary.
//
// Writing a plugin:
//
//   #include <nsrun/plugin.hpp>
//   class MyStage : public nsrun::IStage {
//     void validate(nsrun::Context& ctx) override { ... }
//   };
//   NSRUN_PLUGIN(MyStage, "org.example.network.mine", "1.0.0", "network", "what it does")
//
// and build it with -fvisibility=hidden (the CMake package's nsrun_add_plugin does), so that the
// entry point is the one exported symbol. See docs/plugin-authors.md.
//
// Everything here is header-only and compiled into the plugin: it turns the plain C calls of
// <nsrun/plugin.h> into nsrun::Context and back. That is why a built plugin does not depend on
// how nsrun was compiled (its standard library build, its Boost, its flags): only C crosses.
#pragma once

#include <array>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/plugin.h"

// The face uses the system's Boost.JSON library, which is built with the standard string ABI;
// with the old one (_GLIBCXX_USE_CXX11_ABI=0) the link would fail on Boost's symbols with no word
// about why. Such a plugin can still be written against plugin.h alone, in C or C++.
#if defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI == 0
#error \
    "nsrun SDK: the C++ face (nsrun/plugin.hpp) needs _GLIBCXX_USE_CXX11_ABI=1, the ABI of the system's Boost.JSON; drop -D_GLIBCXX_USE_CXX11_ABI=0, or write the plugin against nsrun/plugin.h only"
#endif

#include "nsrun/spec_json.hpp"
#include "nsrun/stage.hpp"

namespace nsrun {

/// The SDK version this plugin is compiled against, checkable at compile time:
///   static_assert(nsrun::api_major == 2);
inline constexpr unsigned api_major = NSRUN_API_MAJOR;
inline constexpr unsigned api_minor = NSRUN_API_MINOR;

namespace detail {

class HostJournal final : public Journal {
 public:
  explicit HostJournal(const nsrun_host* host) : host_(host) {}
  bool append(std::string_view type, const boost::json::object& data) noexcept override {
    try {
      std::string type_text(type);
      std::string data_text = boost::json::serialize(data);
      return host_->journal_append(host_->opaque, type_text.c_str(), data_text.c_str()) != 0;
    } catch (...) {
      return false;
    }
  }
  std::vector<JournalRecord> records() const override {
    std::vector<JournalRecord> out;
    auto each = [](void* user, const char* type, const char* data_json) {
      auto* records = static_cast<std::vector<JournalRecord>*>(user);
      try {
        boost::system::error_code ec;
        auto data = boost::json::parse(data_json, ec);
        if (!ec && data.is_object()) records->push_back({type, std::move(data.as_object())});
      } catch (...) {
      }
    };
    if (!host_->journal_read(host_->opaque, each, &out))
      throw StageError("cannot read the state journal");
    return out;
  }

 private:
  const nsrun_host* host_;
};

class HostLogger final : public Logger {
 public:
  explicit HostLogger(const nsrun_host* host) : host_(host) {}
  bool debug_enabled() const noexcept override {
    return host_->log_enabled(host_->opaque, NSRUN_LOG_DEBUG) != 0;
  }
  void debug(std::string_view message) noexcept override { write(NSRUN_LOG_DEBUG, message); }
  void info(std::string_view message) noexcept override { write(NSRUN_LOG_INFO, message); }
  void warn(std::string_view message) noexcept override { write(NSRUN_LOG_WARN, message); }
  void error(std::string_view message) noexcept override { write(NSRUN_LOG_ERROR, message); }

 private:
  void write(int level, std::string_view message) noexcept {
    try {
      if (!host_->log_enabled(host_->opaque, level)) return;
      std::string text(message);
      host_->log(host_->opaque, level, text.c_str());
    } catch (...) {
    }
  }
  const nsrun_host* host_;
};

class HostServices final : public Services {
 public:
  explicit HostServices(const nsrun_host* host) : host_(host) {}
  void provide(std::string_view key, const boost::json::value& value) override {
    std::string name(key), text = boost::json::serialize(value);
    if (!host_->set_output(host_->opaque, name.c_str(), text.c_str()))
      throw StageError("cannot set the output \"" + name + "\"");
  }
  std::optional<boost::json::value> output(std::string_view key) const override {
    std::string name(key);
    const char* text = host_->get_output(host_->opaque, name.c_str());
    if (!text) return std::nullopt;
    return boost::json::parse(text);
  }
  void add_file(std::string_view destination, std::string_view content, unsigned mode) override {
    std::string path(destination);
    if (!host_->add_file(host_->opaque, path.c_str(), content.data(), content.size(), mode))
      throw StageError("cannot add the file " + path + " to the container");
  }
  void trace_span(std::string_view name, std::chrono::steady_clock::time_point start,
                  std::chrono::steady_clock::time_point end) override {
    // An nsrun older than 2.4 has no such function: its host table is shorter.
    if (host_->struct_size < offsetof(nsrun_host, trace_span) + sizeof host_->trace_span ||
        !host_->trace_span)
      return;
    auto ns = [](std::chrono::steady_clock::time_point at) {
      return static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count());
    };
    std::string text(name);
    host_->trace_span(host_->opaque, text.c_str(), ns(start), ns(end));
  }

 private:
  const nsrun_host* host_;
};

// One stage object with what the face keeps between calls: the parsed config (it never changes)
// and the spec with its revision (read again only when the revision changes). The spec is kept
// as its model and its text, not as a parsed document: the document is needed only when a
// stage's prepare changed the model, and a document kept by every stage of both processes was
// hundreds of small blocks on the heap, each page of which the clone made both processes copy.
struct StageInstance {
  std::unique_ptr<IStage> stage;
  std::optional<boost::json::object> config;
  std::optional<boost::json::object> flags;
  std::uint64_t spec_revision = 0;
  std::string spec_text;
  ContainerSpec spec;
};

// A JSON object the core passed (an absent or empty text is `{}`), in `storage`; `what` names it
// when it is not an object. The spec is parsed into an arena: a parse makes hundreds of small
// values, all of which go when the caller is done with them.
inline boost::json::object parse_object(const char* text, const char* what,
                                        boost::json::storage_ptr storage = {}) {
  auto document = boost::json::parse(text && *text ? text : "{}", std::move(storage));
  if (!document.is_object()) throw StageError(std::string(what) + " not a JSON object");
  return std::move(document.as_object());
}

// Runs `call` and turns any exception into a report: this is the wall exceptions stop at.
template <typename Call>
bool guarded(const nsrun_host* host, Call&& call) noexcept {
  try {
    call();
    return true;
  } catch (const StageError& e) {
    host->fail(host->opaque, e.what(), e.exit_code());
  } catch (const std::exception& e) {
    host->fail(host->opaque, e.what(), exit_code::runtime_error);
  } catch (...) {
    host->fail(host->opaque, "unknown exception", exit_code::runtime_error);
  }
  return false;
}

template <typename Stage>
void* create_stage(const nsrun_host* host) noexcept {
  StageInstance* instance = nullptr;
  guarded(host, [&] {
    auto made = std::make_unique<StageInstance>();
    made->stage = std::make_unique<Stage>();
    instance = made.release();
  });
  return instance;
}

inline void destroy_stage(void* instance) noexcept {
  delete static_cast<StageInstance*>(instance);
}

inline void dispatch(IStage& stage, Phase phase, Context& ctx) {
  switch (phase) {
    case Phase::validate:
      return stage.validate(ctx);
    case Phase::prepare:
      return stage.prepare(ctx);
    case Phase::create_runtime:
      return stage.create_runtime(ctx);
    case Phase::create_container:
      return stage.create_container(ctx);
    case Phase::start_container:
      return stage.start_container(ctx);
    case Phase::poststart:
      return stage.poststart(ctx);
    case Phase::teardown:
      return stage.teardown(ctx);
    case Phase::exec_prepare:
      return stage.exec_prepare(ctx);
    case Phase::exec_runtime:
      return stage.exec_runtime(ctx);
    case Phase::exec_container:
      return stage.exec_container(ctx);
    case Phase::pause:
      return stage.pause(ctx);
    case Phase::resume:
      return stage.resume(ctx);
    case Phase::update:
      return stage.update(ctx);
    case Phase::spec_final:
      return;  // invoke_stage read the spec: all this phase is for
  }
  throw StageError("unknown phase " + std::to_string(static_cast<int>(phase)));
}

// A core older than 2.2 passes a shorter call without the field: its specs count as bundles.
inline SpecSource spec_source_of(const nsrun_call& call) noexcept {
  if (call.struct_size < offsetof(nsrun_call, spec_source) + sizeof call.spec_source)
    return SpecSource::bundle;
  return call.spec_source == NSRUN_SPEC_FROM_FLAGS ? SpecSource::flags : SpecSource::bundle;
}

inline int invoke_stage(void* opaque_instance, const nsrun_call* call,
                        const nsrun_host* host) noexcept {
  bool ok = guarded(host, [&] {
    auto& instance = *static_cast<StageInstance*>(opaque_instance);
    if (!instance.config)
      instance.config = parse_object(call->config_json, "the stage's config is");
    if (!instance.flags) instance.flags = parse_object(call->flags_json, "the stage's flags are");
    if (call->spec_revision == 0 || call->spec_revision != instance.spec_revision) {
      instance.spec_text = call->spec_json ? call->spec_json : "";
      unsigned char first_block[16384];
      boost::json::monotonic_resource arena(first_block, sizeof first_block);
      instance.spec =
          spec_from_json(parse_object(instance.spec_text.c_str(), "the spec is", &arena));
      instance.spec_revision = call->spec_revision;
    }
    HostJournal journal(host);
    HostLogger log(host);
    HostServices services(host);
    const auto phase = static_cast<Phase>(call->phase);
    Context ctx{call->container_id ? call->container_id : "",
                call->state_dir ? call->state_dir : "",
                instance.spec,
                *instance.config,
                journal,
                log,
                static_cast<pid_t>(call->pid),
                call->state_root ? call->state_root : "",
                &*instance.flags,
                &services,
                spec_source_of(*call)};
    // What a stage changes in prepare goes back as a whole document, and only when something
    // changed: comparing the model with a copy of it is cheaper than writing the document to
    // compare it (many stages change nothing).
    std::optional<ContainerSpec> before;
    if (phase == Phase::prepare) before = instance.spec;
    dispatch(*instance.stage, phase, ctx);
    if (phase == Phase::prepare && !(instance.spec == *before)) {
      boost::json::monotonic_resource arena;
      auto read = parse_object(instance.spec_text.c_str(), "the spec is", &arena);
      auto document = spec_to_json(instance.spec, read);
      if (document != read) {
        std::string text = boost::json::serialize(document);
        std::uint64_t revision = host->replace_spec(host->opaque, text.c_str());
        if (revision == 0) throw StageError("nsrun refused the stage's change to the spec");
        instance.spec_text = std::move(text);
        instance.spec_revision = revision;
      }
    }
  });
  return ok ? 0 : 1;
}

// The descriptor's lists, taken from the stage class's optional static members (flags,
// provides, needs, claims, placement) and given the terminating entry plugin.h asks for.
template <typename T, std::size_t N>
constexpr std::array<T, N + 1> terminated(const T (&items)[N]) {
  std::array<T, N + 1> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = items[i];
  return out;
}

template <typename Stage>
struct DescriptorParts {
  static constexpr auto provides = [] {
    if constexpr (requires { Stage::provides; })
      return terminated(Stage::provides);
    else
      return std::array<nsrun_contract, 1>{};
  }();
  static constexpr auto needs = [] {
    if constexpr (requires { Stage::needs; })
      return terminated(Stage::needs);
    else
      return std::array<nsrun_contract, 1>{};
  }();
  static constexpr auto claims = [] {
    if constexpr (requires { Stage::claims; })
      return terminated(Stage::claims);
    else
      return std::array<const char*, 1>{};
  }();
  static constexpr const nsrun_flag* flags() {
    if constexpr (requires { Stage::flags; })
      return Stage::flags;
    else
      return nullptr;
  }
  static constexpr std::uint32_t flag_count() {
    if constexpr (requires { Stage::flags; })
      return static_cast<std::uint32_t>(std::size(Stage::flags));
    else
      return 0;
  }
  static constexpr std::uint32_t placement() {
    if constexpr (requires { Stage::placement; })
      return Stage::placement;
    else
      return NSRUN_PLACE_ANYWHERE;
  }
  static constexpr const nsrun_command* commands() {
    if constexpr (requires { Stage::commands; })
      return Stage::commands;
    else
      return nullptr;
  }
  static constexpr std::uint32_t command_count() {
    if constexpr (requires { Stage::commands; })
      return static_cast<std::uint32_t>(std::size(Stage::commands));
    else
      return 0;
  }
  using RunCommand = int (*)(const nsrun_command_call*, const nsrun_host*);
  static constexpr RunCommand run_command();
};

template <typename Stage>
int run_stage_command(const nsrun_command_call* call, const nsrun_host* host) noexcept {
  bool ok = guarded(host, [&] {
    HostLogger log(host);
    Command command{call->command ? call->command : "",
                    {},
                    call->state_root ? call->state_root : "",
                    log,
                    call->output_fd};
    for (int i = 0; i < call->argc; ++i) command.args.emplace_back(call->argv[i]);
    Stage::run_command(command);
  });
  return ok ? 0 : 1;
}

template <typename Stage>
constexpr typename DescriptorParts<Stage>::RunCommand DescriptorParts<Stage>::run_command() {
  if constexpr (requires(Command & command) { Stage::run_command(command); })
    return &run_stage_command<Stage>;
  else
    return nullptr;
}

}  // namespace detail
}  // namespace nsrun

/// Exports the plugin's entry point. Use once per plugin, at namespace scope. The stage class
/// may declare, as public static constexpr members (see docs/plugin-authors.md):
///   nsrun_flag flags[]          the `nsrun run` flags the plugin owns
///   nsrun_contract provides[]   outputs it sets: {{"network.address", 0}}
///   nsrun_contract needs[]      outputs it reads: {{"network.dns", NSRUN_NEED_OPTIONAL}}
///   const char* claims[]        config.json fields it implements: {"linux.seccomp"}
///   std::uint32_t placement     NSRUN_PLACE_LAST for a stage that execs the workload
///   nsrun_command commands[]    commands of its own, `nsrun KIND NAME ...` (SDK 2.3), run by
///                               a static member `static void run_command(nsrun::Command&)`
#define NSRUN_PLUGIN(StageClass, Name, Version, Kind, Summary)                                 \
  extern "C" __attribute__((visibility("default"))) const nsrun_plugin* nsrun_plugin_entry() { \
    using Parts = ::nsrun::detail::DescriptorParts<StageClass>;                                \
    static const nsrun_plugin descriptor{                                                      \
        NSRUN_API_MAJOR,                                                                       \
        sizeof(nsrun_plugin),                                                                  \
        Name,                                                                                  \
        NSRUN_API_MINOR,                                                                       \
        Version,                                                                               \
        Kind,                                                                                  \
        Summary,                                                                               \
        Parts::flags(),                                                                        \
        Parts::flag_count(),                                                                   \
        Parts::placement(),                                                                    \
        Parts::provides.data(),                                                                \
        Parts::needs.data(),                                                                   \
        Parts::claims.data(),                                                                  \
        &::nsrun::detail::create_stage<StageClass>,                                            \
        &::nsrun::detail::destroy_stage,                                                       \
        &::nsrun::detail::invoke_stage,                                                        \
        Parts::commands(),                                                                     \
        Parts::command_count(),                                                                \
        Parts::run_command(),                                                                  \
    };                                                                                         \
    return &descriptor;                                                                        \
  }
