//! Streaming transfers with progress: files go up gzipped on the fly and come down un-gzipped on
//! the fly, in bounded chunks, with a progress bar (bytes, rate, ETA) on a terminal and nothing
//! otherwise.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// A file as a stream of gzip chunks (already gzipped files are sent as they are).
pub(crate) fn gzipped_chunks(
    path: &Path,
    bar: ProgressBar,
) -> Result<impl futures::Stream<Item = stowage_core::types::Result<Bytes>> + Unpin + Send + 'static, CliError> {
    let mut file =
        std::fs::File::open(path).map_err(|error| CliError::new(format!("cannot read {}: {error}", path.display())))?;
    let mut magic = [0u8; 2];
    let is_gzip = file.read(&mut magic).map(|n| n == 2 && magic == [0x1f, 0x8b]).unwrap_or(false);
    let file =
        std::fs::File::open(path).map_err(|error| CliError::new(format!("cannot read {}: {error}", path.display())))?;
    let counted = Counted { inner: file, bar };
    let mut reader: Box<dyn Read + Send> = if is_gzip {
        Box::new(counted)
    } else {
        Box::new(flate2::read::GzEncoder::new(counted, flate2::Compression::fast()))
    };
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<stowage_core::types::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || loop {
        let mut buffer = vec![0u8; 1 << 20];
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => {
                buffer.truncate(read);
                if sender.blocking_send(Ok(Bytes::from(buffer))).is_err() {
                    break;
                }
            }
            Err(error) => {
                let _ = sender.blocking_send(Err(stowage_core::types::Error::validation(format!(
                    "reading the file failed: {error}"
                ))));
                break;
            }
        }
    });
    Ok(Box::pin(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))))
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
    mut stream: impl futures::Stream<Item = stowage_core::types::Result<Bytes>> + Unpin,
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
    writer
        .await
        .map_err(|error| CliError::new(format!("writing failed: {error}")))?
        .map_err(|error| CliError::new(format!("writing failed: {error}")))
}
