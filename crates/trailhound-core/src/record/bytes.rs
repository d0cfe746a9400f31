//! Byte searches of the splitter's hot loop.

/// The first `"` or `\\` in `hay`. Most strings of a record are short (keys, names, ids,
/// times): the first 32 bytes are read a word at a time, which costs less than memchr's
/// setup per string; the rest of a longer string goes to memchr.
#[inline]
pub(crate) fn quote_or_backslash(hay: &[u8]) -> Option<usize> {
    const LO: u64 = u64::from_le_bytes([1; 8]);
    const HI: u64 = u64::from_le_bytes([0x80; 8]);
    // A byte of `x` is zero where the word matched: `(x - LO) & !x & HI` flags every zero
    // byte and may also flag a byte above one (a borrow), never below; the lowest flag of
    // either mask is therefore the first match.
    let zeros = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut off = 0;
    while off < 32 && off + 8 <= hay.len() {
        let w = u64::from_le_bytes(hay[off..off + 8].try_into().expect("8 bytes"));
        let m = zeros(w ^ (LO * u64::from(b'"'))) | zeros(w ^ (LO * u64::from(b'\\')));
        if m != 0 {
            return Some(off + (m.trailing_zeros() / 8) as usize);
        }
        off += 8;
    }
    memchr::memchr2(b'"', b'\\', &hay[off..]).map(|p| off + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain search, on words built from the bytes that could fool the word trick
    /// (the two targets, their neighbours, their high-bit twins, 0x00 and 0x80).
    #[test]
    fn finds_the_first_quote_or_backslash() {
        let alphabet = [
            b'"', b'\\', 0x21, 0x23, 0x5b, 0x5d, 0xa2, 0xdc, 0x00, 0x80, 0xff, b'a',
        ];
        let mut rng = crate::test_rng::XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let seed = rng.next();
            let len = (seed % 90) as usize;
            // mostly plain bytes, so matches land at every offset
            let hay: Vec<u8> = (0..len)
                .map(|i| {
                    let r = seed.rotate_left(i as u32 * 5) ^ (i as u64).wrapping_mul(0x9e37);
                    if r.is_multiple_of(7) {
                        alphabet[(r >> 8) as usize % 2]
                    } else {
                        alphabet[2 + (r >> 8) as usize % 10]
                    }
                })
                .collect();
            let want = hay.iter().position(|&b| b == b'"' || b == b'\\');
            assert_eq!(quote_or_backslash(&hay), want, "{hay:?}");
        }
        assert_eq!(quote_or_backslash(b""), None);
        assert_eq!(quote_or_backslash(&[b'a'; 100]), None);
        let mut long = vec![b'a'; 100];
        long[77] = b'\\';
        assert_eq!(quote_or_backslash(&long), Some(77));
    }
}
