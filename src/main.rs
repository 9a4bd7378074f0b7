//! The `trailreplay` binary: parse arguments, run, exit.

fn main() {
    std::process::exit(trailreplay::main_with_args());
}

/// mimalloc instead of the system allocator: with glibc's per-thread arenas, memory freed by one
/// thread and reused by another fragmented into a peak that grew with the session events (175 MB
/// at 4M against 137 MB at 1M); measured in README, Performance.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
