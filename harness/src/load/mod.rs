//! The load phase: profiles read from `scenarios/load/`, driven against a
//! target after its conformance scenarios, with the figures recorded in the results.
//!
//! [`phase`] runs a profile against a target: [`organizations`] creates the
//! tenants, [`closed`] (goose users) or [`open`] (an arrival-rate scheduler)
//! drives the [`workload`], the [`recorder`] keeps the figures of the hold,
//! [`resources`] samples the target, [`persistence`] reads the accepted
//! events back, and [`threshold`] judges each level.

pub mod closed;
pub mod open;
pub mod organizations;
pub mod outcome;
pub mod persistence;
pub mod phase;
pub mod profile;
pub mod recorder;
pub mod resources;
pub mod stage;
pub mod threshold;
pub mod workload;
