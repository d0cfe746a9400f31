//! Streaming inflate with a cap on inflated bytes. Gzip is recognised by its magic bytes,
//! not the file name: archives hold both `.json.gz` and plain `.json`.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

/// Marker carried inside an `io::Error` when the cap is hit, so callers can tell a bomb
/// from a corrupt stream.
#[derive(Debug)]
pub struct CapExceeded(pub u64);

impl std::fmt::Display for CapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "inflated size exceeds {} bytes", self.0)
    }
}

impl std::error::Error for CapExceeded {}

/// Counts bytes read and fails once more than `cap` have come through.
pub struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(io::Error::other(CapExceeded(self.cap)));
        }
        Ok(n)
    }
}

impl<R> Capped<R> {
    pub fn bytes_read(&self) -> u64 {
        self.read
    }
}

/// The reader the decoder consumes: inflated (if gzip) and capped.
pub struct Inflated<R: Read> {
    inner: Capped<Body<R>>,
    pub gzip: bool,
}

enum Body<R: Read> {
    Gzip(Box<MultiGzDecoder<BufReader<R>>>),
    Plain(BufReader<R>),
    /// Gzip inflated on a thread of its own (see [`open_ahead`]).
    Ahead(super::ahead::Ahead),
}

impl<R: Read> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Gzip(d) => d.read(buf),
            Body::Plain(r) => r.read(buf),
            Body::Ahead(a) => a.read(buf),
        }
    }
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Read> Inflated<R> {
    /// Inflated bytes produced so far.
    pub fn bytes_out(&self) -> u64 {
        self.inner.bytes_read()
    }
}

/// Wraps `raw` so reads yield the object's content, inflated when it starts with the gzip magic.
pub fn open<R: Read>(raw: R, cap: u64) -> io::Result<Inflated<R>> {
    open_with(raw, cap, |br| {
        Ok(Body::Gzip(Box::new(MultiGzDecoder::new(br))))
    })
}

/// As [`open`], but a gzip object is inflated on a thread of its own, a few chunks ahead of
/// the reader, so inflating (a sixth of decoding a CloudTrail file) overlaps parsing when a
/// core would otherwise be idle; a plain object is read as by [`open`]. The reader sees the
/// same bytes and the same errors, at the same points, as with [`open`]; the cap still
/// counts what the reader takes.
pub fn open_ahead<R: Read + Send + 'static>(raw: R, cap: u64) -> io::Result<Inflated<R>> {
    open_with(raw, cap, |br| {
        Ok(Body::Ahead(super::ahead::Ahead::start(
            MultiGzDecoder::new(br),
        )?))
    })
}

/// Recognises gzip by its magic bytes and caps what is read; `gzip` builds the inflating
/// body.
fn open_with<R: Read>(
    raw: R,
    cap: u64,
    gzip: impl FnOnce(BufReader<R>) -> io::Result<Body<R>>,
) -> io::Result<Inflated<R>> {
    let mut br = BufReader::with_capacity(128 * 1024, raw);
    let head = br.fill_buf()?;
    let is_gzip = head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    let body = if is_gzip { gzip(br)? } else { Body::Plain(br) };
    Ok(Inflated {
        inner: Capped {
            inner: body,
            read: 0,
            cap,
        },
        gzip: is_gzip,
    })
}

/// True when the error came from the inflated-size cap.
pub fn is_cap(e: &io::Error) -> Option<u64> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<CapExceeded>())
        .map(|c| c.0)
}
