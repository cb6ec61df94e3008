//! The harness: runs implementations of the Triggers API against the contract
//! in `docs/SPEC.md` and compares them.
//!
//! # Layout
//!
//! A run flows through these modules, in order:
//!
//! - [`cli`] parses the command line and [`settings`] checks it: absolute
//!   paths from the workspace root, validated values.
//! - [`command`] dispatches the subcommand and turns its outcome into the exit
//!   code (0 every MUST passed, 1 a MUST failed or a target failed to start or
//!   crashed, 2 a usage or setup error).
//! - [`run`] is the pipeline: it reads the targets ([`target`]), the scenario
//!   suite ([`scenario`]) and the spec's rules, starts the webhook sink
//!   ([`sink`]), and for each target starts it, waits until it is healthy,
//!   runs the scenarios through the engine ([`scenario::runner`], mapping a
//!   target's differences through its [`dialect`]), and stops it.
//! - [`progress`] draws a bar per target and keeps log lines from tearing it.
//! - [`results`] holds the versioned results file every report renders from;
//!   [`report`] renders it (the terminal table today).
//!
//! Every scenario, rule and target is judged on one scale, [`verdict::Verdict`].

pub mod cli;
pub mod command;
pub mod dialect;
pub mod load;
pub mod progress;
pub mod report;
pub mod results;
pub mod run;
pub mod scenario;
pub mod settings;
pub mod sink;
pub mod target;
pub mod verdict;
