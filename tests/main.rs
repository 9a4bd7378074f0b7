//! Integration tests: one binary, one module per area (ripgrep's layout).

mod cli;
mod replay;
mod common;
mod corpus;
mod seed;
