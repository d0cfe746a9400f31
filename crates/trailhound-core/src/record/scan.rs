//! The splitter's scanner: where one JSON value ends, tracking only string/escape state and
//! nesting depth.
//!
//! Inside a record (nesting depth above zero) the bytes are taken 64 at a time: one pass
//! over the block builds bit masks of its quotes, backslashes, openers and closers (a loop
//! the compiler turns into vector compares on x86-64 and on arm64), a prefix XOR of the
//! quote mask marks the bytes inside strings, and only the brackets outside strings are
//! visited, one set bit at a time. A block with a backslash is scanned byte by byte (the
//! escapes decide which quotes count); so is the top level (depth zero), where a scalar or
//! a separator ends the value.
//!
//! A profile of the realistic CloudTrail file (perf, `replay --jobs 1`) had the byte-wise
//! scanner at 10% of the replay: a record's strings are short (keys, ids, names), so the
//! word-at-a-time jump inside each string is restarted every few bytes.

use super::split::MAX_DEPTH;

const BLOCK: usize = 64;

#[derive(Default)]
pub(super) struct Scan {
    depth: usize,
    /// The value nests deeper than [`MAX_DEPTH`] somewhere.
    pub(super) too_deep: bool,
    in_str: bool,
    esc: bool,
}

/// What a block did.
enum Block {
    /// The value ended after this many bytes of the block.
    Done(usize),
    /// The value goes on past the block.
    Next,
    /// The block holds a backslash: scan it byte by byte.
    Escapes,
}

impl Scan {
    /// Scans `buf[i..]`: `Ok(end)` when the value ends (exclusive), `Err(buf.len())` when it
    /// needs more input.
    #[inline]
    pub(super) fn run(&mut self, buf: &[u8], mut i: usize) -> Result<usize, usize> {
        loop {
            if self.depth > 0 && !self.esc {
                while let Some(block) = buf.get(i..i + BLOCK) {
                    match self.block(block.try_into().expect("a block")) {
                        Block::Done(n) => return Ok(i + n),
                        Block::Next => i += BLOCK,
                        Block::Escapes => break,
                    }
                }
            }
            // Byte by byte to the end of the next block (a jump inside a string may go
            // further), then back to blocks.
            match self.bytes(buf, i, (i + BLOCK).min(buf.len())) {
                Ok(end) => return Ok(end),
                Err(next) => i = next,
            }
            if i >= buf.len() {
                return Err(buf.len());
            }
        }
    }

    fn block(&mut self, block: &[u8; BLOCK]) -> Block {
        if block.iter().fold(false, |any, &b| any | (b == b'\\')) {
            return Block::Escapes;
        }
        // `[` is 0x5B and `{` 0x7B, `]` 0x5D and `}` 0x7D: one compare each with bit 5 set.
        let quotes = mask(block, |b| b == b'"');
        let brackets = mask(block, |b| b | 0x20 == b'{' || b | 0x20 == b'}');
        // Bit k of the prefix XOR is the parity of the quotes up to k: set from an opening
        // quote up to (not including) its closing one.
        let mut inside = quotes;
        for shift in [1, 2, 4, 8, 16, 32] {
            inside ^= inside << shift;
        }
        if self.in_str {
            inside = !inside;
        }
        let mut brackets = brackets & !inside;
        while brackets != 0 {
            let k = brackets.trailing_zeros();
            if block[k as usize] | 0x20 == b'{' {
                self.depth += 1;
                self.too_deep |= self.depth > MAX_DEPTH;
            } else {
                self.depth -= 1;
                if self.depth == 0 {
                    return Block::Done(k as usize + 1);
                }
            }
            brackets &= brackets - 1;
        }
        self.in_str = inside >> 63 != 0;
        Block::Next
    }

    /// The byte-wise scanner, from `i` until `stop`: `Ok(end)` when the value ends,
    /// `Err(next)` with the position to go on from. Inside strings it jumps to the next
    /// quote or backslash.
    #[inline]
    fn bytes(&mut self, buf: &[u8], mut i: usize, stop: usize) -> Result<usize, usize> {
        while i < stop {
            if self.esc {
                self.esc = false;
                i += 1;
                continue;
            }
            if self.in_str {
                match super::bytes::quote_or_backslash(&buf[i..]) {
                    None => return Err(buf.len()),
                    Some(off) => {
                        let j = i + off;
                        i = j + 1;
                        if buf[j] == b'\\' {
                            self.esc = true;
                        } else {
                            self.in_str = false;
                            if self.depth == 0 {
                                return Ok(i);
                            }
                        }
                        continue;
                    }
                }
            }
            match buf[i] {
                b'"' => self.in_str = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    self.too_deep |= self.depth > MAX_DEPTH;
                }
                b'}' | b']' => {
                    if self.depth == 0 {
                        return Ok(i); // a scalar ended at its container's close
                    }
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Ok(i + 1);
                    }
                }
                b',' if self.depth == 0 => return Ok(i),
                c if self.depth == 0 && c.is_ascii_whitespace() => return Ok(i),
                _ => {}
            }
            i += 1;
        }
        Err(i)
    }
}

/// Bit k set where `is(block[k])`. The compares fill a byte array (vector compares), and each
/// 8 bytes of 0 or 1 are packed into 8 bits by one multiply: byte j's bit lands at 56 + j,
/// and no two products share a position, so nothing carries into the top byte.
#[inline]
fn mask(block: &[u8; BLOCK], is: impl Fn(u8) -> bool) -> u64 {
    let flags: [u8; BLOCK] = std::array::from_fn(|k| u8::from(is(block[k])));
    let mut m = 0u64;
    for (w, word) in flags.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        m |= (word.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (w * 8);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` to `step` in chunks of `chunk` bytes, as the splitter does: where the
    /// value ends (if it does) and whether it nests too deep. A step that needs more input
    /// must have scanned all it was given.
    fn feed(
        input: &[u8],
        chunk: usize,
        step: impl Fn(&mut Scan, &[u8], usize) -> Result<usize, usize>,
    ) -> (Option<usize>, bool) {
        let mut s = Scan::default();
        let mut i = 0;
        let mut end = 0;
        while end < input.len() {
            end = (end + chunk).min(input.len());
            match step(&mut s, &input[..end], i) {
                Ok(e) => return (Some(e), s.too_deep),
                Err(n) => {
                    assert_eq!(n, end);
                    i = n;
                }
            }
        }
        (None, s.too_deep)
    }

    /// The byte-wise scanner alone: the reference the block scanner must agree with.
    fn reference(input: &[u8], chunk: usize) -> (Option<usize>, bool) {
        feed(input, chunk, |s, buf, i| s.bytes(buf, i, buf.len()))
    }

    fn scanned(input: &[u8], chunk: usize) -> (Option<usize>, bool) {
        feed(input, chunk, Scan::run)
    }

    /// Random JSON-ish values from the bytes that matter (quotes, escapes, both kinds of
    /// brackets, separators, whitespace, high bytes and their look-alikes: 0xDB and 0xFB
    /// are `[` and `{` with the top bit set), in runs long enough to cross blocks.
    #[test]
    fn blocks_agree_with_the_byte_wise_scanner() {
        let alphabet = b"\"\\{}[],: \na0\xdb\xfb\x1b";
        let mut rng = crate::test_rng::XorShift(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next();
        for round in 0..20_000 {
            let len = (next() % 400) as usize;
            let plain = next() % 4; // how often a plain byte is taken (runs of text)
            // mostly records; sometimes a top-level string or scalar
            let mut input = vec![if round % 5 == 0 { b'"' } else { b'{' }];
            for _ in 0..len {
                let r = next();
                input.push(if r % 8 < plain * 2 {
                    b'x'
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                });
            }
            if round % 3 == 0 {
                input.extend_from_slice(b"}}]}]]}} ,");
            }
            for chunk in [1, 7, 64, 100, 1 << 20] {
                assert_eq!(
                    scanned(&input, chunk),
                    reference(&input, chunk),
                    "chunk {chunk}: {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
    }

    #[test]
    fn ends_records_across_blocks() {
        let long = "x".repeat(150);
        let record = format!(r#"{{"a":"{long}]}}","b":[{{"c":"\"{{"}}],"d":{{}}}}"#);
        let input = format!("{record},{{}}");
        assert_eq!(
            scanned(input.as_bytes(), 1 << 20),
            (Some(record.len()), false)
        );
        assert_eq!(scanned(input.as_bytes(), 3), (Some(record.len()), false));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(scanned(deep.as_bytes(), 1 << 20), (Some(400), true));
        assert_eq!(scanned(b"{\"a\":[1,2", 1 << 20), (None, false));
    }
}
