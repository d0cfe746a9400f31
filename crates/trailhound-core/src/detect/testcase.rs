//! `[[test]]` cases: a detector file carries the activity that must make it fire and the
//! activity that must leave it quiet, and `trailhound detectors test` runs them (like
//! Panther's and StreamAlert's rule tests). This module reads and checks the cases when the
//! file loads; [`run`] runs one through the real decoder and engine.
//!
//! ```toml
//! [[test]]
//! name = "a burst after eight quiet days fires"
//! expect = "fires"                                # or "quiet"
//! expect_fields = { count = 2000, "evidence.observed" = 2000 }   # optional, "fires" only
//! learning = "7d"                                 # optional: the learning period
//! series = "rate = 20/h for 8d, then 8000/h for 15m"             # optional
//! template = { eventSource = "bedrock.amazonaws.com", eventName = "InvokeModel" }
//! events = [
//!   { at = "+8d3h", repeat = 5, every = "1m", sourceIPAddress = "95.165.131.44" },
//!   '{"at": "+8d4h", "eventName": "Converse"}',
//! ]
//! countries = { "95.165.131.44" = "RU" }           # optional: geo without a database
//! ```
//!
//! Records are CloudTrail events, or invocation-log records when they have a `schemaType`.
//! An event is a table (or a string of JSON) whose keys replace the template's top-level
//! keys (`template = false`: start from nothing); `at` (an offset from [`START`] such as
//! `+8d3h`, or an RFC 3339 time), `repeat` and `every` (default `1m`) say when, and `json`
//! may hold the record as a JSON string. A `series` repeats the template at rates for
//! durations, one after the other from [`START`]: `N/<duration> for <duration>` parts,
//! `then` optional, and `K x (…)` to repeat a group. The runner sets each record's time
//! (`eventTime`, `timestamp`). `expect_fields` compares with the first finding raised.

pub mod run;
mod series;

pub use series::{offset, parse_series};

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::geo::CountryCode;

/// Times in cases are offsets from this instant: 2026-10-01T00:00:00Z (a Thursday).
pub const START: i64 = 1_790_812_800;
/// Records one case may generate at most.
pub const MAX_EVENTS: u64 = 2_000_000;

/// What a case expects of the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// At least one finding.
    Fires,
    /// No finding.
    Quiet,
}

/// One `[[test]]` case, checked.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    pub expect: Expect,
    /// Dotted paths into the first finding (`count`, `evidence.observed`) and their values.
    pub expect_fields: Vec<(String, Value)>,
    /// Learning period override, in seconds.
    pub learning: Option<i64>,
    pub template: Map<String, Value>,
    pub events: Vec<Event>,
    pub series: Vec<Segment>,
    /// Countries to assume for source addresses.
    pub countries: Vec<(IpAddr, CountryCode)>,
}

/// Explicit events: `repeat` records `every` seconds apart from `at`.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: i64,
    pub repeat: u64,
    pub every: i64,
    pub record: Map<String, Value>,
}

/// `count` records of the template spread evenly over `[start, start + duration)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub start: i64,
    pub duration: i64,
    pub count: u64,
}

const KEYS: &[&str] = &[
    "name",
    "expect",
    "expect_fields",
    "learning",
    "template",
    "events",
    "series",
    "countries",
];
const CONTROL: &[&str] = &["at", "repeat", "every", "json", "template"];

type Error = (String, String);

/// Checks every `[[test]]` table of a file.
pub fn parse_all(tables: &[toml::Value]) -> Result<Vec<TestCase>, Error> {
    let mut cases: Vec<TestCase> = Vec::with_capacity(tables.len());
    for (i, t) in tables.iter().enumerate() {
        let case = TestCase::parse(&format!("test[{i}]"), t)?;
        if cases.iter().any(|c| c.name == case.name) {
            return Err((
                format!("test[{i}].name"),
                format!("`{}` names two cases", case.name),
            ));
        }
        cases.push(case);
    }
    Ok(cases)
}

impl TestCase {
    fn parse(at: &str, v: &toml::Value) -> Result<TestCase, Error> {
        let field = |f: &str| format!("{at}.{f}");
        let toml::Value::Table(t) = v else {
            return Err((at.into(), "a [[test]] case is a table".into()));
        };
        if let Some(k) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err((
                field(k),
                format!("unknown key (known: {})", KEYS.join(", ")),
            ));
        }
        let name = match t.get("name") {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err((field("name"), "every case needs a name".into())),
        };
        let expect = match t.get("expect").and_then(|e| e.as_str()) {
            Some("fires") => Expect::Fires,
            Some("quiet") => Expect::Quiet,
            _ => {
                return Err((field("expect"), "must be \"fires\" or \"quiet\"".into()));
            }
        };
        let mut expect_fields = Vec::new();
        match t.get("expect_fields") {
            None => {}
            Some(toml::Value::Table(f)) => flatten("", f, &mut expect_fields),
            Some(_) => return Err((field("expect_fields"), "must be a table".into())),
        }
        if expect == Expect::Quiet && !expect_fields.is_empty() {
            return Err((
                field("expect_fields"),
                "a quiet case has no finding to compare".into(),
            ));
        }
        let learning = match t.get("learning") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(offset)
                    .ok_or_else(|| (field("learning"), "must be a duration such as 7d".into()))?,
            ),
        };
        let template = match t.get("template") {
            None => Map::new(),
            Some(v) => record(v).map_err(|r| (field("template"), r))?,
        };
        let mut events = Vec::new();
        match t.get("events") {
            None => {}
            Some(toml::Value::Array(items)) => {
                for (j, item) in items.iter().enumerate() {
                    let e = event(item, &template).map_err(|(f, r)| {
                        let f = if f.is_empty() {
                            String::new()
                        } else {
                            format!(".{f}")
                        };
                        (field(&format!("events[{j}]{f}")), r)
                    })?;
                    events.push(e);
                }
            }
            Some(_) => return Err((field("events"), "must be an array of events".into())),
        }
        let series = match t.get("series") {
            None => Vec::new(),
            Some(toml::Value::String(s)) => parse_series(s).map_err(|r| (field("series"), r))?,
            Some(_) => return Err((field("series"), "must be a string".into())),
        };
        if !series.is_empty() && template.is_empty() {
            return Err((
                field("template"),
                "a series repeats the template: give one".into(),
            ));
        }
        if events.is_empty() && series.is_empty() {
            return Err((at.into(), "give `events` or a `series`".into()));
        }
        let mut countries = Vec::new();
        match t.get("countries") {
            None => {}
            Some(toml::Value::Table(c)) => {
                for (ip, code) in c {
                    let ip: IpAddr = ip.parse().map_err(|_| {
                        (field("countries"), format!("`{ip}` is not an IP address"))
                    })?;
                    let code = code
                        .as_str()
                        .map(str::as_bytes)
                        .filter(|c| c.len() == 2 && c.iter().all(u8::is_ascii_alphabetic))
                        .map(|c| [c[0].to_ascii_uppercase(), c[1].to_ascii_uppercase()])
                        .ok_or_else(|| {
                            (
                                field("countries"),
                                format!("{ip}: give a two-letter country code"),
                            )
                        })?;
                    countries.push((ip, code));
                }
            }
            Some(_) => {
                return Err((
                    field("countries"),
                    "must be a table of address = country".into(),
                ));
            }
        }
        let case = TestCase {
            name,
            expect,
            expect_fields,
            learning,
            template,
            events,
            series,
            countries,
        };
        let n = case.event_count();
        if n > MAX_EVENTS {
            return Err((
                at.into(),
                format!("generates {n} records; at most {MAX_EVENTS}"),
            ));
        }
        Ok(case)
    }

    /// Records the case generates.
    pub fn event_count(&self) -> u64 {
        let events = self
            .events
            .iter()
            .fold(0u64, |n, e| n.saturating_add(e.repeat));
        let series = self
            .series
            .iter()
            .fold(0u64, |n, s| n.saturating_add(s.count));
        events.saturating_add(series)
    }

    /// Every record with its time, in time order (stable: events keep their written order).
    pub fn records(&self) -> Vec<(i64, &Map<String, Value>)> {
        let mut out = Vec::with_capacity(self.event_count() as usize);
        for s in &self.series {
            for k in 0..s.count {
                let t =
                    s.start + (i128::from(k) * i128::from(s.duration) / i128::from(s.count)) as i64;
                out.push((t, &self.template));
            }
        }
        for e in &self.events {
            for k in 0..e.repeat as i64 {
                out.push((e.at + k * e.every, &e.record));
            }
        }
        out.sort_by_key(|(t, _)| *t);
        out
    }
}

/// `{ a = { b = 1 } }` → `("a.b", 1)`; a quoted `"a.b"` key works too.
fn flatten(prefix: &str, t: &toml::Table, out: &mut Vec<(String, Value)>) {
    for (k, v) in t {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => flatten(&path, inner, out),
            v => out.push((path, json(v))),
        }
    }
}

/// TOML → JSON (datetimes become strings).
pub(crate) fn json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.clone(), json(v))).collect())
        }
    }
}

/// A record given as a table or as a string of JSON: a JSON object.
fn record(v: &toml::Value) -> Result<Map<String, Value>, String> {
    let value = match v {
        toml::Value::String(s) => serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))?,
        v => json(v),
    };
    match value {
        Value::Object(m) => Ok(m),
        _ => Err("must be a record: a table, or a string holding a JSON object".into()),
    }
}

fn event(v: &toml::Value, template: &Map<String, Value>) -> Result<Event, Error> {
    let mut own = record(v).map_err(|r| (String::new(), r))?;
    let mut control = Map::new();
    for k in CONTROL {
        if let Some(v) = own.remove(*k) {
            control.insert((*k).to_string(), v);
        }
    }
    let mut rec = match control.get("template") {
        None | Some(Value::Bool(true)) => template.clone(),
        Some(Value::Bool(false)) => Map::new(),
        Some(_) => return Err(("template".into(), "must be true or false".into())),
    };
    if let Some(j) = control.get("json") {
        let body = j
            .as_str()
            .ok_or_else(|| ("json".to_string(), "must be a string of JSON".to_string()))?;
        let inner = record(&toml::Value::String(body.into())).map_err(|r| ("json".into(), r))?;
        rec.extend(inner);
    }
    rec.extend(own);
    let at = match control.get("at") {
        None => START,
        Some(Value::String(s)) => when(s).ok_or_else(|| {
            (
                "at".to_string(),
                format!("`{s}` is neither an offset such as +8d3h nor an RFC 3339 time"),
            )
        })?,
        Some(_) => return Err(("at".into(), "must be a string such as \"+8d3h\"".into())),
    };
    let repeat = match control.get("repeat") {
        None => 1,
        Some(v) => v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
            (
                "repeat".to_string(),
                "must be a whole number, at least 1".to_string(),
            )
        })?,
    };
    let every = match control.get("every") {
        None => 60,
        Some(v) => v
            .as_str()
            .and_then(offset)
            .filter(|d| *d <= series::YEAR)
            .ok_or_else(|| {
                (
                    "every".to_string(),
                    "must be a duration such as 1m or 30s (at most 366d)".to_string(),
                )
            })?,
    };
    Ok(Event {
        at,
        repeat,
        every,
        record: rec,
    })
}

/// `+8d3h` (from [`START`]) or an RFC 3339 time.
fn when(s: &str) -> Option<i64> {
    match s.trim().strip_prefix('+') {
        Some(rest) => offset(rest)
            .filter(|o| *o <= 10 * series::YEAR)
            .map(|o| START + o),
        None => crate::time::parse(s.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(text: &str) -> Result<TestCase, Error> {
        let v: toml::Table = toml::from_str(text).unwrap();
        TestCase::parse("test[0]", &toml::Value::Table(v))
    }

    #[test]
    fn offsets_and_series() {
        assert_eq!(offset("+8d3h"), Some(8 * 86_400 + 3 * 3600));
        assert_eq!(
            (offset("90s"), offset("0s"), offset("1h30m")),
            (Some(90), Some(0), Some(5400))
        );
        assert_eq!((offset("8x"), offset(""), offset("d")), (None, None, None));
        let s = parse_series("rate = 20/h for 8d, then 2000/15m for 15m").unwrap();
        assert_eq!(
            s,
            [
                Segment {
                    start: START,
                    duration: 8 * 86_400,
                    count: 3840
                },
                Segment {
                    start: START + 8 * 86_400,
                    duration: 900,
                    count: 2000
                },
            ]
        );
        let s = parse_series("2 x (4/h for 13h, 60/15m for 8h, 0/h for 3h), 1/d for 1d").unwrap();
        assert_eq!(
            s.iter().map(|x| x.count).collect::<Vec<_>>(),
            [52, 1920, 52, 1920, 1]
        );
        assert_eq!(s[2].start, START + 86_400);
        assert_eq!(s[4].start, START + 2 * 86_400);
        for bad in [
            "",
            "20 for 8d",
            "20/h 8d",
            "20/q for 1h",
            "x (1/h for 1h)",
            "1/h for 1h)",
        ] {
            assert!(parse_series(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cases_merge_events_over_the_template_and_name_bad_fields() {
        let c = case(
            r#"
            name = "n"
            expect = "fires"
            expect_fields = { count = 5, evidence = { value = "RU" }, "evidence.known" = ["DE"] }
            series = "1/h for 2h"
            template = { eventName = "GetCallerIdentity", sourceIPAddress = "87.150.34.112" }
            events = [
              { at = "+1d", repeat = 3, every = "2m", sourceIPAddress = "95.165.131.44" },
              '{"at": "2026-10-01T00:30:00Z", "eventName": "ListBuckets"}',
              { at = "+5m", json = '{"eventName": "GetObject"}', awsRegion = "eu-west-1" },
            ]
            countries = { "95.165.131.44" = "ru" }
            "#,
        )
        .unwrap();
        assert_eq!(c.event_count(), 2 + 3 + 1 + 1);
        let r = c.records();
        let times: Vec<i64> = r.iter().map(|(t, _)| t - START).collect();
        assert_eq!(times, [0, 300, 1800, 3600, 86_400, 86_520, 86_640]);
        assert_eq!(r[1].1["eventName"], "GetObject");
        assert_eq!(r[1].1["awsRegion"], "eu-west-1");
        assert_eq!(r[2].1["eventName"], "ListBuckets");
        assert_eq!(r[4].1["sourceIPAddress"], "95.165.131.44");
        assert_eq!(r[4].1["eventName"], "GetCallerIdentity");
        assert_eq!(c.countries, [("95.165.131.44".parse().unwrap(), *b"RU")]);
        let mut fields: Vec<&str> = c.expect_fields.iter().map(|(k, _)| k.as_str()).collect();
        fields.sort();
        assert_eq!(fields, ["count", "evidence.known", "evidence.value"]);
        for (text, field) in [
            (
                "name = \"n\"\nexpect = \"fire\"\nseries = \"1/h for 1h\"\ntemplate = {a = 1}",
                "test[0].expect",
            ),
            (
                "expect = \"quiet\"\nseries = \"1/h for 1h\"\ntemplate = {a = 1}",
                "test[0].name",
            ),
            (
                "name = \"n\"\nexpect = \"quiet\"\nevents = [{ at = \"8d\" }]",
                "test[0].events[0].at",
            ),
            (
                "name = \"n\"\nexpect = \"quiet\"\nevents = [{ every = 3 }]",
                "test[0].events[0].every",
            ),
            (
                "name = \"n\"\nexpect = \"quiet\"\nevents = ['{nope']",
                "test[0].events[0]",
            ),
            (
                "name = \"n\"\nexpect = \"quiet\"\nseries = \"1/h for 1h\"",
                "test[0].template",
            ),
            ("name = \"n\"\nexpect = \"quiet\"", "test[0]"),
            (
                "name = \"n\"\nexpect = \"quiet\"\nexpect_fields = {count = 1}\nevents = [{}]",
                "test[0].expect_fields",
            ),
            (
                "name = \"n\"\nexpect = \"quiet\"\nevents = [{}]\nlearn = \"1d\"",
                "test[0].learn",
            ),
            (
                "name = \"n\"\nexpect = \"quiet\"\nevents = [{}]\ncountries = {\"1.2.3.4\" = \"RUS\"}",
                "test[0].countries",
            ),
            (
                "name = \"n\"\nexpect = \"quiet\"\nseries = \"100000/s for 1d\"\ntemplate = {a = 1}",
                "test[0].series",
            ),
        ] {
            assert_eq!(case(text).unwrap_err().0, field, "{text}");
        }
    }
}
