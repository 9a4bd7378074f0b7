//! Command-line arguments (clap derive types only). Turning them into a validated
//! configuration happens in [`crate::config`].

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
    Replay(ReplayArgs),
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
    /// A resource ARN (repeat for several; `*` for actions without resources)
    #[arg(long = "resource", required = true)]
    pub resources: Vec<String>,
    /// Identity-based policy documents
    #[arg(long = "policy")]
    pub policies: Vec<PathBuf>,
    /// Service control policies, one file per level, root first
    #[arg(long = "scp")]
    pub scps: Vec<PathBuf>,
    /// Permissions boundary
    #[arg(long)]
    pub boundary: Option<PathBuf>,
    /// Session policies
    #[arg(long = "session-policy")]
    pub session_policies: Vec<PathBuf>,
    /// Context key and value, KEY=VALUE; repeat a key for a multivalued key
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// A context key whose value is unknown
    #[arg(long = "unknown", value_name = "KEY")]
    pub unknown: Vec<String>,
    #[arg(long, value_enum, default_value_t = SimulateFormat::Text)]
    pub format: SimulateFormat,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Policy files: documents, get-policy-version output, or authorization-details exports
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    Csv,
    Jsonl,
    Summary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    NewlyDenied,
    NewlyAllowed,
    Uncertain,
    Any,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Candidate policy set: policy documents and/or get-account-authorization-details exports
    #[arg(long = "candidate", required = true, value_name = "POLICYSET")]
    pub candidate: Vec<PathBuf>,
    /// Baseline policy set (default: the outcome recorded in the log)
    #[arg(long = "baseline", value_name = "POLICYSET")]
    pub baseline: Vec<PathBuf>,
    /// Service control policies, one file per level, root first (both sides)
    #[arg(long = "scp")]
    pub scps: Vec<PathBuf>,
    /// Resource tags: describe-instances output, get-resources output, or CSV resource,key,value
    #[arg(long = "inventory")]
    pub inventory: Vec<PathBuf>,
    /// Only events at or after this time (ISO 8601)
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time (ISO 8601)
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, value_enum, default_value_t = ReplayFormat::Csv)]
    pub format: ReplayFormat,
    /// Write the report here instead of stdout
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Write every SSM event, not only changes
    #[arg(long)]
    pub all: bool,
    /// Write the summary as JSON to this file
    #[arg(long = "summary")]
    pub summary: Option<PathBuf>,
    /// Exit 1 when a change of this kind occurred
    #[arg(long = "fail-on", value_enum)]
    pub fail_on: Vec<FailOn>,
    /// Worker threads (default: all cores)
    #[arg(long)]
    pub threads: Option<usize>,
    /// Parse every record fully and check that the fast pre-filter selected the same events
    #[arg(long)]
    pub verify: bool,
    /// Log files or directories (walked recursively); `-` reads stdin
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output directory (the archive goes under OUT/AWSLogs/...)
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Total records
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
    /// Share of SSM session events, in percent
    #[arg(long, default_value_t = 3.0)]
    pub ssm_percent: f64,
    /// Records per file
    #[arg(long, default_value_t = 2_000)]
    pub per_file: usize,
    #[arg(long, default_value_t = 2)]
    pub accounts: usize,
    #[arg(long, default_value_t = 2)]
    pub regions: usize,
    #[arg(long, default_value_t = 3)]
    pub days: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
