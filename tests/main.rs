//! Integration tests: one binary, one module per area (ripgrep's layout).

mod athena;
mod candidates;
mod cli;
mod common;
mod corpus;
mod damaged;
mod gate;
mod layout;
mod property;
mod replay;
mod review;
mod s3;
mod scale;
mod seed;
mod spark;
mod subset;
mod tags;
