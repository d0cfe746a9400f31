//! A distribution of window totals kept as an HDR histogram, serialized compactly (V2 +
//! base64) so it fits in a DynamoDB item.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct Baseline(Histogram<u64>);

impl Default for Baseline {
    fn default() -> Self {
        // Two significant figures: percentiles within 1%, a few hundred bytes serialized.
        Baseline(Histogram::new(2).expect("valid sigfig"))
    }
}

impl Baseline {
    pub fn record(&mut self, v: u64) {
        // Auto-resizing histogram: recording cannot fail for u64 values.
        let _ = self.0.record(v.max(1));
    }

    /// Number of windows recorded.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn percentile(&self, p: f64) -> u64 {
        if self.0.is_empty() {
            0
        } else {
            self.0.value_at_percentile(p)
        }
    }

    pub fn max(&self) -> u64 {
        if self.0.is_empty() { 0 } else { self.0.max() }
    }

    fn encode(&self) -> String {
        let mut buf = Vec::new();
        V2Serializer::new()
            .serialize(&self.0, &mut buf)
            .expect("serializing to a Vec cannot fail");
        STANDARD.encode(buf)
    }

    fn decode(s: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(s)
            .map_err(|e| format!("baseline is not base64: {e}"))?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("baseline histogram: {e:?}"))?;
        // A deserialized histogram has a fixed range: without this, a value above the largest
        // seen before the round trip (state stored in DynamoDB between objects) is dropped.
        h.auto(true);
        Ok(Baseline(h))
    }
}

impl Serialize for Baseline {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Baseline {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Baseline::decode(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_stays_small() {
        let mut b = Baseline::default();
        for i in 0..2000u64 {
            b.record(1 + (i * 37) % 400);
        }
        let json = serde_json::to_string(&b).unwrap();
        let back: Baseline = serde_json::from_str(&json).unwrap();
        assert_eq!(back.percentile(99.0), b.percentile(99.0));
        assert_eq!(back.len(), 2000);
        // After a round trip it still records values far above anything seen before.
        let empty: Baseline =
            serde_json::from_str(&serde_json::to_string(&Baseline::default()).unwrap()).unwrap();
        for mut b in [empty, back] {
            b.record(10_000_000);
            assert_eq!(b.max(), b.0.highest_equivalent(10_000_000));
        }
        assert!(
            json.len() < 2000,
            "serialized baseline is {} bytes",
            json.len()
        );
    }
}
