//! Splits a streamed JSON document into its records without holding the whole document:
//! the elements of a top-level `"Records"` array, or the lines of JSON Lines.
//!
//! The scanner (`scan`) only tracks string/escape state and nesting depth; each element's
//! bytes are handed out as one slice and parsed by serde into borrowed structs. Elements
//! nested deeper than [`MAX_DEPTH`] are handed out as [`Piece::TooDeep`]: no parser ever
//! sees them.

use std::io::{self, Read};

use super::scan::Scan;

const CHUNK: usize = 256 * 1024;

/// What a split-out piece of input is.
pub enum Piece<'a> {
    /// A complete record's bytes.
    Record(&'a [u8]),
    /// A record larger than the cap; its bytes were dropped as they streamed by.
    Oversized(u64),
    /// A record nested deeper than [`MAX_DEPTH`] (its size in bytes); not to be parsed.
    TooDeep(u64),
}

/// Buffered reader that can hand out slices of the record being scanned.
pub struct Splitter<R> {
    src: R,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    pos: usize,
    /// End of the data read into `buf` (the bytes after it are stale).
    end: usize,
    eof: bool,
    max_record: usize,
    /// Bytes dropped from the buffer before `buf[0]` (for offsets in errors).
    dropped: u64,
}

/// A buffer larger than this is not kept for the next object (an oversized record can grow
/// one to `max_record`).
const KEEP: usize = 4 * CHUNK;

thread_local! {
    /// The buffer of the last splitter dropped on this thread, for the next object read on
    /// it. Its bytes are initialized already, so the next object's reads zero nothing: a
    /// fresh buffer zeroed a 256 KiB chunk per object, ten times the inflated size of a
    /// typical 5-minute CloudTrail object (1.8% of replaying the many-small-objects
    /// archive, perf). Bytes left from the earlier object lie past `end` and are never read.
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl<R> Drop for Splitter<R> {
    fn drop(&mut self) {
        if self.buf.capacity() <= KEEP {
            let buf = std::mem::take(&mut self.buf);
            // At thread exit the slot may be gone: the buffer is then simply freed.
            let _ = SPARE.try_with(|spare| spare.set(buf));
        }
    }
}

impl<R: Read> Splitter<R> {
    pub fn new(src: R, max_record: usize) -> Self {
        let mut buf = SPARE.try_with(|spare| spare.take()).unwrap_or_default();
        if buf.capacity() == 0 {
            buf.reserve_exact(CHUNK * 2);
        }
        Splitter {
            src,
            buf,
            pos: 0,
            end: 0,
            eof: false,
            max_record,
            dropped: 0,
        }
    }

    /// Byte offset of the next unconsumed byte from the start of the stream.
    pub fn offset(&self) -> u64 {
        self.dropped + self.pos as u64
    }

    /// Reads more input, first discarding the consumed prefix. Returns false at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.dropped += self.pos as u64;
            self.pos = 0;
        }
        // The buffer's bytes past `end` stay initialized from earlier reads: it is zeroed
        // only where it grows (zeroing each chunk before reading into it was a memset of
        // the whole inflated object).
        if self.buf.len() < self.end + CHUNK {
            self.buf.resize(self.end + CHUNK, 0);
        }
        let n = loop {
            match self.src.read(&mut self.buf[self.end..self.end + CHUNK]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.end += n;
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// The first non-whitespace byte ahead, without consuming it.
    pub fn peek_byte(&mut self) -> io::Result<Option<u8>> {
        loop {
            while self.pos < self.end {
                let c = self.buf[self.pos];
                if c.is_ascii_whitespace() || (c == 0xEF || c == 0xBB || c == 0xBF) {
                    self.pos += 1; // whitespace and a UTF-8 BOM
                } else {
                    return Ok(Some(c));
                }
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Up to `n` bytes ahead (after whitespace) for sniffing the content's shape.
    pub fn head(&mut self, n: usize) -> io::Result<&[u8]> {
        self.peek_byte()?;
        while self.end - self.pos < n && self.fill()? {}
        let end = (self.pos + n).min(self.end);
        Ok(&self.buf[self.pos..end])
    }

    pub fn expect(&mut self, b: u8) -> io::Result<bool> {
        if self.peek_byte()? == Some(b) {
            self.pos += 1;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Scans one JSON value (object, array, string or scalar) starting at the next
    /// non-whitespace byte, and returns its bytes.
    pub fn value(&mut self) -> io::Result<Option<Piece<'_>>> {
        if self.peek_byte()?.is_none() {
            return Ok(None);
        }
        let mut scan = Scan::default();
        let mut i = self.pos;
        let mut discarded = 0u64;
        loop {
            match scan.run(&self.buf[..self.end], i) {
                Ok(end) => {
                    i = end;
                    break;
                }
                Err(scanned_to) => i = scanned_to,
            }
            if i - self.pos > self.max_record {
                // Too big to keep: drop what was scanned, keep scanning for its end.
                discarded += (i - self.pos) as u64;
                self.pos = i;
            }
            let scanned = i - self.pos;
            if !self.fill()? {
                let s = self.pos;
                self.pos = self.end;
                if discarded > 0 {
                    return Ok(Some(Piece::Oversized(discarded + (self.end - s) as u64)));
                }
                if scan.too_deep {
                    return Ok(Some(Piece::TooDeep((self.end - s) as u64)));
                }
                // Truncated input: hand out what there is; the parser reports the error.
                return Ok(Some(Piece::Record(&self.buf[s..self.end])));
            }
            i = self.pos + scanned;
        }
        let s = self.pos;
        self.pos = i;
        let len = discarded + (i - s) as u64;
        if discarded > 0 || i - s > self.max_record {
            return Ok(Some(Piece::Oversized(len)));
        }
        if scan.too_deep {
            return Ok(Some(Piece::TooDeep(len)));
        }
        Ok(Some(Piece::Record(&self.buf[s..i])))
    }

    /// The next value of a top-level stream of concatenated values. Unlike [`Self::value`]
    /// (which hands out an empty piece at a `,`, `]` or `}` so that the caller, inside a
    /// container, can see where the container goes on), this always consumes input: a run of
    /// stray separators and closers between values comes out as one piece of its own, which
    /// the parser rejects as a bad record.
    pub fn stream_value(&mut self) -> io::Result<Option<Piece<'_>>> {
        match self.peek_byte()? {
            None => Ok(None),
            Some(b',' | b']' | b'}') => {
                let stray = |c: u8| matches!(c, b',' | b']' | b'}') || c.is_ascii_whitespace();
                let mut i = self.pos;
                let mut discarded = 0u64;
                loop {
                    while i < self.end && stray(self.buf[i]) {
                        i += 1;
                    }
                    if i < self.end {
                        break;
                    }
                    if i - self.pos > self.max_record {
                        discarded += (i - self.pos) as u64;
                        self.pos = i;
                    }
                    let scanned = i - self.pos;
                    // `fill` moves the unread bytes to the front even when it then reads
                    // nothing (end of input): re-base `i` before deciding.
                    let more = self.fill()?;
                    i = self.pos + scanned;
                    if !more {
                        break;
                    }
                }
                let s = self.pos;
                self.pos = i;
                if discarded > 0 {
                    return Ok(Some(Piece::Oversized(discarded + (i - s) as u64)));
                }
                Ok(Some(Piece::Record(&self.buf[s..i])))
            }
            Some(_) => self.value(),
        }
    }

    /// The next line (without its terminator); `None` at end of input.
    pub fn line(&mut self) -> io::Result<Option<Piece<'_>>> {
        if self.pos >= self.end && !self.fill()? {
            return Ok(None);
        }
        let mut searched = 0usize;
        let mut oversized: Option<u64> = None;
        loop {
            let hay = &self.buf[self.pos + searched..self.end];
            if let Some(nl) = memchr::memchr(b'\n', hay) {
                let end = self.pos + searched + nl;
                let s = self.pos;
                self.pos = end + 1;
                if let Some(n) = oversized {
                    return Ok(Some(Piece::Oversized(n + (end - s) as u64)));
                }
                if end - s > self.max_record {
                    return Ok(Some(Piece::Oversized((end - s) as u64)));
                }
                let mut e = end;
                if e > s && self.buf[e - 1] == b'\r' {
                    e -= 1;
                }
                return Ok(Some(Piece::Record(&self.buf[s..e])));
            }
            searched = self.end - self.pos;
            if searched > self.max_record {
                *oversized.get_or_insert(0) += searched as u64;
                self.pos = self.end;
                searched = 0;
            }
            if !self.fill()? {
                let s = self.pos;
                self.pos = self.end;
                if let Some(n) = oversized {
                    return Ok(Some(Piece::Oversized(n + (self.end - s) as u64)));
                }
                if s == self.end {
                    return Ok(None);
                }
                return Ok(Some(Piece::Record(&self.buf[s..self.end])));
            }
        }
    }

    /// Reads a JSON string token (for object keys) and returns it unescaped only if simple.
    pub fn key(&mut self) -> io::Result<Option<String>> {
        match self.value()? {
            Some(Piece::Record(b)) if b.first() == Some(&b'"') => {
                Ok(serde_json::from_slice::<String>(b).ok())
            }
            _ => Ok(None),
        }
    }
}

/// Records nested deeper than this are refused before a parser sees them (the splitter checks
/// the values it cuts out, [`outline`] the lines of JSON Lines). serde_json has the
/// same limit (128) for the values it builds, but not for the values it skips or keeps raw
/// (unknown fields, `RawValue`), and code that unwraps nested values must not recurse on them.
pub const MAX_DEPTH: usize = 128;

/// The record nests deeper than [`MAX_DEPTH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep;

/// One linear pass over a record's bytes that parses nothing: fails if the nesting goes deeper
/// than `max_depth`, and otherwise hands `key` the raw bytes (between the quotes, escapes
/// as written) of each key of the top-level object. Strings are jumped over with memchr, so
/// brackets and quotes inside them do not count.
pub fn outline(bytes: &[u8], max_depth: usize, mut key: impl FnMut(&[u8])) -> Result<(), TooDeep> {
    let top_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let mut depth = 0usize;
    let mut want_key = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = string_end(bytes, i + 1);
                if want_key && depth == 1 && top_object {
                    key(&bytes[i + 1..end]);
                }
                want_key = false;
                i = end + 1;
                continue;
            }
            c @ (b'{' | b'[') => {
                depth += 1;
                if depth > max_depth {
                    return Err(TooDeep);
                }
                want_key = depth == 1 && c == b'{';
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                want_key = false;
            }
            b',' => want_key = depth == 1,
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Whether the top-level object in `bytes` has the key `name` (escapes resolved). A record
/// nested deeper than [`MAX_DEPTH`] has none.
pub fn has_top_level_key(bytes: &[u8], name: &str) -> bool {
    let mut found = false;
    outline(bytes, MAX_DEPTH, |k| found |= key_is(k, name)).is_ok() && found
}

/// A raw key (as [`outline`] hands it out) equals `name`, escapes resolved.
pub fn key_is(raw: &[u8], name: &str) -> bool {
    if !raw.contains(&b'\\') {
        return raw == name.as_bytes();
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted).is_ok_and(|k| k == name)
}

/// The index of the quote that closes the string whose contents start at `i` (or the end).
fn string_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match memchr::memchr2(b'"', b'\\', &b[i..]) {
            None => break,
            Some(off) if b[i + off] == b'"' => return i + off,
            Some(off) => i += off + 2,
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(input: &str, max: usize) -> Vec<String> {
        let mut s = Splitter::new(input.as_bytes(), max);
        assert!(s.expect(b'[').unwrap());
        let mut out = Vec::new();
        loop {
            match s.value().unwrap() {
                Some(Piece::Record(b)) => out.push(String::from_utf8(b.to_vec()).unwrap()),
                Some(Piece::Oversized(n)) => out.push(format!("<{n}>")),
                Some(Piece::TooDeep(n)) => out.push(format!("<deep {n}>")),
                None => break,
            }
            if !s.expect(b',').unwrap() {
                break;
            }
        }
        out
    }

    #[test]
    fn splits_array_elements_with_tricky_strings() {
        let v = values(r#"[{"a":"}\"]"}, {"b":[1,{"c":2}]} ,3,"x,y"]"#, 1 << 20);
        assert_eq!(
            v,
            vec![r#"{"a":"}\"]"}"#, r#"{"b":[1,{"c":2}]}"#, "3", r#""x,y""#]
        );
    }

    /// Hands out one byte per read: every chunk boundary falls everywhere once.
    struct OneByte<'a>(&'a [u8]);

    impl std::io::Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.split_first() {
                Some((b, rest)) if !buf.is_empty() => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn boundaries_inside_escapes_and_strings() {
        let input = r#"[{"a":"q\"}\\","b":[1,2]},  "s\"x" , 12 ]"#;
        let mut s = Splitter::new(OneByte(input.as_bytes()), 1 << 20);
        assert!(s.expect(b'[').unwrap());
        let mut out = Vec::new();
        while let Some(Piece::Record(b)) = s.value().unwrap() {
            out.push(String::from_utf8(b.to_vec()).unwrap());
            if !s.expect(b',').unwrap() {
                break;
            }
        }
        assert_eq!(out, vec![r#"{"a":"q\"}\\","b":[1,2]}"#, r#""s\"x""#, "12"]);
    }

    #[test]
    fn oversized_elements_are_skipped_and_sized() {
        let big = format!(r#"[{{"a":"{}"}},{{"b":1}}]"#, "x".repeat(1000));
        let v = values(&big, 100);
        assert_eq!(v, vec!["<1008>".to_string(), r#"{"b":1}"#.to_string()]);
    }

    fn stream(input: &[u8], max: usize) -> Vec<String> {
        let mut s = Splitter::new(OneByte(input), max);
        let mut out = Vec::new();
        while let Some(p) = s.stream_value().unwrap() {
            out.push(match p {
                Piece::Record(b) => String::from_utf8_lossy(b).into_owned(),
                Piece::Oversized(n) => format!("<{n}>"),
                Piece::TooDeep(n) => format!("<deep {n}>"),
            });
            assert!(out.len() < 100, "no progress on {input:?}");
        }
        out
    }

    /// Found by the `classify_sniff` fuzz target: a run of stray separators that reaches
    /// the end of a buffer read in one piece, after a value, sliced past the buffer (the
    /// unread bytes had been moved to its front by the last, empty, read).
    #[test]
    fn stray_separators_at_the_end_of_a_buffered_stream() {
        for (input, want) in [
            ("{}\n,\n", vec!["{}", ",\n"]),
            ("{\"a\":1} ]", vec!["{\"a\":1}", "]"]),
            ("{}}", vec!["{}", "}"]),
            ("1 , 2 ,", vec!["1", ", ", "2", ","]),
        ] {
            let mut s = Splitter::new(input.as_bytes(), 1 << 20);
            let mut out = Vec::new();
            while let Some(p) = s.stream_value().unwrap() {
                match p {
                    Piece::Record(b) => out.push(String::from_utf8_lossy(b).into_owned()),
                    Piece::Oversized(n) | Piece::TooDeep(n) => panic!("{input:?}: {n}"),
                }
                assert!(out.len() < 10, "no progress on {input:?}");
            }
            assert_eq!(out, want, "{input:?}");
        }
    }

    #[test]
    fn a_stream_always_makes_progress() {
        // `value` stops before a stray `,` (a container's caller needs that); a top-level
        // stream hands the run of stray bytes out as a piece of its own.
        assert_eq!(stream(b"{\n}\n,", 1 << 20), vec!["{\n}", ",",]);
        assert_eq!(
            stream(b"{\"a\":1} ,]} \n}{\"b\":2},", 1 << 20),
            vec![r#"{"a":1}"#, ",]} \n}", r#"{"b":2}"#, ","]
        );
        assert_eq!(stream(b",,,,,,,,,,,,{}", 4), vec!["<12>", "{}"]);
        assert_eq!(stream(b"", 4), Vec::<String>::new());
    }

    #[test]
    fn values_nested_too_deep_are_cut_out_but_not_handed_out() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let input = format!("[{},{},1]", deep(MAX_DEPTH), deep(MAX_DEPTH + 1));
        let v = values(&input, 1 << 20);
        assert_eq!(v, vec![deep(MAX_DEPTH), "<deep 258>".into(), "1".into()]);
        // Deep and truncated: still not handed out.
        let input = format!("[{}", "[".repeat(1_000_000));
        assert_eq!(values(&input, 8 << 20), vec!["<deep 1000000>".to_string()]);
        assert!(has_top_level_key(
            br#"{"a":{"b":1},"schema\u0054ype":1}"#,
            "schemaType"
        ));
        assert!(!has_top_level_key(
            br#"{"a":{"schemaType":1}}"#,
            "schemaType"
        ));
        assert!(!has_top_level_key(br#"{"a":"schemaType"}"#, "schemaType"));
    }

    #[test]
    fn outline_reads_top_level_keys_and_bounds_depth() {
        let keys = |b: &[u8]| {
            let mut v = Vec::new();
            let r = outline(b, 4, |k| v.push(String::from_utf8_lossy(k).into_owned()));
            r.map(|()| v)
        };
        assert_eq!(
            keys(br#"{"a":"x","b":{"c":1,"d":[{"e":2}]},"f\"g":"{\"h\":[","i":[1,"j"]}"#),
            Ok(vec!["a".into(), "b".into(), r#"f\"g"#.into(), "i".into()])
        );
        assert_eq!(keys(br#"[{"a":1},{"b":2}]"#), Ok(vec![]));
        assert_eq!(keys(br#"{"a":[[[1]]]}"#), Ok(vec!["a".into()]));
        assert_eq!(keys(br#"{"a":[[[[1]]]]}"#), Err(TooDeep));
        assert_eq!(keys(br#"{"a":[["[[[[[["]]}"#), Ok(vec!["a".into()]));
        assert_eq!(keys(br#"{"a":"unterminated"#), Ok(vec!["a".into()]));
        let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(outline(deep.as_bytes(), MAX_DEPTH, |_| {}), Err(TooDeep));
    }

    /// The second splitter on a thread reuses the first one's buffer: what it hands out is
    /// its own input only, also where the input ends early.
    #[test]
    fn a_reused_buffer_shows_nothing_of_the_last_object() {
        let long = format!(r#"[{{"a":"{}"}}]"#, "z".repeat(CHUNK + 100));
        assert_eq!(values(&long, 1 << 30).len(), 1);
        let kept = SPARE.with(|spare| {
            let buf = spare.take();
            let len = buf.len();
            spare.set(buf);
            len
        });
        assert!(kept > CHUNK + 100, "the buffer was not kept ({kept} bytes)");
        assert_eq!(
            values(r#"[{"b":1},{"c":"#, 1 << 20),
            vec![r#"{"b":1}"#, r#"{"c":"#]
        );
        let mut s = Splitter::new(&b"x"[..], 10);
        assert_eq!(s.head(4096).unwrap(), b"x");
    }

    #[test]
    fn lines_with_crlf_and_no_final_newline() {
        let mut s = Splitter::new("a\r\nbb\n\nccc".as_bytes(), 10);
        let mut out = Vec::new();
        while let Some(p) = s.line().unwrap() {
            if let Piece::Record(b) = p {
                out.push(String::from_utf8(b.to_vec()).unwrap());
            }
        }
        assert_eq!(out, vec!["a", "bb", "", "ccc"]);
    }
}
