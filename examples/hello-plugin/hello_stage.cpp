// A third-party plugin built outside the nsrun tree, against the installed SDK only. Either with
// the CMake package (CMakeLists.txt here; it also builds hello_stage_test.cpp when GoogleTest is
// installed):
//
//   cmake -S . -B build -DCMAKE_PREFIX_PATH=<nsrun's install prefix>
//   cmake --build build && ctest --test-dir build
//   cmake --install build        # into nsrun's plugin directory
//
// or with pkg-config:
//
//   g++ hello_stage.cpp -o org.example.hello.so $(pkg-config --cflags --libs nsrun-sdk)
//
// and run it (DIR holds org.example.hello.so, owned by root and writable by root alone):
//
//   nsrun --plugin-dir DIR run --pipeline hello-pipeline.json sh -c 'echo $HELLO_GREETING'
//
// It fills an "audit" slot of its own in the pipeline, takes a typed config ({"greeting": ...};
// any other key is refused) and a flag of its own (nsrun run --greeting TEXT, which wins over the
// config), hands the greeting to the workload in its environment, and, when the pipeline has a
// network stage, reports the container's address that stage provides (nsrun --log-level info).
#include <nsrun/config.hpp>
#include <nsrun/plugin.hpp>

namespace {

class HelloStage final : public nsrun::IStage {
 public:
  static constexpr nsrun_flag flags[] = {
      {"greeting", nullptr, NSRUN_FLAG_STRING, "TEXT", "What HELLO_GREETING says (default hello)"}};
  // Read only in poststart, after every stage's prepare: the network stage may come later.
  static constexpr nsrun_contract needs[] = {
      {"network.address", NSRUN_NEED_OPTIONAL | NSRUN_NEED_AFTER_PREPARE}};

  void validate(nsrun::Context& ctx) override {
    nsrun::ConfigReader config(ctx.config, "org.example.hello");
    greeting_ = config.string("greeting").value_or("hello");
    config.finish();
    if (const auto* flag = ctx.flag("greeting")) {
      if (flag->as_string().empty()) throw nsrun::StageError("--greeting must not be empty");
      greeting_ = flag->as_string();
    }
  }
  void prepare(nsrun::Context& ctx) override {
    // A default, not an imposition: when the user set HELLO_GREETING (nsrun run -e, a bundle's
    // process.env) or an earlier stage did, that value is kept. set_env would replace it.
    if (ctx.spec.process.set_env_default("HELLO_GREETING", greeting_))
      ctx.log.debug("greeting the workload with " + greeting_);  // nsrun prefixes "audit: "
    else
      ctx.log.debug("HELLO_GREETING is already set; keeping it");
  }
  void poststart(nsrun::Context& ctx) override {
    if (auto address = ctx.output("network.address"); address && address->is_string())
      ctx.log.info("greeted a container at " + std::string(address->as_string()));
  }

 private:
  std::string greeting_;
};

}  // namespace

NSRUN_PLUGIN(HelloStage, "org.example.hello", "1.0.0", "audit",
             "example third-party stage: sets HELLO_GREETING for the workload")
