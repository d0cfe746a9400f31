//! The unit tests' random inputs: a xorshift generator, seeded per test, so every run checks
//! the same cases and a failure replays.

pub(crate) struct XorShift(pub u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
