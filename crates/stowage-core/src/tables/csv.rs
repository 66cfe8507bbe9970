//! CSV in and out, per RFC 4180 with Keboola's options (`delimiter`, `enclosure`, `escapedBy`).
//!
//! The reader is strict where the `csv` crate is lenient: a stray enclosure inside an unenclosed
//! value, text after a closing enclosure, an enclosure left open at the end of the file, invalid
//! UTF-8 and a row whose length differs from the header are all errors that name the line, so a
//! malformed file fails its import instead of loading shifted data. Gzip input is recognised by
//! its magic bytes, whatever the file is called.

use std::io::{BufRead, BufReader, Read, Write};

use stowage_store::table_data::PackedRows;
use stowage_types::{Code, Error, Result};

/// Delimiter, enclosure and escape character of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CsvFormat {
    pub delimiter: u8,
    pub enclosure: Option<u8>,
    pub escape: Option<u8>,
}

impl Default for CsvFormat {
    fn default() -> Self {
        CsvFormat { delimiter: b',', enclosure: Some(b'"'), escape: None }
    }
}

fn one_byte(name: &str, value: &str) -> Result<u8> {
    let bytes = value.as_bytes();
    if bytes.len() == 1 && bytes[0] != b'\n' && bytes[0] != b'\r' {
        Ok(bytes[0])
    } else if value == "\\t" {
        Ok(b'\t')
    } else {
        Err(Error::validation(format!("Parameter \"{name}\" must be a single ASCII character, \"{value}\" given.")))
    }
}

impl CsvFormat {
    /// Options as clients send them; empty `enclosure` means none, empty `escapedBy` means none.
    pub fn parse(delimiter: Option<&str>, enclosure: Option<&str>, escaped_by: Option<&str>) -> Result<Self> {
        let delimiter = match delimiter {
            None | Some("") => b',',
            Some(value) => one_byte("delimiter", value)?,
        };
        let escape = match escaped_by {
            None | Some("") => None,
            Some(value) => Some(one_byte("escapedBy", value)?),
        };
        // Enclosure and escape character are alternatives: a file uses one or the other.
        let enclosure = match (enclosure, escape) {
            (None, None) => Some(b'"'),
            (None | Some(""), _) => None,
            (Some(_), Some(_)) => {
                return Err(Error::validation("Parameters \"enclosure\" and \"escapedBy\" cannot be used together."))
            }
            (Some(value), None) => Some(one_byte("enclosure", value)?),
        };
        if enclosure == Some(delimiter) || escape == Some(delimiter) {
            return Err(Error::validation("The delimiter must differ from the enclosure and the escape character."));
        }
        Ok(CsvFormat { delimiter, enclosure, escape })
    }
}

/// Limits on what one file may hold, so that no value or row can take the server's memory. A file
/// that exceeds one is refused with the line, the column and the limit; nothing of it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one value (after unescaping).
    pub value_bytes: usize,
    /// Bytes of all values of one row together.
    pub row_bytes: usize,
    /// Values in one row, the header included.
    pub columns: usize,
}

/// The limits every import applies (documented in the README).
pub const LIMITS: Limits = Limits { value_bytes: 16 << 20, row_bytes: 64 << 20, columns: 1000 };

fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes >> 20)
}

fn invalid(line: u64, what: impl std::fmt::Display) -> Error {
    Error::new(Code::CsvInvalid, format!("Invalid CSV on line {line}: {what}."))
}

/// Counts the bytes read through it; the count is shared so it can be read after the reader moved.
pub struct CountingReader<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count.fetch_add(read as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(read)
    }
}

/// Byte counts of an opened input, filled in while it is read.
#[derive(Clone, Default)]
pub struct InputCounts {
    pub compressed: bool,
    pub raw: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub text: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl InputCounts {
    /// `(compressed, bytes read, bytes after decompression)` for job metrics.
    pub fn metrics(&self) -> (bool, u64, u64) {
        let load = |count: &std::sync::atomic::AtomicU64| count.load(std::sync::atomic::Ordering::Relaxed);
        (self.compressed, load(&self.raw), load(&self.text))
    }
}

/// Opens a byte stream as text, transparently un-gzipping it, and counts its bytes.
pub fn open(input: impl Read + Send + 'static) -> Result<(Box<dyn BufRead + Send>, InputCounts)> {
    let mut counts = InputCounts::default();
    let raw = CountingReader { inner: input, count: counts.raw.clone() };
    let mut buffered = BufReader::with_capacity(256 * 1024, raw);
    let head = buffered.fill_buf().map_err(|error| Error::internal(format!("reading the file: {error}")))?;
    counts.compressed = head.starts_with(&[0x1f, 0x8b]);
    let text: Box<dyn Read + Send> =
        if counts.compressed { Box::new(flate2::read::MultiGzDecoder::new(buffered)) } else { Box::new(buffered) };
    let counted = CountingReader { inner: text, count: counts.text.clone() };
    Ok((Box::new(BufReader::with_capacity(256 * 1024, counted)), counts))
}

fn not_utf8(line: u64) -> Error {
    invalid(line, "the text is not valid UTF-8")
}

/// Where the values of a record go while it is read.
trait Collect {
    fn extend(&mut self, bytes: &[u8]);
    fn push(&mut self, byte: u8);
    /// Bytes of the value being read.
    fn value_len(&self) -> usize;
    /// Ends the value being read; `line` is where the record starts.
    fn finish(&mut self, line: u64) -> Result<()>;
    /// Values ended so far.
    fn count(&self) -> usize;
}

/// The values, appended to a batch of packed rows.
struct Packed<'a> {
    rows: &'a mut PackedRows,
    /// The value being read (kept between records for its capacity).
    value: &'a mut Vec<u8>,
    done: usize,
}

impl Collect for Packed<'_> {
    fn extend(&mut self, bytes: &[u8]) {
        self.value.extend_from_slice(bytes);
    }
    fn push(&mut self, byte: u8) {
        self.value.push(byte);
    }
    fn value_len(&self) -> usize {
        self.value.len()
    }
    fn finish(&mut self, line: u64) -> Result<()> {
        self.rows.push_value(std::str::from_utf8(self.value).map_err(|_| not_utf8(line))?);
        self.value.clear();
        self.done += 1;
        Ok(())
    }
    fn count(&self) -> usize {
        self.done
    }
}

/// Only how many values there are and how long: [`CsvReader::next_raw`] keeps the bytes.
#[derive(Default)]
struct Lengths {
    done: usize,
    value: usize,
}

impl Collect for Lengths {
    fn extend(&mut self, bytes: &[u8]) {
        self.value += bytes.len();
    }
    fn push(&mut self, _: u8) {
        self.value += 1;
    }
    fn value_len(&self) -> usize {
        self.value
    }
    fn finish(&mut self, _: u64) -> Result<()> {
        self.done += 1;
        self.value = 0;
        Ok(())
    }
    fn count(&self) -> usize {
        self.done
    }
}

/// Reads records; each is `(line where it starts, values)`.
pub struct CsvReader<R> {
    input: R,
    format: CsvFormat,
    line: u64,
    /// A `\r` ended the last record: skip a `\n` right after it.
    skip_lf: bool,
    bom_checked: bool,
    /// Bytes that end a run of plain data outside an enclosure, and inside one.
    stops_plain: [bool; 256],
    stops_enclosed: [bool; 256],
    limits: Limits,
    /// Column names, once the header is known, to name a column in errors.
    names: Vec<String>,
    /// The value being read by [`CsvReader::next_packed`].
    scratch: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Unquoted,
    Quoted,
    AfterQuote,
}

impl<R: BufRead> CsvReader<R> {
    pub fn new(input: R, format: CsvFormat) -> Self {
        let mut stops_plain = [false; 256];
        let mut stops_enclosed = [false; 256];
        // A NUL byte stops a run too, to be refused.
        for byte in [Some(format.delimiter), Some(b'\n'), Some(b'\r'), Some(0), format.enclosure, format.escape]
            .into_iter()
            .flatten()
        {
            stops_plain[byte as usize] = true;
        }
        for byte in [Some(b'\n'), Some(0), format.enclosure, format.escape].into_iter().flatten() {
            stops_enclosed[byte as usize] = true;
        }
        CsvReader {
            input,
            format,
            line: 1,
            skip_lf: false,
            bom_checked: false,
            stops_plain,
            stops_enclosed,
            limits: LIMITS,
            names: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Applies other limits than [`LIMITS`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The format the reader reads.
    pub fn format(&self) -> CsvFormat {
        self.format
    }

    /// Names the columns in later errors.
    pub fn name_columns(&mut self, names: &[String]) {
        self.names = names.to_vec();
    }

    /// Refuses a record that has grown past a limit: `column` is the 0-based index of the value
    /// being read, `field` its bytes so far and `before` the bytes of the values before it.
    fn check_limits(&self, start: u64, column: usize, field: usize, before: usize) -> Result<()> {
        let Limits { value_bytes, row_bytes, columns } = self.limits;
        // Named only for an error: this runs for every record.
        let named = || match self.names.get(column) {
            Some(name) => format!("column {} (\"{name}\")", column + 1),
            None => format!("column {}", column + 1),
        };
        if column >= columns {
            return Err(invalid(start, format!("the row has more than {columns} values, the limit of columns")));
        }
        if field > value_bytes {
            return Err(invalid(
                start,
                format!("the value in {} is longer than {}, the limit of one value", named(), mib(value_bytes)),
            ));
        }
        if before + field > row_bytes {
            return Err(invalid(
                start,
                format!("the row is longer than {} at {}, the limit of one row", mib(row_bytes), named()),
            ));
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<&[u8]> {
        let line = self.line;
        self.input.fill_buf().map_err(|error| invalid(line, format!("the data cannot be read ({error})")))
    }

    /// The next record, `None` at the end of the input.
    pub fn next_record(&mut self) -> Result<Option<(u64, Vec<String>)>> {
        let mut rows = PackedRows::default();
        let Some((line, _)) = self.next_packed(&mut rows)? else { return Ok(None) };
        let values = rows.rows().flat_map(|row| row.map(str::to_string)).collect();
        Ok(Some((line, values)))
    }

    /// Appends the next record's values to `rows` as a row: `(line where it starts, number of
    /// values)`, `None` at the end of the input. On an error `rows` keeps only its whole rows.
    pub fn next_packed(&mut self, rows: &mut PackedRows) -> Result<Option<(u64, usize)>> {
        let mut value = std::mem::take(&mut self.scratch);
        value.clear();
        let mut packed = Packed { rows, value: &mut value, done: 0 };
        let read = self.read_record(&mut packed, None);
        let done = packed.done;
        self.scratch = value;
        match read {
            Ok(Some(line)) => {
                rows.end_row();
                Ok(Some((line, done)))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                rows.drop_open_row();
                Err(error)
            }
        }
    }

    /// The next record as it stands in the file (enclosures and doubled enclosures kept, its
    /// line end left out), appended to `out` after the same checks as [`Self::next_record`]:
    /// `(line where it starts, number of values)`, `None` at the end of the input.
    pub fn next_raw(&mut self, out: &mut Vec<u8>) -> Result<Option<(u64, usize)>> {
        let mut lengths = Lengths::default();
        let from = out.len();
        let Some(line) = self.read_record(&mut lengths, Some(out))? else { return Ok(None) };
        // Delimiters and enclosures are ASCII, so the record is UTF-8 exactly when its values are.
        std::str::from_utf8(&out[from..]).map_err(|_| not_utf8(line))?;
        Ok(Some((line, lengths.done)))
    }

    /// Reads one record into `values` (and its bytes into `raw`); the line where it starts.
    fn read_record<C: Collect>(&mut self, values: &mut C, mut raw: Option<&mut Vec<u8>>) -> Result<Option<u64>> {
        if !self.bom_checked {
            self.bom_checked = true;
            // A UTF-8 byte order mark before the header is not data.
            if self.fill()?.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.input.consume(3);
            }
        }
        if self.skip_lf {
            self.skip_lf = false;
            if self.fill()?.first() == Some(&b'\n') {
                self.input.consume(1);
            }
        }
        let CsvFormat { delimiter, enclosure, escape } = self.format;
        let start = self.line;
        // Bytes of the values already finished in this record.
        let mut before = 0;
        let mut state = State::Start;
        let mut escaped = false;
        let mut any = false;
        loop {
            let line_before = self.line;
            let buf = self
                .input
                .fill_buf()
                .map_err(|error| invalid(line_before, format!("the data cannot be read ({error})")))?;
            if buf.is_empty() {
                if state == State::Quoted || escaped {
                    return Err(invalid(start, "an enclosed value is not closed before the end of the file"));
                }
                if !any {
                    return Ok(None);
                }
                values.finish(start)?;
                return Ok(Some(start));
            }
            any = true;
            let mut index = 0;
            let mut done = false;
            while index < buf.len() {
                if buf[index] == 0 {
                    // PostgreSQL cannot store it in text; no backend takes it, so files load alike.
                    return Err(invalid(self.line, "a value holds a NUL byte (0x00), which text cannot hold"));
                }
                if escaped {
                    escaped = false;
                    if buf[index] == b'\n' {
                        self.line += 1;
                    }
                    values.push(buf[index]);
                    index += 1;
                    continue;
                }
                // Copy a run of plain bytes in one go.
                let stops = if state == State::Quoted { &self.stops_enclosed } else { &self.stops_plain };
                if state != State::AfterQuote {
                    let run = buf[index..].iter().position(|byte| stops[*byte as usize]).unwrap_or(buf.len() - index);
                    if run > 0 {
                        values.extend(&buf[index..index + run]);
                        if state == State::Start {
                            state = State::Unquoted;
                        }
                        index += run;
                        continue;
                    }
                }
                let byte = buf[index];
                index += 1;
                if Some(byte) == escape && state != State::AfterQuote {
                    escaped = true;
                    if state == State::Start {
                        state = State::Unquoted;
                    }
                    continue;
                }
                match state {
                    State::Start | State::Unquoted => {
                        if byte == delimiter {
                            before += values.value_len();
                            values.finish(start)?;
                            state = State::Start;
                        } else if byte == b'\n' || byte == b'\r' {
                            self.line += 1;
                            self.skip_lf = byte == b'\r';
                            done = true;
                            break;
                        } else if state == State::Start {
                            state = State::Quoted;
                        } else {
                            return Err(invalid(
                                self.line,
                                "an enclosure character inside a value that does not start with one; \
                                 enclose the whole value and double the enclosure characters in it",
                            ));
                        }
                    }
                    State::Quoted => {
                        if Some(byte) == enclosure {
                            state = State::AfterQuote;
                        } else {
                            self.line += 1;
                            values.push(byte);
                        }
                    }
                    State::AfterQuote => {
                        if Some(byte) == enclosure {
                            values.push(byte);
                            state = State::Quoted;
                        } else if byte == delimiter {
                            before += values.value_len();
                            values.finish(start)?;
                            state = State::Start;
                        } else if byte == b'\n' || byte == b'\r' {
                            self.line += 1;
                            self.skip_lf = byte == b'\r';
                            done = true;
                            break;
                        } else {
                            return Err(invalid(self.line, "unexpected text after the closing enclosure of a value"));
                        }
                    }
                }
            }
            if let Some(raw) = raw.as_mut() {
                // The byte that ended the record is not part of it.
                raw.extend_from_slice(&buf[..index - usize::from(done)]);
            }
            self.input.consume(index);
            // Checked once per buffer: a value overshoots a limit by at most one buffer.
            self.check_limits(start, values.count(), values.value_len(), before)?;
            if done {
                if self.skip_lf && self.input.fill_buf().ok().and_then(|buf| buf.first().copied()) == Some(b'\n') {
                    self.input.consume(1);
                    self.skip_lf = false;
                }
                values.finish(start)?;
                return Ok(Some(start));
            }
        }
    }
}

/// Writes CSV the way Keboola exports it: every value enclosed in `"`, `"` doubled, `\n` ends.
pub fn write_row(out: &mut impl Write, values: &[&str]) -> std::io::Result<()> {
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"\"")?;
        let mut rest = value.as_bytes();
        while let Some(position) = rest.iter().position(|b| *b == b'"') {
            out.write_all(&rest[..=position])?;
            out.write_all(b"\"")?;
            rest = &rest[position + 1..];
        }
        out.write_all(rest)?;
        out.write_all(b"\"")?;
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, format: CsvFormat) -> Result<Vec<Vec<String>>> {
        let mut reader = CsvReader::new(text.as_bytes(), format);
        let mut rows = Vec::new();
        while let Some((_, row)) = reader.next_record()? {
            rows.push(row);
        }
        Ok(rows)
    }

    fn rows(text: &str) -> Vec<Vec<String>> {
        read(text, CsvFormat::default()).unwrap()
    }

    #[test]
    fn enclosed_values_keep_delimiters_newlines_and_doubled_quotes() {
        assert_eq!(
            rows("a,b\n\"x,y\",\"say \"\"hi\"\"\nthere\"\n"),
            vec![vec!["a".to_string(), "b".into()], vec!["x,y".into(), "say \"hi\"\nthere".into()],]
        );
    }

    #[test]
    fn raw_records_are_the_file_s_own_bytes_without_line_ends_after_the_same_checks() {
        let text = "a,b\r\n\"x,\"\"y\"\"\",\"multi\r\nline\"\r1,\n,2";
        let mut reader = CsvReader::new(text.as_bytes(), CsvFormat::default());
        let mut records = Vec::new();
        let mut counts = Vec::new();
        loop {
            let mut out = Vec::new();
            let Some((line, values)) = reader.next_raw(&mut out).unwrap() else { break };
            records.push(String::from_utf8(out).unwrap());
            counts.push((line, values));
        }
        assert_eq!(records, vec!["a,b", "\"x,\"\"y\"\"\",\"multi\r\nline\"", "1,", ",2"]);
        assert_eq!(counts, vec![(1, 2), (2, 2), (4, 2), (5, 2)]);

        let mut reader = CsvReader::new(&b"a\n1\nx\"y\n"[..], CsvFormat::default());
        let mut out = Vec::new();
        reader.next_raw(&mut out).unwrap();
        reader.next_raw(&mut out).unwrap();
        assert!(reader.next_raw(&mut out).unwrap_err().message.contains("line 3"));
        let mut reader = CsvReader::new(&b"\xff\n"[..], CsvFormat::default());
        assert!(reader.next_raw(&mut Vec::new()).unwrap_err().message.contains("UTF-8"));
    }

    #[test]
    fn packed_rows_hold_the_same_values_as_records_and_only_whole_rows_after_an_error() {
        let text = "a,b\n\"x,\"\"y\"\"\",\n\u{e9},\"multi\nline\"\n1,2,3\n";
        let mut reader = CsvReader::new(text.as_bytes(), CsvFormat::default());
        let mut rows = PackedRows::default();
        let mut counts = Vec::new();
        for _ in 0..3 {
            counts.push(reader.next_packed(&mut rows).unwrap().unwrap());
        }
        assert_eq!(counts, vec![(1, 2), (2, 2), (3, 2)]);
        let mut counted = reader.next_packed(&mut rows).unwrap().unwrap();
        assert_eq!(counted, (5, 3));
        let values: Vec<Vec<&str>> = rows.rows().map(|row| row.collect()).collect();
        assert_eq!(
            values,
            vec![vec!["a", "b"], vec!["x,\"y\"", ""], vec!["\u{e9}", "multi\nline"], vec!["1", "2", "3"]]
        );
        assert!(reader.next_packed(&mut rows).unwrap().is_none());

        let mut reader = CsvReader::new(&b"a\n1\n\xff\n"[..], CsvFormat::default());
        let mut rows = PackedRows::default();
        counted = reader.next_packed(&mut rows).unwrap().unwrap();
        assert_eq!(counted, (1, 1));
        reader.next_packed(&mut rows).unwrap();
        assert!(reader.next_packed(&mut rows).unwrap_err().message.contains("line 3"));
        assert_eq!(rows.rows().map(|row| row.collect::<Vec<_>>()).collect::<Vec<_>>(), vec![vec!["a"], vec!["1"]]);
    }

    #[test]
    fn crlf_and_a_missing_final_newline_are_accepted() {
        assert_eq!(rows("a,b\r\n1,2"), vec![vec!["a".to_string(), "b".into()], vec!["1".into(), "2".into()]]);
        assert_eq!(rows("a\r\n\r\n"), vec![vec!["a".to_string()], vec!["".into()]]);
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        assert_eq!(rows("\u{feff}id\n1\n"), vec![vec!["id".to_string()], vec!["1".into()]]);
    }

    #[test]
    fn a_stray_enclosure_is_an_error_naming_the_line() {
        let error = read("a,b\n1,2\n3,x\"y\n", CsvFormat::default()).unwrap_err();
        assert_eq!(error.code, Code::CsvInvalid);
        assert!(error.message.starts_with("Invalid CSV on line 3:"), "{}", error.message);
    }

    #[test]
    fn text_after_a_closing_enclosure_is_an_error() {
        let error = read("a\n\"x\"y\n", CsvFormat::default()).unwrap_err();
        assert!(error.message.contains("line 2") && error.message.contains("after the closing enclosure"));
    }

    #[test]
    fn an_unclosed_enclosure_is_an_error_naming_where_it_started() {
        let error = read("a\n1\n\"open\nstill open\n", CsvFormat::default()).unwrap_err();
        assert!(error.message.contains("line 3") && error.message.contains("not closed"), "{}", error.message);
    }

    #[test]
    fn a_nul_byte_is_an_error_naming_the_line_enclosed_or_not() {
        for text in ["a\n1\nx\0y\n", "a\n1\n\"x\0y\"\n", "a\n1\n\0\n"] {
            let error = read(text, CsvFormat::default()).unwrap_err();
            assert_eq!(
                error.message,
                "Invalid CSV on line 3: a value holds a NUL byte (0x00), which text cannot hold."
            );
        }
    }

    #[test]
    fn invalid_utf8_is_an_error_naming_the_line() {
        let mut reader = CsvReader::new(&b"a\n\xff\n"[..], CsvFormat::default());
        reader.next_record().unwrap();
        let error = reader.next_record().unwrap_err();
        assert!(error.message.contains("line 2") && error.message.contains("UTF-8"));
    }

    #[test]
    fn other_delimiters_no_enclosure_and_an_escape_character_work() {
        let format = CsvFormat::parse(Some(";"), Some(""), Some("\\")).unwrap();
        // Without an enclosure, a quote is ordinary data.
        assert_eq!(read("a;b\nx\\;y;\"z\"\n", format).unwrap()[1], vec!["x;y".to_string(), "\"z\"".into()]);
        assert_eq!(
            read("a;b\nx\\;y;z\\\\\n", format).unwrap(),
            vec![vec!["a".to_string(), "b".into()], vec!["x;y".into(), "z\\".into()]]
        );
        let tabs = CsvFormat::parse(Some("\\t"), None, None).unwrap();
        assert_eq!(read("a\tb\n", tabs).unwrap(), vec![vec!["a".to_string(), "b".into()]]);
    }

    #[test]
    fn multi_character_options_are_rejected() {
        assert!(CsvFormat::parse(Some(",,"), None, None).is_err());
        assert!(CsvFormat::parse(Some(","), Some(","), None).is_err());
    }

    #[test]
    fn rows_are_written_fully_enclosed_with_doubled_quotes() {
        let mut out = Vec::new();
        write_row(&mut out, &["a", "say \"hi\"", ""]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\",\"say \"\"hi\"\"\",\"\"\n");
    }

    #[test]
    fn a_value_row_or_column_count_past_its_limit_is_refused_naming_line_and_column() {
        let limits = Limits { value_bytes: 8 << 20, row_bytes: 12 << 20, columns: 3 };
        let big = "x".repeat((8 << 20) + 1);
        let text = format!("id,note\n1,ok\n2,\"{big}\"\n");
        let mut reader = CsvReader::new(text.as_bytes(), CsvFormat::default()).with_limits(limits);
        let header = reader.next_record().unwrap().unwrap().1;
        reader.name_columns(&header);
        reader.next_record().unwrap();
        let error = reader.next_record().unwrap_err();
        assert_eq!(error.code, Code::CsvInvalid);
        assert_eq!(
            error.message,
            "Invalid CSV on line 3: the value in column 2 (\"note\") is longer than 8 MiB, the limit of one value."
        );

        let half = "y".repeat(7 << 20);
        let text = format!("a,b\n{half},{half}\n");
        let mut reader = CsvReader::new(text.as_bytes(), CsvFormat::default()).with_limits(limits);
        reader.next_record().unwrap();
        let error = reader.next_record().unwrap_err();
        assert!(error.message.contains("line 2: the row is longer than 12 MiB at column 2"), "{}", error.message);

        let mut reader = CsvReader::new(&b"a,b,c,d\n"[..], CsvFormat::default()).with_limits(limits);
        let error = reader.next_record().unwrap_err();
        assert!(error.message.contains("line 1: the row has more than 3 values"), "{}", error.message);
    }

    #[test]
    fn gzip_input_is_recognised_by_its_magic_bytes() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"a\n1\n").unwrap();
        let gz = encoder.finish().unwrap();
        let size = gz.len() as u64;
        let (reader, counts) = open(std::io::Cursor::new(gz)).unwrap();
        let mut csv = CsvReader::new(reader, CsvFormat::default());
        assert_eq!(csv.next_record().unwrap().unwrap().1, vec!["a".to_string()]);
        assert_eq!(csv.next_record().unwrap().unwrap().1, vec!["1".to_string()]);
        assert!(csv.next_record().unwrap().is_none());
        assert_eq!(counts.metrics(), (true, size, 4));
    }
}
