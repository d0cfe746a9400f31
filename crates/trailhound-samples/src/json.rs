//! A small JSON value whose objects keep the key order they were built with, so
//! records come out in the field order AWS writes them, whatever features
//! `serde_json` is compiled with, plus the time formats the logs use.

use chrono::{DateTime, Timelike, Utc};

pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    /// A number written as given (e.g. `0.7`), so no float formatting is involved.
    Num(&'static str),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

/// An object with keys in the order written: `obj! { "a": 1, "b": "x" }`.
macro_rules! obj {
    ($($k:literal : $v:expr),* $(,)?) => {
        $crate::json::J::Obj(vec![$(($k, $crate::json::J::from($v))),*])
    };
}

/// An array: `arr![a, b]`.
macro_rules! arr {
    ($($v:expr),* $(,)?) => {
        $crate::json::J::Arr(vec![$($crate::json::J::from($v)),*])
    };
}

impl J {
    /// Appends a key to an object (no-op on other values).
    pub fn push(&mut self, k: &'static str, v: impl Into<J>) {
        if let J::Obj(fields) = self {
            fields.push((k, v.into()));
        }
    }

    /// Appends a key when the value is present.
    pub fn push_opt<T: Into<J>>(&mut self, k: &'static str, v: Option<T>) {
        if let Some(v) = v {
            self.push(k, v);
        }
    }

    pub fn empty_obj() -> J {
        J::Obj(Vec::new())
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            J::Null => out.extend_from_slice(b"null"),
            J::Bool(true) => out.extend_from_slice(b"true"),
            J::Bool(false) => out.extend_from_slice(b"false"),
            J::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
            J::Num(n) => out.extend_from_slice(n.as_bytes()),
            J::Str(s) => write_str(s, out),
            J::Arr(xs) => {
                out.push(b'[');
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    x.write(out);
                }
                out.push(b']');
            }
            J::Obj(fields) => {
                out.push(b'{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(k, out);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
        }
    }
}

/// A JSON string, escaped the way `serde_json` does it.
fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::Str(s.to_owned())
    }
}
impl From<String> for J {
    fn from(s: String) -> J {
        J::Str(s)
    }
}
impl From<&String> for J {
    fn from(s: &String) -> J {
        J::Str(s.clone())
    }
}
impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}
impl From<i64> for J {
    fn from(i: i64) -> J {
        J::Int(i)
    }
}
impl From<i32> for J {
    fn from(i: i32) -> J {
        J::Int(i64::from(i))
    }
}
impl From<u32> for J {
    fn from(i: u32) -> J {
        J::Int(i64::from(i))
    }
}
impl From<u64> for J {
    fn from(i: u64) -> J {
        J::Int(i as i64)
    }
}
impl From<usize> for J {
    fn from(i: usize) -> J {
        J::Int(i as i64)
    }
}
impl From<Vec<J>> for J {
    fn from(v: Vec<J>) -> J {
        J::Arr(v)
    }
}
impl<T: Into<J>> From<Option<T>> for J {
    fn from(v: Option<T>) -> J {
        v.map_or(J::Null, Into::into)
    }
}

fn dt(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

/// `2026-10-01T13:45:12Z`, as in `eventTime` and invocation-log `timestamp`.
pub fn iso(t: i64) -> String {
    dt(t).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `2026-10-01T13:45:12.345Z`-style, for fields that carry milliseconds.
pub fn iso_millis(t: i64, ms: i64) -> String {
    format!(
        "{}.{:03}+0000",
        dt(t).format("%Y-%m-%dT%H:%M:%S"),
        ms.rem_euclid(1000)
    )
}

/// `Oct 1, 2026, 3:05:12 PM`, the `expiration` format of STS responses.
pub fn sts_expiration(t: i64) -> String {
    dt(t).format("%b %-d, %Y, %-I:%M:%S %p").to_string()
}

/// Parts of a key: (`YYYY/MM/DD`, `YYYYMMDDTHHmmZ`, `YYYYMMDDTHHmmssZ`, `HH`).
pub fn key_parts(t: i64) -> (String, String, String, String) {
    let d = dt(t);
    (
        d.format("%Y/%m/%d").to_string(),
        d.format("%Y%m%dT%H%MZ").to_string(),
        d.format("%Y%m%dT%H%M%SZ").to_string(),
        format!("{:02}", d.hour()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_escapes() {
        let v = obj! { "b": 1, "a": "x\"y\n", "c": arr![J::Null, true] };
        let mut out = Vec::new();
        v.write(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"b":1,"a":"x\"y\n","c":[null,true]}"#
        );
    }

    #[test]
    fn time_formats() {
        assert_eq!(iso(1_790_812_800), "2026-10-01T00:00:00Z");
        assert_eq!(
            sts_expiration(1_790_812_800 + 15 * 3600 + 312),
            "Oct 1, 2026, 3:05:12 PM"
        );
    }
}
