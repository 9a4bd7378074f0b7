//! The `trailreplay` binary: parse arguments, run, exit.

use clap::Parser;

fn main() {
    let cli = trailreplay::cli::Cli::parse();
    let code = trailreplay::app::run(cli);
    std::process::exit(code as i32);
}
