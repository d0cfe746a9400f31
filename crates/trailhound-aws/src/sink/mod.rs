//! Sinks: where findings go. The Lambda driver publishes to SNS ([`sns`], always), and when
//! configured to Security Hub ([`securityhub`]) and an EventBridge bus ([`eventbridge`]);
//! [`Sinks`] holds them. Replay prints to stdout (see [`trailhound_core::alert::render`]).
//!
//! Every sink reports per finding what it accepted and what it refused ([`BatchOutcome`]);
//! the Lambda's outbox records acceptance per sink, so a retry resends a finding only to the
//! sinks still missing it, and one refused finding never holds back the others.

pub mod chatbot;
pub mod eventbridge;
pub mod fit;
pub mod securityhub;
pub mod sns;

pub use eventbridge::EventBridgeSink;
pub use securityhub::SecurityHubSink;
pub use sns::{BatchOutcome, SnsFormat, SnsSink};

/// A sink besides SNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SinkKind {
    Sns,
    SecurityHub,
    EventBridge,
}

impl SinkKind {
    /// The name people read in errors.
    pub fn display(self) -> &'static str {
        match self {
            SinkKind::Sns => "SNS",
            SinkKind::SecurityHub => "Security Hub",
            SinkKind::EventBridge => "EventBridge",
        }
    }

    /// The name in the outbox, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            SinkKind::Sns => "sns",
            SinkKind::SecurityHub => "securityhub",
            SinkKind::EventBridge => "eventbridge",
        }
    }
}

/// The deployed function's sinks.
#[derive(Clone)]
pub struct Sinks {
    pub sns: SnsSink,
    pub format: SnsFormat,
    pub securityhub: Option<SecurityHubSink>,
    pub eventbridge: Option<EventBridgeSink>,
}

impl Sinks {
    /// SNS only, default format.
    pub fn sns(sns: SnsSink) -> Self {
        Sinks {
            sns,
            format: SnsFormat::Default,
            securityhub: None,
            eventbridge: None,
        }
    }

    /// The configured sinks besides SNS, in publish order.
    pub fn others(&self) -> Vec<SinkKind> {
        let mut out = Vec::new();
        if self.securityhub.is_some() {
            out.push(SinkKind::SecurityHub);
        }
        if self.eventbridge.is_some() {
            out.push(SinkKind::EventBridge);
        }
        out
    }
}
