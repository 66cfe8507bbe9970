//! Streaming transfers with progress: files go up gzipped on the fly (plain to a stack on this
//! machine) and come down un-gzipped on the fly, in bounded chunks, with a progress bar (bytes,
//! rate, ETA) on a terminal and nothing otherwise.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stowage_client::gzip::ParallelGz;

use crate::CliError;

/// A progress bar for `total` bytes, drawn only when stderr is a terminal.
pub(crate) fn bar(total: Option<u64>, label: &str) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::no_length(),
    };
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = if total.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"
    } else {
        "{msg} {bytes} {bytes_per_sec}"
    };
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

/// Counts bytes read for the progress bar.
struct Counted<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.bar.inc(read as u64);
        Ok(read)
    }
}

/// Reads up to `limit` bytes, fewer only at the end of `reader`.
fn read_up_to(reader: &mut impl Read, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut chunk = Vec::with_capacity(limit);
    reader.take(limit as u64).read_to_end(&mut chunk)?;
    Ok(chunk)
}

/// Hands each write on as a chunk; a refused chunk (the upload ended) stops the writing.
struct Chunks<F: FnMut(Bytes) -> bool>(F);

impl<F: FnMut(Bytes) -> bool> Write for Chunks<F> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if (self.0)(Bytes::copy_from_slice(buf)) {
            Ok(buf.len())
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload ended"))
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends `reader` gzipped, compressed on every core (see [`ParallelGz`]).
fn send_gzipped(mut reader: impl Read, send: impl FnMut(Bytes) -> bool) -> std::io::Result<()> {
    let mut gz = ParallelGz::new(Chunks(send));
    match std::io::copy(&mut reader, &mut gz).and_then(|_| gz.finish().map(drop)) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// A file as a stream of chunks, gzipped when `gzip` (already gzipped files are sent as they are).
pub(crate) fn upload_chunks(
    path: &Path,
    gzip: bool,
    bar: ProgressBar,
) -> Result<impl futures::Stream<Item = stowage_types::Result<Bytes>> + Unpin + Send + 'static, CliError> {
    let mut file =
        std::fs::File::open(path).map_err(|error| CliError::new(format!("cannot read {}: {error}", path.display())))?;
    let mut magic = [0u8; 2];
    let is_gzip = file.read(&mut magic).map(|n| n == 2 && magic == [0x1f, 0x8b]).unwrap_or(false);
    let file =
        std::fs::File::open(path).map_err(|error| CliError::new(format!("cannot read {}: {error}", path.display())))?;
    let mut counted = Counted { inner: file, bar };
    // Room for about a block (compressed members of 1 MiB, or chunks of 1 MiB): the next one is
    // read and compressed while the last is being sent.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<stowage_types::Result<Bytes>>(16);
    tokio::task::spawn_blocking(move || {
        let send = |chunk: Bytes| sender.blocking_send(Ok(chunk)).is_ok();
        let sent = if is_gzip || !gzip { send_as_is(&mut counted, send) } else { send_gzipped(counted, send) };
        if let Err(error) = sent {
            let _ = sender
                .blocking_send(Err(stowage_types::Error::validation(format!("reading the file failed: {error}"))));
        }
    });
    Ok(Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))))
}

/// Sends `reader` in chunks of 1 MiB.
fn send_as_is(reader: &mut impl Read, mut send: impl FnMut(Bytes) -> bool) -> std::io::Result<()> {
    loop {
        let chunk = read_up_to(reader, 1 << 20)?;
        if chunk.is_empty() || !send(Bytes::from(chunk)) {
            return Ok(());
        }
    }
}

/// Reads chunks handed over from async code, for a blocking decoder.
struct ChannelReader {
    receiver: std::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.recv() {
                Ok(chunk) => self.current = chunk,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Writes a downloaded stream to `out`, un-gzipping it when `gunzip`; `prefix` goes first.
pub(crate) async fn save(
    mut stream: impl futures::Stream<Item = stowage_types::Result<Bytes>> + Unpin,
    out: Box<dyn Write + Send>,
    prefix: Vec<u8>,
    gunzip: bool,
    bar: ProgressBar,
) -> Result<(), CliError> {
    use futures::StreamExt;
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Bytes>(4);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        out.write_all(&prefix)?;
        let input = ChannelReader { receiver, current: Bytes::new() };
        if gunzip {
            std::io::copy(&mut flate2::read::MultiGzDecoder::new(input), &mut out)?;
        } else {
            let mut input = input;
            std::io::copy(&mut input, &mut out)?;
        }
        out.flush()
    });
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| CliError::new(error.message))?;
        bar.inc(chunk.len() as u64);
        if sender.send(chunk).is_err() {
            break;
        }
    }
    drop(sender);
    bar.finish_and_clear();
    writer.await.map_err(|error| CliError::new(format!("writing failed: {error}")))?.map_err(|error| {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            crate::output_failed(error) // standard output, read by something that stopped
        }
        CliError::new(format!("writing failed: {error}"))
    })
}

/// A file as a stream of 1 MB chunks.
pub(crate) fn file_chunks(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = stowage_types::Result<Bytes>> + Unpin + Send + 'static {
    use tokio::io::AsyncReadExt;
    Box::pin(futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0u8; 1 << 20];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok(Bytes::from(buffer)), Some(file)))
            }
            Err(error) => {
                Some((Err(stowage_types::Error::validation(format!("reading the file failed: {error}"))), None))
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzipped(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        send_gzipped(input, |chunk| {
            out.extend_from_slice(&chunk);
            true
        })
        .unwrap();
        out
    }

    fn gunzipped(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(input).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn a_file_sent_gzipped_unzips_to_the_same_bytes_and_an_ended_upload_stops_the_reading_quietly() {
        let input: Vec<u8> = (0..(3 << 20) + 12345).map(|i| (i % 251) as u8 ^ (i >> 20) as u8).collect();
        let sent = gzipped(&input);
        assert!(sent.len() < input.len());
        assert_eq!(gunzipped(&sent), input);
        assert!(gunzipped(&gzipped(b"")).is_empty());
        let mut chunks = 0;
        send_gzipped(&input[..], |_| {
            chunks += 1;
            false
        })
        .unwrap();
        assert_eq!(chunks, 1);
    }

    /// A file shared between the test and the writer thread of `save`.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_download_is_saved_after_its_prefix_unzipped_or_as_it_came() {
        let input: Vec<u8> = (0..(2 << 20) + 777).map(|i| (i % 241) as u8).collect();
        let sent = gzipped(&input);
        for (gunzip, body, expected) in [(true, &sent, &input), (false, &sent, &sent), (false, &input, &input)] {
            let chunks: Vec<stowage_types::Result<Bytes>> =
                body.chunks(100_000).map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
            let out = Shared::default();
            save(
                futures::stream::iter(chunks),
                Box::new(out.clone()),
                b"head\n".to_vec(),
                gunzip,
                ProgressBar::hidden(),
            )
            .await
            .unwrap();
            let saved = out.0.lock().unwrap().clone();
            assert_eq!(&saved[..5], b"head\n");
            assert!(saved[5..] == expected[..], "gunzip {gunzip}");
        }
    }
}
