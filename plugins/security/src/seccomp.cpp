// linux.seccomp: checks, resolution into libseccomp's numbers, the filter, and Docker's JSON
// profile format.
#include "nsrun/security/seccomp.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string_view>

#include "nsrun/spec_json.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::security {

namespace {

std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

std::string indexed(const std::string& field, std::size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

// The OCI names of libseccomp's architectures, with Go's name for each (what Docker profiles'
// includes.arches and excludes.arches say).
struct Architecture {
  const char* oci;
  std::uint32_t token;
  const char* go;
};
constexpr Architecture architectures[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86, "386"},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64, "amd64"},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32, "x32"},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM, "arm"},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64, "arm64"},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS, "mips"},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64, "mips64"},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32, "mips64n32"},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL, "mipsle"},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64, "mips64le"},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32, "mips64len32"},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC, "ppc"},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64, "ppc64"},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE, "ppc64le"},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390, "s390"},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X, "s390x"},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC, "parisc"},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64, "parisc64"},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64, "riscv64"},
};

const Architecture* native_architecture() {
  std::uint32_t native = seccomp_arch_native();
  for (const auto& a : architectures)
    if (a.token == native) return &a;
  return nullptr;
}

std::uint32_t architecture_token(const std::string& name, const std::string& field) {
  for (const auto& a : architectures)
    if (name == a.oci) return a.token;
  throw StageError(field + ": unknown architecture " + quoted(name) +
                   " (use SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, "
                   "SCMP_ARCH_ARM, ...)");
}

struct Operator {
  const char* name;
  scmp_compare op;
};
constexpr Operator operators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

SeccompArgPlan arg_plan(const SeccompArgSpec& arg, const std::string& field) {
  if (arg.index > 5)
    throw StageError(field + ".index: " + std::to_string(arg.index) +
                     " is not a syscall argument (use 0 to 5)");
  for (const auto& o : operators)
    if (arg.op == o.name)
      return {arg.index, o.op, arg.value, o.op == SCMP_CMP_MASKED_EQ ? arg.value_two : 0};
  throw StageError(field + ".op: unknown operator " + quoted(arg.op) +
                   " (use SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_GT, "
                   "SCMP_CMP_GE or SCMP_CMP_MASKED_EQ)");
}

// The flags of seccomp(2) an OCI profile may ask for, as the filter attributes libseccomp sets
// them with. SECCOMP_FILTER_FLAG_NEW_LISTENER belongs to SCMP_ACT_NOTIFY, which nsrun refuses.
void apply_flag(const std::string& flag, const std::string& field, SeccompPlan& plan) {
  if (flag == "SECCOMP_FILTER_FLAG_LOG")
    plan.log = true;
  else if (flag == "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
    plan.spec_allow = true;
  else if (flag == "SECCOMP_FILTER_FLAG_TSYNC")
    plan.tsync = true;
  else
    throw StageError(field + ": unsupported flag " + quoted(flag) +
                     " (use SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW or "
                     "SECCOMP_FILTER_FLAG_TSYNC)");
}

// The rules of one syscalls entry, for one syscall. libseccomp takes one comparison per argument
// in a rule; an entry with several on the same argument becomes one rule per comparison, as
// runc makes it (so such an entry matches when any of them does).
void add_rules(const SeccompSyscallSpec& entry, const std::string& field, std::uint32_t action,
               const std::string& name, int number, SeccompPlan& plan) {
  std::vector<SeccompArgPlan> args;
  for (std::size_t i = 0; i < entry.args.size(); ++i)
    args.push_back(arg_plan(entry.args[i], indexed(field + ".args", i)));
  std::set<unsigned> indexes;
  for (const auto& a : args) indexes.insert(a.index);
  if (indexes.size() == args.size()) {
    plan.rules.push_back({field, name, number, action, std::move(args)});
    return;
  }
  for (const auto& a : args) plan.rules.push_back({field, name, number, action, {a}});
}

int errno_of(int rc) {
  return rc < 0 ? -rc : rc;
}

}  // namespace

std::uint32_t seccomp_action(const std::string& action, std::optional<std::uint32_t> errno_ret,
                             const std::string& action_field, const std::string& errno_field) {
  std::uint32_t result = 0;
  if (action == "SCMP_ACT_ALLOW")
    result = SCMP_ACT_ALLOW;
  else if (action == "SCMP_ACT_LOG")
    result = SCMP_ACT_LOG;
  else if (action == "SCMP_ACT_TRAP")
    result = SCMP_ACT_TRAP;
  else if (action == "SCMP_ACT_KILL" || action == "SCMP_ACT_KILL_THREAD")
    result = SCMP_ACT_KILL_THREAD;
  else if (action == "SCMP_ACT_KILL_PROCESS")
    result = SCMP_ACT_KILL_PROCESS;
  else if (action == "SCMP_ACT_NOTIFY")
    throw StageError(action_field +
                     ": SCMP_ACT_NOTIFY needs a seccomp agent, which nsrun does not support "
                     "(use SCMP_ACT_ERRNO or SCMP_ACT_ALLOW)");
  else if (action != "SCMP_ACT_ERRNO" && action != "SCMP_ACT_TRACE")
    throw StageError(action_field + ": unknown action " + quoted(action) +
                     " (use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, "
                     "SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG)");
  if (action == "SCMP_ACT_ERRNO") {
    // The kernel clamps what a filter returns to MAX_ERRNO: a larger value would not be the
    // errno the profile asks for.
    if (errno_ret && *errno_ret > 4095)
      throw StageError(errno_field + ": " + std::to_string(*errno_ret) +
                       " is not an errno value (use 0 to 4095, e.g. 1 for EPERM)");
    return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
  }
  if (action == "SCMP_ACT_TRACE") {
    if (errno_ret && *errno_ret > 0xffff)
      throw StageError(errno_field + ": " + std::to_string(*errno_ret) +
                       " does not fit SCMP_ACT_TRACE's 16 bits (use 0 to 65535)");
    return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  }
  if (errno_ret)
    throw StageError(errno_field + ": only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take it, not " +
                     quoted(action) + " (remove it, or change the action)");
  return result;
}

std::string seccomp_action_name(std::uint32_t action) {
  std::uint32_t data = action & 0x0000ffffU;  // SECCOMP_RET_DATA
  switch (action & 0xffff0000U) {             // SECCOMP_RET_ACTION_FULL
    case SCMP_ACT_ALLOW:
      return "SCMP_ACT_ALLOW";
    case SCMP_ACT_LOG:
      return "SCMP_ACT_LOG";
    case SCMP_ACT_TRAP:
      return "SCMP_ACT_TRAP";
    case SCMP_ACT_KILL_THREAD:
      return "SCMP_ACT_KILL_THREAD";
    case SCMP_ACT_KILL_PROCESS:
      return "SCMP_ACT_KILL_PROCESS";
    case SCMP_ACT_ERRNO(0):
      return "SCMP_ACT_ERRNO(" + std::to_string(data) + ")";
    case SCMP_ACT_TRACE(0):
      return "SCMP_ACT_TRACE(" + std::to_string(data) + ")";
  }
  return "action " + std::to_string(action);
}

SeccompPlan make_seccomp_plan(const SeccompSpec& spec, const std::string& field) {
  SeccompPlan plan;
  if (!spec.listener_path.empty())
    throw StageError(field +
                     ".listenerPath: seccomp agents (SCMP_ACT_NOTIFY) are not supported "
                     "by nsrun (remove it)");
  plan.default_action = seccomp_action(spec.default_action, spec.default_errno_ret,
                                       field + ".defaultAction", field + ".defaultErrnoRet");
  for (std::size_t i = 0; i < spec.architectures.size(); ++i) {
    std::uint32_t token =
        architecture_token(spec.architectures[i], indexed(field + ".architectures", i));
    if (std::find(plan.architectures.begin(), plan.architectures.end(), token) ==
        plan.architectures.end())
      plan.architectures.push_back(token);
  }
  for (std::size_t i = 0; i < spec.flags.size(); ++i)
    apply_flag(spec.flags[i], indexed(field + ".flags", i), plan);
  for (std::size_t i = 0; i < spec.syscalls.size(); ++i) {
    const auto& entry = spec.syscalls[i];
    std::string entry_field = indexed(field + ".syscalls", i);
    std::uint32_t action = seccomp_action(entry.action, entry.errno_ret, entry_field + ".action",
                                          entry_field + ".errnoRet");
    if (entry.names.empty())
      throw StageError(entry_field + ".names: empty (name at least one syscall)");
    for (const auto& name : entry.names) {
      int number = seccomp_syscall_resolve_name(name.c_str());
      if (number == __NR_SCMP_ERROR) {
        plan.skipped.push_back(entry_field + ": " + name);
        continue;
      }
      if (action == plan.default_action) {
        // libseccomp refuses a rule that only repeats the default; it changes nothing.
        ++plan.same_as_default;
        continue;
      }
      add_rules(entry, entry_field, action, name, number, plan);
    }
  }
  // Checked even when every name was skipped, so a bad argument never waits for a kernel that
  // knows the syscall.
  for (std::size_t i = 0; i < spec.syscalls.size(); ++i)
    for (std::size_t j = 0; j < spec.syscalls[i].args.size(); ++j)
      arg_plan(spec.syscalls[i].args[j], indexed(indexed(field + ".syscalls", i) + ".args", j));
  return plan;
}

void log_seccomp_plan(const SeccompPlan& plan, Logger& log) {
  if (!log.debug_enabled()) return;
  for (const auto& skipped : plan.skipped)
    log.debug("seccomp: " + skipped + " is unknown to libseccomp here; skipped");
  log.debug("seccomp: default action " + seccomp_action_name(plan.default_action) + ", " +
            std::to_string(plan.architectures.size()) + " architectures besides this one's, " +
            std::to_string(plan.rules.size()) + " rules" +
            (plan.same_as_default
                 ? " (" + std::to_string(plan.same_as_default) + " that repeat it left out)"
                 : ""));
}

SeccompFilter::SeccompFilter(const SeccompPlan& plan) {
  ctx_ = seccomp_init(plan.default_action);
  if (!ctx_) throw StageError("linux.seccomp: libseccomp cannot make a filter (out of memory?)");
  auto check = [](int rc, const std::string& what) {
    if (rc != 0) throw StageError(what + ": " + std::strerror(errno_of(rc)));
  };
  // nsrun sets no_new_privs itself, where process.noNewPrivileges says; libseccomp would
  // otherwise set it whatever the spec says.
  check(seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_NNP, 0), "linux.seccomp: cannot leave NNP alone");
  // A syscall through an ABI the filter does not list (int 0x80 from an x86_64 process when
  // SCMP_ARCH_X86 is not there) kills the process, as Docker's profiles do: the ABI's numbers
  // are not the ones the profile was written for, so no errno would be the right one.
  check(seccomp_attr_set(ctx_, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
        "linux.seccomp: cannot set the action for other architectures");
  // A binary tree of syscall numbers rather than a list: the kernel's own work on loading the
  // filter (checking it, JIT-compiling it, and running it once per syscall number to build its
  // allow cache) shrinks with the path to each syscall's rule, and so does every later syscall
  // of the workload. The default profile loads in 0.4 ms instead of 0.9 (docs/benchmarks.md).
  // A libseccomp without the attribute (before 2.5) keeps the list, which is as correct.
  seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (plan.log) check(seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_LOG, 1), "linux.seccomp.flags");
  if (plan.spec_allow) check(seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_SSB, 1), "linux.seccomp.flags");
  if (plan.tsync) check(seccomp_attr_set(ctx_, SCMP_FLTATR_CTL_TSYNC, 1), "linux.seccomp.flags");
  // Architectures first: a rule covers the architectures the filter has when it is added.
  for (std::uint32_t arch : plan.architectures)
    if (seccomp_arch_exist(ctx_, arch) != 0)
      check(seccomp_arch_add(ctx_, arch), "linux.seccomp.architectures");
  for (const auto& rule : plan.rules) {
    std::vector<scmp_arg_cmp> args;
    for (const auto& a : rule.args) args.push_back({a.index, a.op, a.datum_a, a.datum_b});
    check(seccomp_rule_add_array(ctx_, rule.action, rule.number, static_cast<unsigned>(args.size()),
                                 args.data()),
          rule.field + ": libseccomp refuses the rule for " + rule.name);
  }
}

SeccompFilter::~SeccompFilter() {
  if (ctx_) seccomp_release(ctx_);
}

int SeccompFilter::load() {
  return errno_of(seccomp_load(ctx_));
}

std::size_t SeccompFilter::instructions() const {
  // seccomp_export_bpf writes to a file descriptor: a pipe would block on a large filter, so
  // the program is measured through a memfd.
  int fd = ::memfd_create("nsrun-seccomp", MFD_CLOEXEC);
  if (fd < 0) return 0;
  std::size_t size = 0;
  if (seccomp_export_bpf(ctx_, fd) == 0) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end > 0) size = static_cast<std::size_t>(end) / 8;  // struct sock_filter is 8 bytes
  }
  ::close(fd);
  return size;
}

std::vector<sock_filter> SeccompFilter::program() const {
  std::vector<sock_filter> out;
  int fd = ::memfd_create("nsrun-seccomp", MFD_CLOEXEC);
  if (fd < 0) return out;
  if (seccomp_export_bpf(ctx_, fd) == 0) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end > 0 && end % static_cast<off_t>(sizeof(sock_filter)) == 0) {
      out.resize(static_cast<std::size_t>(end) / sizeof(sock_filter));
      if (::pread(fd, out.data(), static_cast<std::size_t>(end), 0) != end) out.clear();
    }
  }
  ::close(fd);
  return out;
}

namespace {

// What else shapes the BPF libseccomp writes: its version, and the kernel, whose seccomp API
// level it probes. Neither changes while nsrun runs: taken once per process.
const std::string& build_environment() {
  static const std::string environment = [] {
    const scmp_version* version = seccomp_version();
    utsname kernel{};
    ::uname(&kernel);
    return "\nlibseccomp " + std::to_string(version->major) + "." + std::to_string(version->minor) +
           "." + std::to_string(version->micro) + "\n" + kernel.machine + " " + kernel.release +
           "\n";
  }();
  return environment;
}

// What a cached program must have been built from: the profile's own text, and the rest.
std::string cache_key(const SeccompSpec& spec) {
  ContainerSpec holder;
  holder.seccomp = spec;
  return boost::json::serialize(spec_to_json(holder).at("linux").at("seccomp")) +
         build_environment();
}

// Cache file: "nsrun-seccomp 2 FLAGS RULES KEYLENGTH\n", the key, then the program. Version 2
// files hold the tree-shaped programs (SeccompFilter); version 1 files are built again.
constexpr const char* cache_magic = "nsrun-seccomp 2 ";

// Read with one read(2) rather than through a stream: it runs in every `nsrun run`, and a stream
// taking 10 KB a character at a time cost a quarter of a millisecond.
std::shared_ptr<CompiledSeccomp> read_cached(const std::string& path, const std::string& key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  std::string text;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      st.st_size <= static_cast<off_t>(64 + key.size() + BPF_MAXINSNS * sizeof(sock_filter))) {
    text.resize(static_cast<std::size_t>(st.st_size));
    if (::read(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) text.clear();
  }
  ::close(fd);
  std::string_view rest = text;
  if (!rest.starts_with(cache_magic)) return nullptr;
  rest.remove_prefix(std::strlen(cache_magic));
  unsigned flags = 0;
  std::size_t rules = 0, key_length = 0;
  int header = 0;
  std::string numbers(rest.substr(0, rest.find('\n')));
  if (std::sscanf(numbers.c_str(), "%u %zu %zu%n", &flags, &rules, &key_length, &header) != 3 ||
      static_cast<std::size_t>(header) != numbers.size() || numbers.size() >= rest.size())
    return nullptr;
  rest.remove_prefix(numbers.size() + 1);
  if (key_length != key.size() || !rest.starts_with(key)) return nullptr;
  rest.remove_prefix(key_length);
  if (rest.empty() || rest.size() % sizeof(sock_filter) != 0) return nullptr;
  auto compiled = std::make_shared<CompiledSeccomp>();
  compiled->program.resize(rest.size() / sizeof(sock_filter));
  std::memcpy(compiled->program.data(), rest.data(), rest.size());
  compiled->flags = flags;
  compiled->rules = rules;
  compiled->from_cache = true;
  return compiled;
}

void write_cached(const std::string& dir, const std::string& path, const std::string& key,
                  const CompiledSeccomp& compiled) {
  // A cache that cannot be written costs the next run a build, nothing else.
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return;
  std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << cache_magic << compiled.flags << " " << compiled.rules << " " << key.size() << "\n"
        << key;
    out.write(reinterpret_cast<const char*>(compiled.program.data()),
              static_cast<std::streamsize>(compiled.program.size() * sizeof(sock_filter)));
    if (!out) {
      ::unlink(temporary.c_str());
      return;
    }
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) ::unlink(temporary.c_str());
}

std::string cache_path(const std::string& cache_dir, const std::string& key) {
  if (cache_dir.empty()) return "";
  char name[32];
  std::snprintf(name, sizeof name, "%016zx", std::hash<std::string>{}(key));
  return cache_dir + "/" + name;
}

}  // namespace

SeccompSource seccomp_source(SeccompSpec spec) {
  std::string key = cache_key(spec);
  return {std::move(key), [spec = std::move(spec)] { return spec; }};
}

SeccompSource default_seccomp_source() {
  return {std::string("nsrun default profile ") + NSRUN_DEFAULT_SECCOMP_DIGEST +
              (default_profile_allows_ptrace() ? " ptrace" : "") + build_environment(),
          default_seccomp_profile};
}

void cache_compiled_seccomp(const SeccompSource& source, const CompiledSeccomp& compiled,
                            const std::string& cache_dir) {
  if (compiled.from_cache || cache_dir.empty()) return;
  write_cached(cache_dir, cache_path(cache_dir, source.key), source.key, compiled);
}

void cache_compiled_seccomp(const SeccompSpec& spec, const CompiledSeccomp& compiled,
                            const std::string& cache_dir) {
  cache_compiled_seccomp(seccomp_source(spec), compiled, cache_dir);
}

std::shared_ptr<const CompiledSeccomp> compile_seccomp(const SeccompSource& source,
                                                       const std::string& cache_dir, Logger& log) {
  const std::string path = cache_path(cache_dir, source.key);
  if (!path.empty())
    if (auto cached = read_cached(path, source.key)) {
      log.debug("seccomp: " + std::to_string(cached->rules) + " rules, " +
                std::to_string(cached->program.size()) + " BPF instructions, from the cache");
      return cached;
    }
  SeccompPlan plan = make_seccomp_plan(source.build());
  log_seccomp_plan(plan, log);
  SeccompFilter filter(plan);
  auto compiled = std::make_shared<CompiledSeccomp>();
  compiled->program = filter.program();
  if (compiled->program.empty())
    throw StageError("linux.seccomp: libseccomp cannot export the filter's BPF");
  if (compiled->program.size() > BPF_MAXINSNS)
    throw StageError("linux.seccomp: the filter has " + std::to_string(compiled->program.size()) +
                     " BPF instructions, more than the kernel's " + std::to_string(BPF_MAXINSNS) +
                     " (shorten the profile)");
  compiled->flags = (plan.log ? SECCOMP_FILTER_FLAG_LOG : 0U) |
                    (plan.spec_allow ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0U) |
                    (plan.tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0U);
  compiled->rules = plan.rules.size();
  return compiled;
}

std::shared_ptr<const CompiledSeccomp> compile_seccomp(const SeccompSpec& spec,
                                                       const std::string& cache_dir, Logger& log) {
  return compile_seccomp(seccomp_source(spec), cache_dir, log);
}

// ---- Docker's JSON profile format ----

namespace {

// Typed access to a JSON object, with errors "SOURCE: PATH.KEY must be ...".
class JsonFields {
 public:
  JsonFields(const boost::json::object& object, std::string source, std::string path)
      : object_(object), source_(std::move(source)), path_(std::move(path)) {}

  std::string name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const std::string& path() const { return path_; }
  std::string where(std::string_view key) const { return source_ + ": " + name(key); }
  [[noreturn]] void wrong(std::string_view key, const char* expected) const {
    throw StageError(where(key) + " must be " + expected);
  }
  const boost::json::value* get(std::string_view key) const {
    const auto* v = object_.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
  }
  std::optional<std::string> string(std::string_view key) const {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) wrong(key, "a string");
    return std::string(v->as_string());
  }
  std::vector<std::string> strings(std::string_view key) const {
    std::vector<std::string> out;
    const auto* v = get(key);
    if (!v) return out;
    if (!v->is_array()) wrong(key, "an array of strings");
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) wrong(key, "an array of strings");
      out.emplace_back(item.as_string());
    }
    return out;
  }
  std::optional<std::uint64_t> unsigned_integer(std::string_view key, std::uint64_t max,
                                                const char* expected) const {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    if (v->is_uint64() && v->as_uint64() <= max) return v->as_uint64();
    if (v->is_int64() && v->as_int64() >= 0 && static_cast<std::uint64_t>(v->as_int64()) <= max)
      return static_cast<std::uint64_t>(v->as_int64());
    wrong(key, expected);
  }
  std::optional<std::uint32_t> uint32(std::string_view key) const {
    auto v = unsigned_integer(key, UINT32_MAX, "an integer from 0 to 4294967295");
    return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
  }
  std::optional<std::uint64_t> uint64(std::string_view key) const {
    return unsigned_integer(key, UINT64_MAX, "an integer from 0 to 18446744073709551615");
  }
  // The objects of the array at `key`, each with its fields.
  std::vector<JsonFields> objects(std::string_view key) const {
    std::vector<JsonFields> out;
    const auto* v = get(key);
    if (!v) return out;
    if (!v->is_array()) wrong(key, "an array of objects");
    const auto& items = v->as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      std::string item = indexed(name(key), i);
      if (!items[i].is_object()) throw StageError(source_ + ": " + item + " must be an object");
      out.emplace_back(items[i].as_object(), source_, item);
    }
    return out;
  }
  std::optional<JsonFields> child(std::string_view key) const {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_object()) wrong(key, "an object");
    return JsonFields(v->as_object(), source_, name(key));
  }

 private:
  const boost::json::object& object_;
  std::string source_;
  std::string path_;
};

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Docker's rule: an entry is kept when this architecture and every capability its `includes`
// lists are there, and none of what its `excludes` lists is.
bool entry_applies(const JsonFields& entry, const std::vector<std::string>& caps,
                   const std::string& arch) {
  if (auto excludes = entry.child("excludes")) {
    if (contains(excludes->strings("arches"), arch)) return false;
    for (const auto& cap : excludes->strings("caps"))
      if (contains(caps, cap)) return false;
    excludes->string("minKernel");  // checked for its type; ignored (see seccomp.hpp)
  }
  if (auto includes = entry.child("includes")) {
    auto arches = includes->strings("arches");
    if (!arches.empty() && !contains(arches, arch)) return false;
    for (const auto& cap : includes->strings("caps"))
      if (!contains(caps, cap)) return false;
    includes->string("minKernel");
  }
  return true;
}

}  // namespace

SeccompSpec seccomp_spec_from_docker_profile(const boost::json::value& profile,
                                             const std::vector<std::string>& bounding_caps,
                                             const std::string& source, const std::string& arch) {
  if (!profile.is_object())
    throw StageError(source +
                     ": the profile must be a JSON object (Docker's seccomp profile "
                     "format, or an OCI linux.seccomp object)");
  const Architecture* native = native_architecture();
  std::string go_arch = !arch.empty() ? arch : native ? native->go : "";
  JsonFields top(profile.as_object(), source, "");
  SeccompSpec spec;
  auto default_action = top.string("defaultAction");
  if (!default_action)
    throw StageError(source + ": defaultAction is required (e.g. \"SCMP_ACT_ERRNO\")");
  spec.default_action = *default_action;
  spec.default_errno_ret = top.uint32("defaultErrnoRet");
  seccomp_action(spec.default_action, spec.default_errno_ret, top.where("defaultAction"),
                 top.where("defaultErrnoRet"));
  spec.listener_path = top.string("listenerPath").value_or("");
  if (!spec.listener_path.empty())
    throw StageError(top.where("listenerPath") +
                     ": seccomp agents (SCMP_ACT_NOTIFY) are not supported by nsrun (remove it)");
  spec.flags = top.strings("flags");
  SeccompPlan flags_check;
  for (std::size_t i = 0; i < spec.flags.size(); ++i)
    apply_flag(spec.flags[i], source + ": " + indexed("flags", i), flags_check);

  spec.architectures = top.strings("architectures");
  auto arch_map = top.objects("archMap");
  if (!spec.architectures.empty() && !arch_map.empty())
    throw StageError(source + ": architectures and archMap are both set (keep one)");
  for (const auto& entry : arch_map) {
    auto architecture = entry.string("architecture");
    if (!architecture) throw StageError(entry.where("architecture") + " is required");
    auto sub_architectures = entry.strings("subArchitectures");
    // This machine's entry only, with the ABIs it runs besides its own.
    if (!native || *architecture != native->oci) continue;
    spec.architectures.push_back(*architecture);
    spec.architectures.insert(spec.architectures.end(), sub_architectures.begin(),
                              sub_architectures.end());
  }
  for (std::size_t i = 0; i < spec.architectures.size(); ++i)
    architecture_token(
        spec.architectures[i],
        source + ": " + (arch_map.empty() ? indexed("architectures", i) : std::string("archMap")));

  for (const auto& entry : top.objects("syscalls")) {
    SeccompSyscallSpec syscall;
    auto name = entry.string("name");
    syscall.names = entry.strings("names");
    if (name && !syscall.names.empty())
      throw StageError(entry.where("name") + ": name and names are both set (keep one)");
    if (name) syscall.names.push_back(*name);
    if (syscall.names.empty())
      throw StageError(entry.where("names") + " is required (the syscalls the entry is for)");
    auto action = entry.string("action");
    if (!action) throw StageError(entry.where("action") + " is required (e.g. \"SCMP_ACT_ALLOW\")");
    syscall.action = *action;
    syscall.errno_ret = entry.uint32("errnoRet");
    seccomp_action(syscall.action, syscall.errno_ret, entry.where("action"),
                   entry.where("errnoRet"));
    for (const auto& arg : entry.objects("args")) {
      auto index = arg.uint32("index");
      auto value = arg.uint64("value");
      auto op = arg.string("op");
      if (!index || !value || !op)
        throw StageError(source + ": " + arg.path() + " needs index, value and op");
      SeccompArgSpec a{*index, *value, arg.uint64("valueTwo").value_or(0), *op};
      arg_plan(a, source + ": " + arg.path());
      syscall.args.push_back(std::move(a));
    }
    entry.string("comment");
    if (entry_applies(entry, bounding_caps, go_arch)) spec.syscalls.push_back(std::move(syscall));
  }
  return spec;
}

SeccompSpec load_seccomp_profile_file(const std::string& path,
                                      const std::vector<std::string>& bounding_caps) {
  const std::string source = "--security-opt seccomp=" + path;
  std::ifstream file(path, std::ios::binary);
  if (!file) throw StageError(source + ": cannot read it: " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  boost::json::stream_parser parser;
  boost::system::error_code ec;
  std::size_t used = parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec)
    throw StageError(source + ": not valid JSON at " + json_text_position(text, used) + ": " +
                     ec.message());
  return seccomp_spec_from_docker_profile(parser.release(), bounding_caps, source);
}

}  // namespace nsrun::security
