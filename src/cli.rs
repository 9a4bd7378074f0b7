//! Command-line arguments (clap derive types only). Turning them into a validated
//! configuration happens in [`crate::config`] and the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "trailreplay",
    version,
    about = "Replay CloudTrail Session Manager events against candidate IAM policies",
    long_about = "Replay CloudTrail Session Manager events against candidate IAM policies: \
                  whose real sessions would a policy change break, and what would it newly let through?"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay log archives against a candidate policy set and report what changes
    Replay(Box<ReplayArgs>),
    /// Write the Session Manager records of log archives to a subset that replays in seconds
    Extract(ExtractArgs),
    /// Evaluate one request against policies (like `aws iam simulate-custom-policy`, offline)
    Simulate(SimulateArgs),
    /// Check policy files for errors and likely mistakes
    Validate(ValidateArgs),
    /// Write a deterministic synthetic archive in the S3 layout (for benchmarks)
    Generate(GenerateArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimulateFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The action, e.g. ssm:StartSession
    #[arg(long)]
    pub action: String,
    /// A resource ARN; repeatable (`*` for actions without resources)
    #[arg(long = "resource", required = true)]
    pub resources: Vec<String>,
    /// An identity-based policy document (`-` reads stdin); repeatable
    #[arg(long = "policy")]
    pub policies: Vec<PathBuf>,
    /// A service control policy; repeatable, one file per level, root first
    #[arg(long = "scp")]
    pub scps: Vec<PathBuf>,
    /// Permissions boundary
    #[arg(long)]
    pub boundary: Option<PathBuf>,
    /// A session policy; repeatable
    #[arg(long = "session-policy")]
    pub session_policies: Vec<PathBuf>,
    /// Context key and value, KEY=VALUE; repeatable (repeat a key for a multivalued key)
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// A context key whose value is unknown; repeatable
    #[arg(long = "unknown", value_name = "KEY")]
    pub unknown: Vec<String>,
    /// Output: text for people, json for machines
    #[arg(long, value_enum, default_value_t = SimulateFormat::Text)]
    pub format: SimulateFormat,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Policy files: documents, get-policy-version output, or authorization-details exports
    /// (`-` reads stdin)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    Csv,
    Jsonl,
    Summary,
    Markdown,
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    NewlyDenied,
    NewlyAllowed,
    Uncertain,
    Any,
}

/// The most worker threads `--threads` takes.
pub const MAX_THREADS: usize = 1024;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Candidate policy set: policy documents and/or get-account-authorization-details exports
    /// (`-` reads stdin); repeatable. A plain document applies to every principal.
    /// `NAME=POLICYSET` names a candidate: several names are evaluated in one pass, one report
    /// each under `-o DIR`. To change only some principals, use --replace-policy, --attach or
    /// --detach instead
    #[arg(long = "candidate", value_name = "POLICYSET")]
    pub candidate: Vec<PathBuf>,
    /// Baseline policy set (default: the outcome recorded in the log); repeatable
    #[arg(long = "baseline", value_name = "POLICYSET")]
    pub baseline: Vec<PathBuf>,
    /// The candidate is the --baseline export with this managed policy (ARN or name) or inline
    /// policy (`role/NAME/POLICY`, `user/NAME/POLICY`, `group/NAME/POLICY`) replaced by the
    /// document in FILE; repeatable
    #[arg(long = "replace-policy", value_name = "POLICY=FILE")]
    pub replace_policy: Vec<String>,
    /// The candidate is the --baseline export with this principal (`role/NAME`, `user/NAME`,
    /// `group/NAME` or an ARN) holding one more policy: a document FILE, or a managed policy ARN
    /// of the export; repeatable
    #[arg(long = "attach", value_name = "PRINCIPAL=FILE|ARN")]
    pub attach: Vec<String>,
    /// The candidate is the --baseline export without this principal's managed (ARN or name)
    /// or inline (name) policy; repeatable
    #[arg(long = "detach", value_name = "PRINCIPAL=POLICY")]
    pub detach: Vec<String>,
    /// The candidate is the baseline with this Terraform plan applied (`terraform show -json
    /// PLANFILE` output). Without --baseline, the baseline is the plan's prior state and only
    /// the principals the plan changes are compared; with a --baseline export, the plan is
    /// applied on top of it
    #[arg(long = "plan", value_name = "PLAN_JSON")]
    pub plan: Option<PathBuf>,
    /// The account the plan manages (default: `data.aws_caller_identity` in the plan, else the
    /// one account of its resources' ARNs)
    #[arg(long = "plan-account", value_name = "ID")]
    pub plan_account: Option<String>,
    /// A service control policy for both sides; repeatable, one file per level, root first
    #[arg(long = "scp")]
    pub scps: Vec<PathBuf>,
    /// A service control policy for the baseline only (after --scp levels); repeatable
    #[arg(long = "baseline-scp", value_name = "FILE")]
    pub baseline_scps: Vec<PathBuf>,
    /// A service control policy for the candidates only (after --scp levels); repeatable
    #[arg(long = "candidate-scp", value_name = "FILE")]
    pub candidate_scps: Vec<PathBuf>,
    /// Only events of principals whose ARN (as reported) matches this pattern; `*` matches any
    /// text, `/` included, `?` one character; repeatable
    #[arg(long = "principal", value_name = "GLOB")]
    pub principals: Vec<String>,
    /// Resource tags: describe-instances output, get-resources output, or CSV
    /// resource,key,value; repeatable
    #[arg(long = "inventory")]
    pub inventory: Vec<PathBuf>,
    /// When the --inventory snapshot was taken (ISO 8601; default: after the last event, i.e.
    /// now): tags changed between an event and this time are unknown for the event
    #[arg(long = "inventory-time", value_name = "TIME")]
    pub inventory_time: Option<String>,
    /// AWS Config history of resource tags: `aws configservice get-resource-config-history`
    /// output; repeatable (the API returns at most seven days per call)
    #[arg(long = "config-history", value_name = "FILE")]
    pub config_history: Vec<PathBuf>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Report format: csv (changes, one row per event), jsonl (the same rows as JSON lines),
    /// summary (a table for people), markdown (a pull-request comment or job summary), sarif
    /// (code-scanning annotations on the policy statements)
    #[arg(long, value_enum, default_value_t = ReplayFormat::Csv)]
    pub format: ReplayFormat,
    /// With --format markdown: example events shown per kind of change
    #[arg(long = "max-rows", value_name = "N", default_value_t = 50)]
    pub max_rows: usize,
    /// Write the report here instead of stdout
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Write every SSM event, not only changes
    #[arg(long)]
    pub all: bool,
    /// Write the summary as JSON to this file
    #[arg(long = "summary")]
    pub summary: Option<PathBuf>,
    /// Changes reviewed and accepted (TOML: `[[accept]]` entries with principal, action,
    /// target, change, reason, expires): accepted rows say so and `--fail-on` ignores them
    #[arg(long = "accept", value_name = "FILE")]
    pub accept: Option<PathBuf>,
    /// Exit 1 when a change of this kind occurred; repeatable
    #[arg(long = "fail-on", value_enum)]
    pub fail_on: Vec<FailOn>,
    /// Exit 2 when fewer session events than this were evaluated (a gate that saw nothing
    /// proves nothing)
    #[arg(long = "min-events", value_name = "N")]
    pub min_events: Option<u64>,
    /// With --baseline: exit 1 when the baseline reproduces fewer recorded outcomes than this
    /// percentage
    #[arg(long = "min-fidelity", value_name = "PERCENT")]
    pub min_fidelity: Option<f64>,
    /// Accept input that holds no CloudTrail record at all (otherwise exit 2)
    #[arg(long = "allow-empty")]
    pub allow_empty: bool,
    /// Worker threads, 1 to 4 × the cores (at most 1024); default: all cores
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS as i64))]
    pub threads: Option<u16>,
    /// Parse every record fully and check that the fast pre-filter selected the same events
    #[arg(long)]
    pub verify: bool,
    /// Where temporary files go when the events outgrow memory (default: the system's
    /// temporary directory); they are removed on success, on failure and on Ctrl-C
    #[arg(long = "temp-dir", value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
    /// Memory for buffered events, in MiB, before they go to temporary files (peak memory is
    /// about this plus 80 MiB)
    #[arg(long = "memory", value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub memory: u32,
    /// Log files or directories (walked recursively), or subset directories written by
    /// `trailreplay extract`; `-` reads stdin
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// The window and filters, shared by `replay` and `extract`.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Only events at or after this time (ISO 8601)
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time (ISO 8601)
    #[arg(long)]
    pub until: Option<String>,
    /// Only events of this account; in the S3 layout, other accounts' folders are not read;
    /// repeatable
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// Only events of this region; in the S3 layout, other regions' folders are not read;
    /// repeatable
    #[arg(long = "region", value_name = "NAME")]
    pub regions: Vec<String>,
    /// With --until: how long after it CloudTrail may still deliver a file holding events
    /// before it (files delivered later are not read)
    #[arg(long = "delivery-margin", value_name = "HOURS", default_value_t = 6)]
    pub delivery_margin: u32,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Subset directory to write (created if missing; must be empty unless --force replaces a
    /// subset there)
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Parse every record fully (as `replay --verify`); replays of the subset may then use
    /// --verify
    #[arg(long)]
    pub verify: bool,
    /// Uncompressed size of a part file, in MiB, before the next one starts
    #[arg(long = "part-size", value_name = "MIB", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub part_size: u32,
    /// Replace the subset already in the output directory
    #[arg(long)]
    pub force: bool,
    /// Worker threads, 1 to 4 × the cores (at most 1024); default: all cores
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS as i64))]
    pub threads: Option<u16>,
    /// Log files or directories (walked recursively), read exactly as `replay` reads them
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output directory (the archive goes under OUTPUT/AWSLogs/...); must be empty unless --force
    #[arg(long = "output", short = 'o', alias = "out")]
    pub output: PathBuf,
    /// Total records
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
    /// Share of SSM session events, in percent (0 to 100)
    #[arg(long, default_value_t = 3.0)]
    pub ssm_percent: f64,
    /// Share of calls that change instance tags (CreateTags, DeleteTags, RunInstances; some
    /// failing), in percent of all records (0 to 100)
    #[arg(long, default_value_t = 0.0)]
    pub tag_percent: f64,
    /// Records per file
    #[arg(long, default_value_t = 2_000)]
    pub per_file: usize,
    /// AWS accounts the files are spread over
    #[arg(long, default_value_t = 2)]
    pub accounts: usize,
    /// Regions the files are spread over (1 to 4)
    #[arg(long, default_value_t = 2)]
    pub regions: usize,
    /// Days the events are spread over
    #[arg(long, default_value_t = 3)]
    pub days: usize,
    /// Random seed (the same seed writes the same archive)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write into a folder that is not empty
    #[arg(long)]
    pub force: bool,
}
