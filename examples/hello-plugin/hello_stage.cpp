// A third-party plugin built outside the nsrun tree, against the installed SDK only:
//
//   g++ hello_stage.cpp -o org.example.hello.so $(pkg-config --cflags --libs nsrun-sdk)
//   nsrun --plugin-dir . run --pipeline hello-pipeline.json true
//
// It fills an "audit" slot of its own in the pipeline, takes a typed config ({"greeting": ...};
// any other key is refused) and hands the greeting to the workload in its environment.
#include <nsrun/config.hpp>
#include <nsrun/plugin.hpp>

namespace {

class HelloStage final : public nsrun::IStage {
 public:
  void validate(nsrun::Context& ctx) override {
    nsrun::ConfigReader config(ctx.config, "org.example.hello");
    greeting_ = config.string("greeting").value_or("hello");
    config.finish();
  }
  void prepare(nsrun::Context& ctx) override {
    ctx.spec.process.env.push_back("HELLO_GREETING=" + greeting_);
    ctx.log.debug("org.example.hello: greeting the workload with " + greeting_);
  }

 private:
  std::string greeting_;
};

}  // namespace

NSRUN_PLUGIN(HelloStage, "org.example.hello", "1.0.0", "audit",
             "example third-party stage: sets HELLO_GREETING for the workload")
