// nsrun run [FLAGS] CMD [ARG...] | nsrun run --bundle DIR
#include <unistd.h>

#include <filesystem>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/resource_flags.hpp"
#include "nsrun/core/run_flags.hpp"
#include "nsrun/core/spec_json.hpp"

namespace nsrun::cli {
namespace {

struct RunOptions {
  core::RunFlags flags;
  core::ResourceFlags resources;
  std::string bundle;
  std::string pipeline_file;
  std::vector<std::string> stage_overrides;
  std::string name;
};

int run_container(CLI::App& command, RunOptions& options, const GlobalOptions& global) {
  core::StderrLogger log(global.level());
  auto start = std::chrono::steady_clock::now();
  std::string cwd = std::filesystem::current_path().string();
  Installation installation = Installation::locate();
  options.flags.command = command.remaining();
  // CLI11 hands an unknown flag to the command; no workload's name starts with '-'.
  if (!options.flags.command.empty() && options.flags.command.front().starts_with("-"))
    throw core::Error("run: unknown flag " + options.flags.command.front() +
                      " (see: nsrun run --help)");

  // First: without root nothing below can work, and its files may not even be readable.
  if (::geteuid() != 0)
    throw core::Error("nsrun run needs root to create namespaces and mounts (run it with sudo)");

  core::ContainerRequest request;
  if (!options.bundle.empty()) {
    if (!options.flags.command.empty())
      throw core::Error("give either --bundle DIR or a command, not both");
    if (std::string flag = options.resources.first_given(); !flag.empty())
      throw core::Error(flag +
                        " cannot be combined with --bundle (set linux.resources or "
                        "linux.cgroupsPath in config.json)");
    request.bundle = std::filesystem::absolute(options.bundle).lexically_normal().string();
    request.spec = core::read_bundle_config(request.bundle);
    if (core::spec_from_json(request.spec, request.bundle).process.args.empty())
      throw core::Error("bundle: config.json process.args is empty (name the command to run)");
  } else {
    request.bundle = cwd;
    ContainerSpec spec = core::spec_from_flags(options.flags, cwd, installation.default_rootfs);
    core::apply_resource_flags(options.resources, spec, ::sysconf(_SC_NPROCESSORS_ONLN));
    request.spec = core::spec_to_json(spec);
  }

  core::Pipeline pipeline = core::Pipeline::from_file(
      options.pipeline_file.empty() ? installation.default_pipeline : options.pipeline_file);
  // --network none|host choose a network plugin; a CIDR keeps the pipeline's network stage.
  const std::string& network = options.flags.network;
  if (options.bundle.empty() && (network == "none" || network == "host")) {
    if (pipeline.find_kind("network")) pipeline.override_stage("network=nsrun.network." + network);
  }
  for (const auto& assignment : options.stage_overrides) pipeline.override_stage(assignment);

  request.id = options.name.empty() ? core::generate_container_id() : options.name;
  if (!core::is_valid_container_id(request.id))
    throw core::Error("--name \"" + options.name +
                      "\" must be 1-64 letters, digits, '_', '.' or '-', starting with a letter "
                      "or digit");
  if (!options.resources.cgroup_parent.empty())
    request.spec["linux"].as_object()["cgroupsPath"] =
        core::cgroups_path_under(options.resources.cgroup_parent, request.id);
  request.state_root = global.state_root;

  auto discovery = std::chrono::steady_clock::now();
  core::PluginRegistry registry = global.load_plugins(installation, pipeline);
  if (log.debug_enabled())
    log.debug("core: " + std::to_string(registry.plugins().size()) +
              " plugins found and loaded in " + std::to_string(core::elapsed_ms(discovery)) +
              " ms (" + std::to_string(core::elapsed_ms(start)) + " ms since start)");
  auto stages = core::bind_pipeline(pipeline, registry);
  request.pipeline = std::move(pipeline);
  core::Orchestrator orchestrator(std::move(stages), log);
  return orchestrator.run(request);
}

}  // namespace

void add_run_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* run = app.add_subcommand("run", "Run a command in a new container");
  auto options = std::make_shared<RunOptions>();
  core::RunFlags& f = options->flags;
  run->add_option("--hostname", f.hostname, "Container hostname")->capture_default_str();
  run->add_option("--rootfs", f.rootfs,
                  "Root filesystem (default: ./namespace_fs if present, else " NSRUN_DEFAULT_ROOTFS
                  ")");
  run->add_option("--network", f.network, "Container network: a CIDR, none, or host")
      ->capture_default_str();
  run->add_option("--host-ip", f.host_ip, "Host-side address (default: first host of --network)");
  run->add_option("--container-ip", f.container_ip,
                  "Container address (default: chosen from --network)");
  run->add_option("--bridge", f.bridge, "Host bridge of the network (default: nsrun0)");
  run->add_option("--nat", f.nat, "Masquerade the container's traffic out (--nat=false: off)")
      ->capture_default_str();
  run->add_option("--publish,-p", f.publish,
                  "Publish [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp] with DNAT, repeatable")
      ->allow_extra_args(false);
  run->add_option("--dns", f.dns, "Nameserver for the container's resolv.conf, repeatable")
      ->allow_extra_args(false);
  run->add_option("--mount,-v", f.mounts,
                  "Bind mount HOST:CONTAINER[:ro|:rw], repeatable (default: the current "
                  "directory at /app)")
      ->allow_extra_args(false);
  run->add_option("--env,-e", f.env, "Set KEY=VALUE (or pass the host's KEY), repeatable")
      ->allow_extra_args(false);
  run->add_option("--workdir,-w", f.workdir, "Working directory inside the container");
  run->add_flag("--read-only", f.read_only, "Mount the container's root read-only");
  run->add_option("--bundle,-b", options->bundle, "Run the OCI bundle DIR (DIR/config.json)");
  run->add_option("--pipeline", options->pipeline_file, "Pipeline JSON replacing the default");
  run->add_option("--stage", options->stage_overrides,
                  "Swap one stage: KIND=PLUGIN, e.g. network=nsrun.network.none (repeatable)")
      ->allow_extra_args(false);
  run->add_option("--name", options->name, "Container id (default: 12 random hex digits)");
  core::ResourceFlags& r = options->resources;  // docker's names; checked in resource_flags.cpp
  run->add_option("--memory,-m", r.memory, "Memory limit, e.g. 64m (k, m, g: powers of 1024)");
  run->add_option("--memory-swap", r.memory_swap,
                  "Memory plus swap limit (default: twice --memory; -1: unlimited swap)");
  run->add_option("--cpus", r.cpus, "CPUs, fractional, e.g. 0.5 (quota over a 100 ms period)");
  run->add_option("--cpu-quota", r.cpu_quota, "CPU time per period in microseconds (-1: none)");
  run->add_option("--cpu-period", r.cpu_period, "CPU period in microseconds (1000-1000000)");
  run->add_option("--cpu-shares,-c", r.cpu_shares, "Relative CPU weight (2-262144, default 1024)");
  run->add_option("--pids-limit", r.pids_limit, "Most processes at once (-1: unlimited)");
  run->add_option("--cpuset-cpus", r.cpuset_cpus, "CPUs allowed, e.g. 0-1,3");
  run->add_option("--cpuset-mems", r.cpuset_mems, "Memory nodes allowed, e.g. 0");
  run->add_option("--cgroup-parent", r.cgroup_parent,
                  "Absolute cgroup under which nsrun-<id> is made (default: nsrun's own)");
  run->add_option("--cgroup-driver", r.cgroup_driver, "Cgroup driver: auto, v1, v2 or hybrid");
  run->prefix_command();  // everything from the command on belongs to the workload
  run->callback([run, options, &global, &exit_code] {
    try {
      exit_code = run_container(*run, *options, global);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
