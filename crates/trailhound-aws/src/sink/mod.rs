//! Sinks: where findings go. The Lambda driver publishes to SNS ([`sns`]); replay prints to
//! stdout (see [`trailhound_core::alert::render`]).

pub mod sns;

pub use sns::{BatchOutcome, SnsSink};
