//! Handler unit tests without moto (filled below).
