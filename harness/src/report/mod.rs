//! Reports rendered from a run's results, one file per format.

pub mod terminal;
