//! Durations (`8d3h`) and series (`rate = 20/h for 8d, then 600/h for 1h`) in test cases.

use super::{MAX_EVENTS, START, Segment};

/// The longest duration a part, a gap or an offset may have.
pub(crate) const YEAR: i64 = 366 * 86_400;

/// A duration of one or more `<number><unit>` parts (`d`, `h`, `m`, `s`): `8d3h`, `90s`, `0s`.
pub fn offset(s: &str) -> Option<i64> {
    let s = s.trim().trim_start_matches('+');
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest.find(|c: char| !c.is_ascii_digit())?;
        let (num, tail) = rest.split_at(split);
        let n: i64 = num.parse().ok()?;
        let unit = tail.chars().next()?;
        let mult = match unit {
            'd' => 86_400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
        rest = &tail[1..];
    }
    Some(total)
}

/// Parses `rate = 20/h for 8d, then 600/h for 1h` and `3 x (16/h for 13h, 240/h for 8h)`.
pub fn parse_series(s: &str) -> Result<Vec<Segment>, String> {
    let tokens = tokenize(s);
    let mut p = SeriesParser {
        tokens: &tokens,
        i: 0,
        t: START,
        out: Vec::new(),
    };
    p.list()?;
    if let Some(t) = tokens.get(p.i) {
        return Err(format!("unexpected `{t}`"));
    }
    if p.out.is_empty() {
        return Err("an empty series".into());
    }
    Ok(p.out)
}

fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        if c.is_whitespace() || "(),=".contains(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

struct SeriesParser<'a> {
    tokens: &'a [String],
    i: usize,
    t: i64,
    out: Vec<Segment>,
}

impl SeriesParser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.i).map(String::as_str)
    }

    fn next(&mut self) -> Result<&str, String> {
        let t = self.tokens.get(self.i).ok_or("the series ends too early")?;
        self.i += 1;
        Ok(t)
    }

    fn expect(&mut self, want: &str) -> Result<(), String> {
        match self.next()? {
            t if t == want => Ok(()),
            t => Err(format!("expected `{want}`, found `{t}`")),
        }
    }

    /// item ("," item)*
    fn list(&mut self) -> Result<(), String> {
        self.item()?;
        while self.peek() == Some(",") {
            self.i += 1;
            self.item()?;
        }
        Ok(())
    }

    /// ["then"] (["rate" "="] N/<dur> "for" <dur> | K "x" "(" list ")")
    fn item(&mut self) -> Result<(), String> {
        if self.peek() == Some("then") {
            self.i += 1;
        }
        if self.peek() == Some("rate") {
            self.i += 1;
            self.expect("=")?;
        }
        let first = self.next()?.to_string();
        if self.peek() == Some("x") {
            let times: u32 = first
                .parse()
                .ok()
                .filter(|n| *n <= 10_000)
                .ok_or_else(|| format!("`{first}` is not a repeat count (at most 10000)"))?;
            self.i += 1;
            self.expect("(")?;
            let from = self.out.len();
            let t0 = self.t;
            self.list()?;
            self.expect(")")?;
            let group: Vec<Segment> = self.out[from..].to_vec();
            let span = self.t - t0;
            for k in 1..i64::from(times.max(1)) {
                for s in &group {
                    self.out.push(Segment {
                        start: s.start + k * span,
                        ..*s
                    });
                }
            }
            if times == 0 {
                self.out.truncate(from);
                self.t = t0;
            } else {
                self.t = t0 + span * i64::from(times);
            }
            return Ok(());
        }
        let (n, per) = first
            .split_once('/')
            .ok_or_else(|| format!("`{first}`: expected a rate such as 20/h or 2000/15m"))?;
        let n: f64 = n
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| format!("`{first}`: the count is not a number"))?;
        let per = if per.starts_with(|c: char| c.is_ascii_digit()) {
            offset(per)
        } else {
            offset(&format!("1{per}"))
        }
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("`{first}`: per what? (s, m, h, d, or a duration such as 15m)"))?;
        self.expect("for")?;
        let d = self.next()?.to_string();
        let duration = offset(&d)
            .filter(|d| *d > 0 && *d <= YEAR)
            .ok_or_else(|| format!("`{d}` is not a duration such as 8d or 1h"))?;
        let count = (n * duration as f64 / per as f64).round();
        if count > MAX_EVENTS as f64 {
            return Err(format!(
                "`{first} for {d}` is more than {MAX_EVENTS} records"
            ));
        }
        if count >= 1.0 {
            self.out.push(Segment {
                start: self.t,
                duration,
                count: count as u64,
            });
        }
        self.t += duration;
        Ok(())
    }
}
