//! The EventBridge sink: `PutEvents` on a named bus, one event per finding (source
//! [`SOURCE`], detail-type [`DETAIL_TYPE`], detail = the finding JSON, resources = the
//! principal's ARN), so findings are routed with ordinary EventBridge rules, e.g.
//! `{"source": ["trailhound"], "detail": {"severity_label": ["High", "Critical"]}}`.
//!
//! At most [`MAX_ENTRIES`] entries and [`MAX_BYTES`] per call; an entry over
//! [`MAX_BYTES`] has its evidence shortened ([`super::fit`]). Entries EventBridge refuses
//! (its per-entry `ErrorCode`) are reported failed one by one; the others are accepted.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use trailhound_core::finding::Finding;

use super::BatchOutcome;
use super::fit::fit;

pub const SOURCE: &str = "trailhound";
pub const DETAIL_TYPE: &str = "Trailhound Finding";
pub const MAX_ENTRIES: usize = 10;
/// Bytes per entry and per call, as EventBridge counts them (source, detail-type, detail,
/// resources, plus 14 for the time).
pub const MAX_BYTES: usize = 256 * 1024;
const SLACK: usize = 256;

#[derive(Clone)]
pub struct EventBridgeSink {
    client: Client,
    bus: String,
}

/// One event for a finding, with its size.
pub struct Event {
    pub id: String,
    pub entry: PutEventsRequestEntry,
    pub bytes: usize,
}

/// The event for one finding on `bus`.
pub fn event(f: &Finding, bus: &str) -> Event {
    let resources: Vec<String> = [&f.principal, &f.principal_key]
        .into_iter()
        .filter(|a| a.starts_with("arn:") && a.len() <= 1600)
        .take(1)
        .cloned()
        .collect();
    let fixed =
        SOURCE.len() + DETAIL_TYPE.len() + 14 + resources.iter().map(String::len).sum::<usize>();
    let fitted = fit(f, MAX_BYTES - SLACK - fixed, |g| {
        serde_json::to_string(g).map_or(usize::MAX, |s| s.len())
    });
    let detail = serde_json::to_string(&*fitted).expect("a finding serializes");
    let bytes = fixed + detail.len();
    let entry = PutEventsRequestEntry::builder()
        .source(SOURCE)
        .detail_type(DETAIL_TYPE)
        .detail(detail)
        .event_bus_name(bus)
        .set_resources(Some(resources))
        .build();
    Event {
        id: f.id.clone(),
        entry,
        bytes,
    }
}

/// Splits events into calls of at most [`MAX_ENTRIES`] entries and [`MAX_BYTES`].
pub fn batches(events: Vec<Event>) -> Vec<Vec<Event>> {
    let mut out: Vec<Vec<Event>> = Vec::new();
    let mut size = 0;
    for e in events {
        if out
            .last()
            .is_none_or(|b| b.len() >= MAX_ENTRIES || size + e.bytes > MAX_BYTES)
        {
            out.push(Vec::new());
            size = 0;
        }
        size += e.bytes;
        out.last_mut().expect("just pushed").push(e);
    }
    out
}

impl EventBridgeSink {
    /// `bus`: a bus name or ARN.
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventBridgeSink {
            client,
            bus: bus.into(),
        }
    }

    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Publishes the findings. A call that fails whole marks its entries failed; the other
    /// calls still go out.
    pub async fn publish(&self, findings: &[&Finding]) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        let events = findings.iter().map(|f| event(f, &self.bus)).collect();
        for batch in batches(events) {
            let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
            let entries = batch.into_iter().map(|e| e.entry).collect();
            let sent = Box::pin(self.client.put_events().set_entries(Some(entries)).send()).await;
            match sent {
                Ok(out) => {
                    // Result entries are in request order.
                    for (i, id) in ids.into_iter().enumerate() {
                        match out.entries().get(i) {
                            Some(r) if r.error_code().is_none() && r.event_id().is_some() => {
                                outcome.accepted.push(id)
                            }
                            Some(r) => outcome.failed.push((
                                id,
                                format!(
                                    "{}: {}",
                                    r.error_code().unwrap_or("Failed"),
                                    r.error_message().unwrap_or("")
                                ),
                            )),
                            None => outcome
                                .failed
                                .push((id, "no result entry returned".to_string())),
                        }
                    }
                }
                Err(e) => {
                    let hint = match e.code() {
                        Some("ResourceNotFoundException") => {
                            "; the event bus does not exist: check TRAILHOUND_EVENT_BUS and the deploy stack"
                        }
                        Some("AccessDeniedException") => {
                            "; allow events:PutEvents on the bus in the function's role"
                        }
                        _ => "; the event will be retried",
                    };
                    let why = format!(
                        "EventBridge PutEvents to {} failed: {}{hint}",
                        self.bus,
                        DisplayErrorContext(&e)
                    );
                    outcome
                        .failed
                        .extend(ids.into_iter().map(|id| (id, why.clone())));
                }
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_the_finding_and_fit_the_limits() {
        let f = crate::sink::sns::tests::finding("0123456789abcdef0123456789abcdef", 10);
        let e = event(&f, "trailhound-findings");
        assert_eq!(e.entry.source(), Some(SOURCE));
        assert_eq!(e.entry.detail_type(), Some(DETAIL_TYPE));
        assert_eq!(e.entry.event_bus_name(), Some("trailhound-findings"));
        assert_eq!(e.entry.resources(), std::slice::from_ref(&f.principal));
        let back: Finding = serde_json::from_str(e.entry.detail().unwrap()).unwrap();
        assert_eq!(back, f);
        // Evidence of quotes (escaped to twice their size) past the limit is shortened.
        let mut big = f.clone();
        big.evidence
            .insert("q".into(), serde_json::json!("\"".repeat(200_000)));
        let e = event(&big, "b");
        assert!(e.bytes <= MAX_BYTES, "{}", e.bytes);
        let back: Finding = serde_json::from_str(e.entry.detail().unwrap()).unwrap();
        assert_eq!(back.evidence["truncated"], true);
        assert_eq!(back.id, f.id);
        let many: Vec<Event> = (0..23).map(|i| event(&f, &format!("b{i}"))).collect();
        assert_eq!(
            batches(many).iter().map(Vec::len).collect::<Vec<_>>(),
            [10, 10, 3]
        );
    }
}
