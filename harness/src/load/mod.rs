//! The load phase: profiles read from `scenarios/load/`, driven against a
//! target after its conformance scenarios, with the figures recorded in the results.

pub mod outcome;
