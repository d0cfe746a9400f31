//! The invocation's deadline, seen by every SDK call and every object of the invocation.
//!
//! The Lambda handler runs inside [`scope`]; [`current`] is then the instant by which work
//! must have stopped (the function's deadline less [`REPORT_MARGIN`], kept to report failed
//! messages and emit metrics). SDK calls run under [`bounded`], so retries inside the SDK
//! cannot overrun it; decoding reads it every 1,024 records and the pipeline before every
//! load and commit (through [`trailhound_core::record::Limits::deadline`]). Outside a
//! scope (replay, tests calling the handler without a deadline) there is none.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Time kept after the last SDK call to answer the runtime (partial batch response, logs,
/// metrics).
pub const REPORT_MARGIN: Duration = Duration::from_secs(3);

tokio::task_local! {
    static DEADLINE: Option<Instant>;
}

/// Runs `f` with `deadline` (the function's own; [`REPORT_MARGIN`] is taken off here).
pub async fn scope<F: Future>(deadline: Option<Instant>, f: F) -> F::Output {
    let stop = deadline.map(|d| {
        d.checked_sub(REPORT_MARGIN)
            .unwrap_or_else(Instant::now)
            .min(d)
    });
    DEADLINE.scope(stop, f).await
}

/// The instant work must stop by, when running under a deadline.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok().flatten()
}

/// The SDK call `what` did not finish before the deadline.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{what} was cut off by the invocation deadline; the event will be retried (raise the function's timeout if this repeats)"
)]
pub struct OutOfTime {
    pub what: String,
}

/// Runs `f` (an SDK call with its retries) but no longer than the deadline allows.
pub async fn bounded<T>(
    what: impl Into<String>,
    f: impl Future<Output = T>,
) -> Result<T, OutOfTime> {
    match current() {
        None => Ok(f.await),
        Some(stop) => {
            let left = stop.saturating_duration_since(Instant::now());
            tokio::time::timeout(left, f)
                .await
                .map_err(|_| OutOfTime { what: what.into() })
        }
    }
}

/// An `AsyncRead` that fails with `TimedOut` once `stop` has passed: a body that stalls
/// mid-object cannot hold the (blocking) decoder past the deadline.
pub struct Until<R> {
    inner: R,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<R> Until<R> {
    pub fn new(inner: R, stop: Option<Instant>) -> Self {
        Until {
            inner,
            sleep: stop.map(|s| Box::pin(tokio::time::sleep_until(s.into()))),
        }
    }
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Until<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(s) = self.sleep.as_mut()
            && s.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the invocation deadline passed while reading the object",
            )));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_are_cut_at_the_deadline_and_unbounded_outside_a_scope() {
        assert_eq!(current(), None);
        let slow = || tokio::time::sleep(Duration::from_secs(30));
        let t = Instant::now();
        let r = scope(
            Some(Instant::now() + REPORT_MARGIN + Duration::from_millis(200)),
            async {
                assert!(current().is_some());
                bounded("DynamoDB TransactWriteItems", slow()).await
            },
        )
        .await;
        let e = r.unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(
            e.to_string(),
            "DynamoDB TransactWriteItems was cut off by the invocation deadline; the event will be retried (raise the function's timeout if this repeats)"
        );
        // A deadline already passed stops at once (never "no deadline").
        let r = scope(Some(Instant::now()), bounded("x", slow())).await;
        assert!(r.is_err());
        assert_eq!(bounded("x", async { 7 }).await.unwrap(), 7);
    }
}
