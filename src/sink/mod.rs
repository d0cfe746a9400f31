//! Sinks: where findings go. The Lambda driver publishes to SNS ([`sns`]); replay prints to
//! stdout (see [`crate::alert::render`]).

pub mod sns;

pub use sns::{BatchOutcome, SnsSink};
