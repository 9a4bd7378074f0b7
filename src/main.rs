//! The `trailreplay` binary: parse arguments, run, exit.

fn main() {
    std::process::exit(trailreplay::main_with_args());
}
