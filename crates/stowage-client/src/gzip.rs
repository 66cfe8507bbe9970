//! Gzip on every core: what is written is cut into pieces, each compressed on a thread of its own
//! into a gzip member, and the members are written out in order. Members one after another are one
//! gzip file to every gzip reader (RFC 1952), so the output reads as if one encoder had made it;
//! a deflate window is 32 KiB, so pieces of 1 MiB cost almost nothing in size.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

/// Bytes compressed as one member.
const MEMBER_BYTES: usize = 1 << 20;

/// `piece` as one gzip member at the fast level.
fn member(piece: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(piece.len() / 2), flate2::Compression::fast());
    encoder.write_all(piece)?;
    encoder.finish()
}

/// A writer that gzips into `inner` on as many threads as there are cores. At most one piece per
/// core is in flight, so memory stays at a few MiB. Call [`ParallelGz::finish`] at the end.
pub struct ParallelGz<W: Write> {
    inner: W,
    piece: Vec<u8>,
    pending: VecDeque<JoinHandle<io::Result<Vec<u8>>>>,
    threads: usize,
    /// A member was started: an empty input still becomes a (small) gzip file.
    started: bool,
}

impl<W: Write> ParallelGz<W> {
    pub fn new(inner: W) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        ParallelGz { inner, piece: Vec::with_capacity(MEMBER_BYTES), pending: VecDeque::new(), threads, started: false }
    }

    /// Writes the oldest member out.
    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(oldest) = self.pending.pop_front() {
            let member = oldest.join().map_err(|_| io::Error::other("compressing failed"))??;
            self.inner.write_all(&member)?;
        }
        Ok(())
    }

    /// Starts compressing the piece gathered so far.
    fn submit(&mut self) -> io::Result<()> {
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(MEMBER_BYTES));
        self.pending.push_back(std::thread::spawn(move || member(&piece)));
        self.started = true;
        while self.pending.len() >= self.threads {
            self.write_oldest()?;
        }
        Ok(())
    }

    /// Compresses what is left, writes every member and hands `inner` back.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.piece.is_empty() || !self.started {
            self.submit()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = MEMBER_BYTES - self.piece.len();
        let taken = buf.len().min(room);
        self.piece.extend_from_slice(&buf[..taken]);
        if self.piece.len() == MEMBER_BYTES {
            self.submit()?;
        }
        Ok(taken)
    }

    /// Flushes `inner` only: pieces being gathered or compressed are written by later writes or
    /// by [`ParallelGz::finish`].
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn what_is_written_in_any_slices_unzips_to_the_same_bytes_in_order() {
        let input: Vec<u8> = (0..MEMBER_BYTES * 3 + 777).map(|i| (i % 251) as u8 ^ (i / MEMBER_BYTES) as u8).collect();
        let mut gz = ParallelGz::new(Vec::new());
        for slice in input.chunks(300_001) {
            gz.write_all(slice).unwrap();
        }
        let out = gz.finish().unwrap();
        assert!(out.len() < input.len());
        assert_eq!(gunzip(&out), input);
    }

    #[test]
    fn nothing_written_is_an_empty_gzip_file() {
        let out = ParallelGz::new(Vec::new()).finish().unwrap();
        assert!(out.starts_with(&[0x1f, 0x8b]));
        assert!(gunzip(&out).is_empty());
    }
}
