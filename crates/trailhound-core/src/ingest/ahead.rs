//! A reader whose source is read on a thread of its own, a few chunks ahead: used to inflate
//! an object while the calling thread parses it (see [`super::inflate::open_ahead`]).
//!
//! Memory is bounded: at most [`CHUNKS`] chunks of [`CHUNK`] bytes wait, and the thread
//! reuses the ones the reader is done with. The reader gets the source's bytes in order and
//! its first error as the source returned it (so a cap or truncation is reported exactly as
//! when reading in place); the thread stops at that error, at the end, or when the reader is
//! dropped.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

/// Bytes per chunk: large enough that the hand-over costs little, small enough that the
/// first records are parsed while the rest inflates.
const CHUNK: usize = 256 * 1024;
/// Chunks that may wait for the reader.
const CHUNKS: usize = 4;

/// What the thread hands over: bytes (empty at the end) or the source's error.
type Msg = io::Result<Vec<u8>>;

pub struct Ahead {
    rx: Receiver<Msg>,
    /// Chunks the reader is done with, back to the thread.
    spent: Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Ahead {
    /// Starts the thread; the error is the system's refusal to start one (the object then
    /// fails to be read, with that reason).
    pub fn start<R: Read + Send + 'static>(src: R) -> io::Result<Ahead> {
        let (tx, rx) = sync_channel(CHUNKS);
        let (spent, back) = channel();
        std::thread::Builder::new()
            .name("inflate".into())
            .spawn(move || fill(src, &tx, &back))?;
        Ok(Ahead {
            rx,
            spent,
            cur: Vec::new(),
            pos: 0,
            done: false,
        })
    }
}

/// The thread: reads `src` in chunks until its end or first error, or until the reader
/// goes away.
fn fill<R: Read>(mut src: R, tx: &SyncSender<Msg>, back: &Receiver<Vec<u8>>) {
    loop {
        let mut buf = back.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        let mut n = 0;
        let err = loop {
            match src.read(&mut buf[n..]) {
                Ok(0) => break None,
                Ok(k) => {
                    n += k;
                    if n == CHUNK {
                        break None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        buf.truncate(n);
        let end = n == 0;
        if n > 0 && tx.send(Ok(buf)).is_err() {
            return;
        }
        if let Some(e) = err {
            let _ = tx.send(Err(e));
            return;
        }
        if end {
            let _ = tx.send(Ok(Vec::new()));
            return;
        }
    }
}

impl Read for Ahead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let next = match self.rx.recv() {
                Ok(m) => m,
                Err(_) => Err(io::Error::other(
                    "the inflate thread stopped before the end of the object",
                )),
            };
            let chunk = next.inspect_err(|_| self.done = true)?;
            if chunk.is_empty() {
                self.done = true;
                return Ok(0);
            }
            let old = std::mem::replace(&mut self.cur, chunk);
            self.pos = 0;
            if old.capacity() > 0 {
                let _ = self.spent.send(old);
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes in uneven reads, then fails (or ends).
    struct Source {
        data: Vec<u8>,
        at: usize,
        fail: bool,
    }

    impl Read for Source {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return if self.fail {
                    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut short"))
                } else {
                    Ok(0)
                };
            }
            let n = buf
                .len()
                .min(self.data.len() - self.at)
                .min(1 + self.at % 70_001);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Every byte once, in order, across many chunks, through small and odd-sized reads.
    #[test]
    fn the_reader_gets_every_byte_in_order() {
        for len in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK * CHUNKS + 12_345,
        ] {
            let want = data(len);
            let mut r = Ahead::start(Source {
                data: want.clone(),
                at: 0,
                fail: false,
            })
            .unwrap();
            let mut got = Vec::new();
            let mut buf = vec![0; 4093];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got.len(), want.len());
            assert!(got == want, "{len} bytes");
            assert_eq!(r.read(&mut buf).unwrap(), 0, "the end stays the end");
        }
    }

    /// The bytes before the source's error, then the error itself, of its kind.
    #[test]
    fn the_sources_error_comes_after_its_bytes() {
        let want = data(2 * CHUNK + 7);
        let mut r = Ahead::start(Source {
            data: want.clone(),
            at: 0,
            fail: true,
        })
        .unwrap();
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(err.to_string(), "cut short");
        assert!(got == want);
    }

    /// A reader dropped early stops the thread (it does not inflate the rest of the object).
    #[test]
    fn dropping_the_reader_stops_the_thread() {
        let shared = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        struct Endless(std::sync::Arc<std::sync::atomic::AtomicUsize>);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0
                    .fetch_add(buf.len(), std::sync::atomic::Ordering::Relaxed);
                Ok(buf.len())
            }
        }
        let mut r = Ahead::start(Endless(shared.clone())).unwrap();
        let mut buf = [0u8; 10];
        r.read_exact(&mut buf).unwrap();
        drop(r);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let after = shared.load(std::sync::atomic::Ordering::Relaxed);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(shared.load(std::sync::atomic::Ordering::Relaxed), after);
        assert!(after <= (CHUNKS + 3) * CHUNK, "{after}");
    }
}
