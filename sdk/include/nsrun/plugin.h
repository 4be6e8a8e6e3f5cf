/* nsrun SDK: the plugin boundary, in plain C (C11 and C++).
 *
 * This header is the whole binary interface between nsrun and a plugin. Only what it declares
 * crosses the shared object's boundary: integers, NUL-terminated UTF-8 strings, and the three
 * structs below made of them and of C function pointers. The container's spec travels as OCI
 * config.json text (whose schema the runtime spec versions), a stage's config as JSON text, and
 * everything a plugin asks of nsrun (journal, log, errors, replacing the spec) goes through the
 * table of functions nsrun passes with each call. No C++ object, no Boost type and no struct of
 * the core crosses, so a plugin keeps working whatever compiler flags, standard library build or
 * Boost version nsrun itself was built with.
 *
 * Most plugins never read this file: they write a C++ class against <nsrun/plugin.hpp>, whose
 * header-only face (compiled into the plugin) turns these structs into nsrun::Context. A plugin
 * written in C uses it directly (see tests/fixtures/c-plugin).
 *
 * Versioning (what "stable" means):
 * - NSRUN_API_MAJOR changes when anything here changes incompatibly. nsrun refuses a plugin of
 *   another major version, naming both versions.
 * - NSRUN_API_MINOR grows when something is added: a field at the end of a struct, a value of an
 *   enum. Nothing is ever removed or moved within a major version. Each struct starts with its
 *   size (after the descriptor's api_major), so each side can tell which fields the other has: a
 *   plugin built against a newer minor must check `host->struct_size` before calling a function
 *   added in that minor (the C++ face does), and nsrun reads a plugin's descriptor fields only up
 *   to its `struct_size`.
 * - api_major, struct_size and name lead the descriptor in every major version, so any nsrun can
 *   say which plugin it refuses and why.
 *
 * Memory: a string passed in a call is owned by the side that passes it and valid only for the
 * duration of that call; copy what must be kept. Nothing is freed by the other side.
 *
 * Exceptions and longjmp never cross the boundary: the C++ face catches everything at it.
 */
#ifndef NSRUN_PLUGIN_H
#define NSRUN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NSRUN_API_MAJOR 2
/* 2.1 added the exec, pause, resume and update phases (values 7-12 of nsrun_phase). nsrun calls
 * them only on plugins built with api_minor >= 1: a 2.0 plugin never sees a phase it does not know.
 */
/* 2.2 added nsrun_call.spec_source: whether the spec came from `nsrun run`'s flags or a bundle. */
/* 2.3 added plugin commands (nsrun_plugin.commands, run_command): `nsrun network ls` and the like.
 */
/* 2.4 added nsrun_host.trace_span: a stage's own spans in `nsrun run --trace`. */
/* 2.5 changed no struct: nsrun may run a stage's create_container as soon as the create_runtime of
 * that stage and of every stage before it finished, while the host runs the later stages'
 * create_runtime (unless a plugin of the pipeline was built against an older minor, or an OCI
 * hook runs between the two phases). A stage whose create_container needs the work of a later
 * stage's create_runtime must come after it. */
/* 2.6 added NSRUN_PHASE_SPEC_FINAL: once every stage prepared, nsrun hands the final spec to each
 * stage that saw an older one, before it clones the container process. */
#define NSRUN_API_MINOR 6

/* The one symbol a plugin exports; its type is nsrun_plugin_entry_fn. */
#define NSRUN_PLUGIN_ENTRY_SYMBOL "nsrun_plugin_entry"

/* The lifecycle phases, in the order nsrun runs them (see docs/plugin-authors.md for which
 * process runs each). */
enum nsrun_phase {
  NSRUN_PHASE_VALIDATE = 0,         /* host, before anything exists: no side effects */
  NSRUN_PHASE_PREPARE = 1,          /* host, before the container process exists */
  NSRUN_PHASE_CREATE_RUNTIME = 2,   /* host, the container process exists and waits */
  NSRUN_PHASE_CREATE_CONTAINER = 3, /* the container process, before the root switch */
  NSRUN_PHASE_START_CONTAINER = 4,  /* the container process, after it, before execve */
  NSRUN_PHASE_POSTSTART = 5,        /* host, the workload runs */
  NSRUN_PHASE_TEARDOWN = 6,         /* host, reverse order, from the journal alone */
  /* Since 2.1: `nsrun exec` runs another process in a running container. The spec is the
   * container's config.json with `process` replaced by the new process's. Nothing is created
   * for it that teardown would have to remove: the process ends, the container stays. */
  NSRUN_PHASE_EXEC_PREPARE = 7,   /* host, before the process exists: check the process */
  NSRUN_PHASE_EXEC_RUNTIME = 8,   /* host, the process (call.pid) exists in the container's
                                     namespaces and waits: e.g. move it into its cgroups */
  NSRUN_PHASE_EXEC_CONTAINER = 9, /* the new process, in the container's namespaces and root,
                                     before execve: confine it; the exec stage runs it */
  /* Since 2.1: `nsrun pause` / `nsrun resume`, host, from the journal alone (fresh objects). */
  NSRUN_PHASE_PAUSE = 10,
  NSRUN_PHASE_RESUME = 11,
  /* Since 2.1: `nsrun update`, host, fresh object, journal: the spec's linux.resources holds the
   * new limits; apply them to what the stage made. Only what changed is in the request, merged
   * into the container's spec, which nsrun saves once every stage succeeded. */
  NSRUN_PHASE_UPDATE = 12,
  /* Since 2.6: host, once every stage's prepare ran and before the container process is cloned,
   * to each stage whose last call carried an older spec_revision. The spec is final: a stage
   * that keeps what it reads of it reads it now, once, and both processes start with it, instead
   * of each reading it again in its first call after the clone. Nothing else: no side effects,
   * no outputs, no change to the spec. The C++ face does it by itself. */
  NSRUN_PHASE_SPEC_FINAL = 13
};

enum nsrun_log_level {
  NSRUN_LOG_DEBUG = 0, /* shown with DEBUG=1 or --log-level debug */
  NSRUN_LOG_INFO = 1,  /* a normal report: shown with --log-level info or debug */
  NSRUN_LOG_WARN = 2,  /* shown unless --log-level error */
  NSRUN_LOG_ERROR = 3  /* always shown */
};

/* A declared contract between stages (nsrun_plugin.provides / needs). Keys are names such as
 * "network.address"; "files" is the one nsrun itself serves (see add_file). */
typedef struct nsrun_contract {
  const char* key;
  uint32_t flags; /* NSRUN_NEED_* for needs; 0 for provides */
} nsrun_contract;

/* The stage runs without the output when no stage of the pipeline provides it. */
#define NSRUN_NEED_OPTIONAL 1u
/* The stage reads the output only from create_runtime on, after every stage's prepare, so the
 * provider may come after it in the pipeline. Without this flag the provider must come first. */
#define NSRUN_NEED_AFTER_PREPARE 2u

/* nsrun_plugin.placement */
#define NSRUN_PLACE_ANYWHERE 0u
#define NSRUN_PLACE_LAST 1u /* the stage execs the workload: nothing may come after it */

/* A command-line flag of `nsrun run` that the plugin owns (nsrun_plugin.flags). nsrun shows it
 * in `nsrun run --help` under the plugin's stage and hands its value to every phase call
 * (nsrun_call.flags_json); the plugin alone decides what is valid. */
typedef struct nsrun_flag {
  const char* name;       /* long name without dashes: "network" for --network */
  const char* short_name; /* one character without the dash, or NULL */
  uint32_t type;          /* NSRUN_FLAG_* */
  const char* value_name; /* "CIDR" in "--network CIDR"; NULL for a switch */
  const char* help;       /* one line; say the default here */
} nsrun_flag;

#define NSRUN_FLAG_STRING 0u  /* --name VALUE: a JSON string */
#define NSRUN_FLAG_STRINGS 1u /* --name VALUE, repeatable: a JSON array of strings */
#define NSRUN_FLAG_SWITCH 2u  /* --name: true; --name=false: false (a JSON boolean) */

/* Receives one journal record: its type and its data as a JSON object text. */
typedef void (*nsrun_record_fn)(void* user, const char* type, const char* data_json);

/* What nsrun offers a plugin during a call: pass `opaque` back as the first argument. */
typedef struct nsrun_host {
  uint32_t struct_size; /* sizeof(nsrun_host) as nsrun was built */
  void* opaque;
  /* Non-zero when a message of `level` would be shown (to skip building it otherwise). */
  int (*log_enabled)(void* opaque, int level);
  /* One line of diagnostics; nsrun adds "nsrun: " and the stage's kind. */
  void (*log)(void* opaque, int level, const char* message);
  /* Reports why this call fails (one line: what, why, the fix) and the exit code nsrun should
   * end with (125 unless it is the workload's, e.g. 126/127). Then return non-zero. */
  void (*fail)(void* opaque, const char* message, int exit_code);
  /* Appends a record of this stage's to the container's journal (flushed); 0 on failure.
   * Record a resource before creating it. */
  int (*journal_append)(void* opaque, const char* type, const char* data_json);
  /* Calls `each` for every record of this stage's, oldest first; 0 on failure. */
  int (*journal_read)(void* opaque, nsrun_record_fn each, void* user);
  /* prepare only: the container's spec becomes `spec_json` (a whole config.json document).
   * Returns the spec's new revision, or 0 when refused (the reason was logged as an error). */
  uint64_t (*replace_spec)(void* opaque, const char* spec_json);
  /* validate and prepare only: sets the output `key` (declared in provides) to a JSON value for
   * the stages that need it. 0 when refused (the reason was logged as an error). */
  int (*set_output)(void* opaque, const char* key, const char* value_json);
  /* The output `key` (declared in needs or provides) as JSON text, or NULL when no stage set
   * it. The text is valid until the call returns. */
  const char* (*get_output)(void* opaque, const char* key);
  /* prepare only: puts a file of `size` bytes at `destination` in the container's view with
   * `mode`, without writing into the rootfs (nsrun keeps it in the state directory and the stage
   * that provides "files" mounts it). The stage must declare it needs "files". 0 when refused. */
  int (*add_file)(void* opaque, const char* destination, const char* content, size_t size,
                  uint32_t mode);
  /* Since 2.4 (check struct_size): a span of the stage's own inside the current phase call, for
   * `nsrun run --trace` (docs/tracing.md): `name` from `start_ns` to `end_ns`, CLOCK_MONOTONIC
   * nanoseconds. Does nothing when the run is not traced: call it freely. */
  void (*trace_span)(void* opaque, const char* name, uint64_t start_ns, uint64_t end_ns);
} nsrun_host;

/* One phase call. */
typedef struct nsrun_call {
  uint32_t struct_size; /* sizeof(nsrun_call) as nsrun was built */
  int32_t phase;        /* an nsrun_phase */
  const char* container_id;
  const char* state_dir;  /* host path of the container's private state directory (0700) */
  const char* state_root; /* the directory of all containers' state directories */
  /* The container's OCI config.json, and its revision: the text changes only when the revision
   * does, so a plugin may keep what it parsed until then. */
  const char* spec_json;
  uint64_t spec_revision;
  const char* config_json; /* this stage's config from the pipeline: a JSON object */
  int32_t pid;             /* the container process as the host sees it; 0 before it exists */
  /* The plugin's flags given on the command line: {"name": value, ...} (a JSON object, empty
   * for a bundle or when none was given). */
  const char* flags_json;
  /* Since 2.2: where the spec came from, an NSRUN_SPEC_FROM_* value. A stage that fills in
   * defaults (docker's, for `nsrun run FLAGS CMD`) does so only for a flag-built spec: a bundle's
   * config.json is applied exactly as written, as runc applies it. */
  uint32_t spec_source;
} nsrun_call;

#define NSRUN_SPEC_FROM_BUNDLE                                                                  \
  0u                             /* config.json of a bundle (`create`, `run --bundle`), or exec \
                                  */
#define NSRUN_SPEC_FROM_FLAGS 1u /* built by `nsrun run FLAGS CMD` from its flags */

/* Since 2.3: a command of the plugin's own, outside any container, run as
 * `nsrun KIND NAME ARGS...` where KIND is the plugin's kind and the plugin is the one the default
 * pipeline puts in that slot (or `nsrun KIND --plugin PLUGIN NAME ...`). The bridge network plugin
 * has `nsrun network ls` and `nsrun network rm NAME` for the networks it keeps up between runs. */
typedef struct nsrun_command {
  const char* name;    /* "ls" in `nsrun network ls` */
  const char* usage;   /* its arguments, for the help: "NAME..."; "" when it takes none */
  const char* summary; /* one line */
} nsrun_command;

/* One command call. */
typedef struct nsrun_command_call {
  uint32_t struct_size; /* sizeof(nsrun_command_call) as nsrun was built */
  const char* command;  /* the name of one of the plugin's nsrun_command entries */
  int32_t argc;         /* the arguments after the command's name */
  const char* const* argv;
  const char* state_root; /* nsrun's --root: the directory of every container's state */
  int32_t output_fd;      /* where the command's result goes (nsrun's standard output) */
} nsrun_command_call;

/* The descriptor a plugin's entry point returns; static, never freed. */
typedef struct nsrun_plugin {
  uint32_t api_major;   /* NSRUN_API_MAJOR as the plugin was built */
  uint32_t struct_size; /* sizeof(nsrun_plugin) as the plugin was built */
  const char* name;     /* reverse-DNS, unique, e.g. "nsrun.network.bridge"; also the file name */
  uint32_t api_minor;   /* NSRUN_API_MINOR as the plugin was built */
  const char* version;  /* the plugin's own version, e.g. "1.0.0" */
  const char* kind;     /* the pipeline slot it fills: namespaces, storage, network, ... */
  const char* summary;  /* one line for `nsrun plugins` */
  const nsrun_flag* flags; /* the `nsrun run` flags it owns, `flag_count` of them */
  uint32_t flag_count;
  uint32_t placement;             /* NSRUN_PLACE_* */
  const nsrun_contract* provides; /* outputs it sets; ends with a {NULL, 0} entry (or NULL) */
  const nsrun_contract* needs;    /* outputs it reads; ends with a {NULL, 0} entry (or NULL) */
  /* The config.json fields it implements, as paths ("linux.seccomp", "process.user"); ends with
   * NULL (or NULL). nsrun refuses a spec that sets a field no stage of the pipeline claims. */
  const char* const* claims;
  /* A new stage object, or NULL after host->fail(). */
  void* (*create)(const nsrun_host* host);
  void (*destroy)(void* stage);
  /* Runs one phase: 0 on success; non-zero after host->fail(). */
  int (*invoke)(void* stage, const nsrun_call* call, const nsrun_host* host);
  /* Since 2.3 (nsrun reads them only when struct_size covers them): the plugin's commands,
   * `command_count` of them (0 and NULL for none), and the function that runs one. */
  const nsrun_command* commands;
  uint32_t command_count;
  /* Runs one command: 0 on success; non-zero after host->fail(), whose exit code nsrun ends with.
   * No container exists: only the host's log_enabled, log and fail may be called (the others
   * refuse). */
  int (*run_command)(const nsrun_command_call* call, const nsrun_host* host);
} nsrun_plugin;

typedef const nsrun_plugin* (*nsrun_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* NSRUN_PLUGIN_H */
