//! Task log entries: one line each, `time<TAB>level<TAB>message<TAB>context-json`, with tabs,
//! newlines and backslashes in the message escaped so every entry stays on its line.
//!
//! A line's length is bounded: an entry's message and context together take at most
//! [`MAX_ENTRY_BYTES`] in the log (longer ones are cut when written, with a visible marker),
//! and readers take at most [`MAX_LINE_BYTES`] of any line, so a log written before the cap, or
//! by something else, costs bounded memory and reads of [`BLOCK`] bytes, never a byte at a time.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The most bytes an entry's message (escaped as in the log file) and context (as JSON) take
/// together: 64 KiB. A longer entry is cut when it is written — the message, and a context
/// too large to keep whole, end in `… [truncated, N more bytes]`.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// The longest line a reader takes whole: an entry at [`MAX_ENTRY_BYTES`] plus its time,
/// level and separators. A longer line (from before the cap, or not written by the engine) is
/// read as its first this-many bytes with the truncation marker; the rest is skipped unread
/// into memory.
pub const MAX_LINE_BYTES: usize = MAX_ENTRY_BYTES + 1024;

/// Bytes read per system call.
pub const BLOCK: usize = 64 * 1024;

/// How bad a log entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Result<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Level::Info),
            "warning" => Ok(Level::Warning),
            "error" => Ok(Level::Error),
            _ => Err(Error::invalid(format!(
                "unknown log level \"{}\": use \"info\", \"warning\" or \"error\"",
                text.escape_debug()
            ))),
        }
    }
}

/// One log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub level: Level,
    pub message: String,
    /// Structured details; `None` when there were none.
    pub context: Option<Value>,
}

impl LogEntry {
    pub fn to_line(&self) -> String {
        let mut line = String::with_capacity(self.time.len() + self.message.len() + 16);
        line.push_str(&self.time);
        line.push('\t');
        line.push_str(self.level.name());
        line.push('\t');
        escape_into(&self.message, &mut line);
        line.push('\t');
        if let Some(ctx) = &self.context {
            line.push_str(&ctx.to_string());
        }
        line.push('\n');
        line
    }

    /// Parses a line written by [`to_line`]; `None` for anything else (a torn or foreign line).
    pub fn parse(line: &str) -> Option<LogEntry> {
        let mut parts = line.splitn(4, '\t');
        let time = parts.next()?.to_owned();
        let level = Level::parse(parts.next()?).ok()?;
        let message = unescape(parts.next()?);
        let context = match parts.next().map(str::trim_end) {
            None | Some("") => None,
            Some(json) => Some(serde_json::from_str(json).ok()?),
        };
        Some(LogEntry { time, level, message, context })
    }
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `… [truncated, N more bytes]`: what a cut message or context ends with.
fn marker(omitted: usize) -> String {
    format!("… [truncated, {omitted} more bytes]")
}

/// Length of `text` escaped by [`escape_into`].
fn escaped_len(text: &str) -> usize {
    text.len() + text.bytes().filter(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')).count()
}

/// Length of `c` inside a JSON string as serde_json writes it.
fn json_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// The longest prefix of `text` whose size, measured by `cost` per character, fits `budget`;
/// it ends on a character boundary.
fn prefix_within(text: &str, budget: usize, cost: impl Fn(char) -> usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += cost(c);
        if used > budget {
            return &text[..i];
        }
    }
    text
}

/// `bytes` up to the last whole UTF-8 character (a cut prefix may end inside one).
fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// Keeps the first `keep` bytes written to it and counts them all: sizes a context's JSON
/// without holding all of it.
struct Head {
    kept: Vec<u8>,
    keep: usize,
    total: usize,
}

impl Write for Head {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let room = self.keep.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.total += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogEntry {
    /// The entry as the log keeps it: unchanged when its message (escaped) and context (as
    /// JSON) fit [`MAX_ENTRY_BYTES`] together, else cut to fit on a UTF-8 boundary. The
    /// message keeps at least half the space when it needs it; a context too large for the
    /// rest becomes `{"truncated": "<the start of its JSON>… [truncated, N more bytes]"}`, and
    /// a message too long ends in `… [truncated, N more bytes]`.
    pub fn capped(&self) -> Cow<'_, LogEntry> {
        let message_len = escaped_len(&self.message);
        let context = self.context.as_ref().map(|ctx| {
            let mut head = Head { kept: Vec::new(), keep: MAX_ENTRY_BYTES, total: 0 };
            // Writing to memory cannot fail; a value that cannot be serialized was refused earlier.
            let _ = serde_json::to_writer(&mut head, ctx);
            head
        });
        let context_len = context.as_ref().map_or(0, |h| h.total);
        if message_len + context_len <= MAX_ENTRY_BYTES {
            return Cow::Borrowed(self);
        }
        let context_budget = MAX_ENTRY_BYTES - message_len.min(MAX_ENTRY_BYTES / 2);
        let context = match context {
            Some(head) if head.total > context_budget => {
                // `{"truncated":"…"}` around the JSON-escaped preview and marker.
                let wrapper = r#"{"truncated":""}"#.len();
                let room = context_budget - wrapper - marker(head.total).len();
                let preview = prefix_within(utf8_prefix(&head.kept), room, json_char_len);
                Some(json!({ "truncated": format!("{preview}{}", marker(head.total - preview.len())) }))
            }
            _ => self.context.clone(),
        };
        let context_len = context.as_ref().map_or(0, |c| c.to_string().len());
        let message_budget = MAX_ENTRY_BYTES - context_len;
        let message = if message_len <= message_budget {
            self.message.clone()
        } else {
            let room = message_budget - marker(self.message.len()).len();
            let kept = prefix_within(&self.message, room, |c| escaped_len(c.encode_utf8(&mut [0; 4])));
            format!("{kept}{}", marker(self.message.len() - kept.len()))
        };
        Cow::Owned(LogEntry { time: self.time.clone(), level: self.level, message, context })
    }
}

/// A line longer than [`MAX_LINE_BYTES`], `total` bytes long without its newline, from its
/// first bytes `head`: an entry line with the message cut and the context dropped, or (a line
/// the engine did not write) the start of it, ending in the truncation marker and a newline.
fn truncated_line(head: &[u8], total: u64) -> String {
    let text = utf8_prefix(head);
    // As much as a capped entry's message keeps, marker included.
    let room = MAX_ENTRY_BYTES - marker(usize::try_from(total).unwrap_or(usize::MAX)).len();
    let mut parts = text.splitn(4, '\t');
    let line = match (parts.next(), parts.next(), parts.next()) {
        (Some(time), Some(level), Some(message)) if Level::parse(level).is_ok() => {
            let message = prefix_within(message, room, char::len_utf8);
            // Do not end on half of an escape sequence.
            let trailing = message.len() - message.trim_end_matches('\\').len();
            let message = if trailing % 2 == 1 { &message[..message.len() - 1] } else { message };
            let kept = time.len() + level.len() + message.len() + 2;
            format!("{time}\t{level}\t{message}{}\t", marker(omitted(total, kept)))
        }
        _ => {
            let text = prefix_within(text, room, char::len_utf8);
            format!("{text}{}", marker(omitted(total, text.len())))
        }
    };
    line + "\n"
}

fn omitted(total: u64, kept: usize) -> usize {
    usize::try_from(total.saturating_sub(kept as u64)).unwrap_or(usize::MAX)
}

/// Reads at `offset` into `buf` until it is full or the file ends; returns the bytes read.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Whole lines of a log file from byte `offset`, about `max_bytes` of them (a line longer than
/// that is returned whole, a line longer than [`MAX_LINE_BYTES`] cut to it with the marker),
/// and the offset after them; `None` when the file ended. Reads [`BLOCK`] bytes per call and
/// holds at most `max_bytes` plus one line of [`MAX_LINE_BYTES`].
pub fn read_chunk(file: &File, path: &std::path::Path, offset: u64, max_bytes: usize) -> Result<(String, Option<u64>)> {
    let io = |e: io::Error| Error::storage(format!("cannot read log file {}", path.display()), e);
    let mut out: Vec<u8> = Vec::new();
    // The line being read: its first bytes (at most MAX_LINE_BYTES) and its length so far.
    let mut line: Vec<u8> = Vec::new();
    let mut line_len: u64 = 0;
    let mut block = vec![0u8; BLOCK];
    let mut pos = offset;
    loop {
        let n = read_full_at(file, &mut block, pos).map_err(io)?;
        if n == 0 {
            // The end: a last line without its newline (being written, or torn) as it is.
            if line_len > MAX_LINE_BYTES as u64 {
                out.extend_from_slice(truncated_line(&line, line_len).as_bytes());
            } else {
                out.extend_from_slice(&line);
            }
            return Ok((String::from_utf8_lossy(&out).into_owned(), None));
        }
        let mut rest = &block[..n];
        let mut at = pos;
        while !rest.is_empty() {
            let newline = rest.iter().position(|&b| b == b'\n');
            let piece = &rest[..newline.unwrap_or(rest.len())];
            let room = MAX_LINE_BYTES.saturating_sub(line.len());
            line.extend_from_slice(&piece[..room.min(piece.len())]);
            line_len += piece.len() as u64;
            let Some(newline) = newline else { break };
            if line_len > MAX_LINE_BYTES as u64 {
                out.extend_from_slice(truncated_line(&line, line_len).as_bytes());
            } else {
                out.extend_from_slice(&line);
                out.push(b'\n');
            }
            line.clear();
            line_len = 0;
            at += newline as u64 + 1;
            rest = &rest[newline + 1..];
            if out.len() >= max_bytes {
                return Ok((String::from_utf8_lossy(&out).into_owned(), Some(at)));
            }
        }
        pos += n as u64;
    }
}

/// Line boundaries found going backwards through a file, one [`BLOCK`] in memory at a time.
struct Backwards<'a> {
    file: &'a File,
    block: Vec<u8>,
    /// Where `block` starts in the file.
    start: u64,
}

impl Backwards<'_> {
    /// The position of the last newline before `before`, or `None` when there is none.
    fn newline_before(&mut self, mut before: u64) -> io::Result<Option<u64>> {
        while before > 0 {
            let cached = before > self.start && before <= self.start + self.block.len() as u64;
            if !cached {
                let start = before.saturating_sub(BLOCK as u64);
                self.block.resize((before - start) as usize, 0);
                let n = read_full_at(self.file, &mut self.block, start)?;
                self.block.truncate(n);
                self.start = start;
                if n == 0 {
                    return Ok(None);
                }
            }
            let end = ((before - self.start) as usize).min(self.block.len());
            if let Some(i) = self.block[..end].iter().rposition(|&b| b == b'\n') {
                return Ok(Some(self.start + i as u64));
            }
            before = self.start;
        }
        Ok(None)
    }

    /// The bytes from `from` to `to`, from the block when it holds them.
    fn bytes(&self, from: u64, to: u64) -> io::Result<Cow<'_, [u8]>> {
        if from >= self.start && to <= self.start + self.block.len() as u64 {
            return Ok(Cow::Borrowed(&self.block[(from - self.start) as usize..(to - self.start) as usize]));
        }
        let mut buf = vec![0u8; (to - from) as usize];
        let n = read_full_at(self.file, &mut buf, from)?;
        buf.truncate(n);
        Ok(Cow::Owned(buf))
    }
}

/// The last `limit` entries (of `level`, when given), oldest first. Reads backwards from the
/// end in [`BLOCK`]s so a long log costs only what is returned; a line longer than
/// [`MAX_LINE_BYTES`] is returned cut, its message ending in the truncation marker.
pub fn read_tail(file: &File, path: &std::path::Path, level: Option<Level>, limit: usize) -> Result<Vec<LogEntry>> {
    let io = |e: io::Error| Error::storage(format!("cannot read log file {}", path.display()), e);
    let len = file.metadata().map_err(io)?.len();
    let mut lines = Backwards { file, block: Vec::new(), start: len };
    let mut found: Vec<LogEntry> = Vec::new();
    // The line being looked at ends here (at a newline, or at the end of the file).
    let mut stop = len;
    while found.len() < limit {
        let start = lines.newline_before(stop).map_err(io)?.map_or(0, |nl| nl + 1);
        let line_len = stop - start;
        let entry = if line_len == 0 {
            None
        } else if line_len <= MAX_LINE_BYTES as u64 {
            let bytes = lines.bytes(start, stop).map_err(io)?;
            std::str::from_utf8(&bytes).ok().and_then(LogEntry::parse)
        } else {
            let head = lines.bytes(start, start + MAX_LINE_BYTES as u64).map_err(io)?;
            LogEntry::parse(truncated_line(&head, line_len).trim_end_matches('\n'))
        };
        if let Some(entry) = entry.filter(|e| level.is_none_or(|l| l == e.level)) {
            found.push(entry);
        }
        if start == 0 {
            break;
        }
        stop = start - 1;
    }
    found.reverse();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(i: usize, level: Level) -> LogEntry {
        LogEntry {
            time: format!("2026-01-01T00:00:{:02}.000Z", i % 60),
            level,
            message: format!("line {i}"),
            context: None,
        }
    }

    fn tail(path: &std::path::Path, level: Option<Level>, limit: usize) -> Vec<LogEntry> {
        read_tail(&File::open(path).unwrap(), path, level, limit).unwrap()
    }

    /// A whole file read with `read_chunk` in pieces of about `max_bytes`.
    fn chunks(path: &std::path::Path, max_bytes: usize) -> Vec<String> {
        let file = File::open(path).unwrap();
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            let (data, next) = read_chunk(&file, path, cursor, max_bytes).unwrap();
            out.push(data);
            match next {
                Some(n) => cursor = n,
                None => return out,
            }
        }
    }

    #[test]
    fn lines_round_trip_with_awkward_messages() {
        let e = LogEntry {
            time: "2026-01-01T00:00:00.000Z".into(),
            level: Level::Warning,
            message: "tab\there\nnew line \\ backslash | pipe \\n literal".into(),
            context: Some(json!({"file": "a.csv", "row": 7, "nested": {"ok": true}})),
        };
        let line = e.to_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(LogEntry::parse(line.trim_end_matches('\n')), Some(e));
    }

    #[test]
    fn reads_tail_by_level_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.log");
        let mut text = String::new();
        for i in 0..5000 {
            let level = if i % 10 == 0 { Level::Error } else { Level::Info };
            text.push_str(&entry(i, level).to_line());
        }
        text.push_str("garbage line without tabs\n");
        std::fs::write(&path, text).unwrap();
        let last = tail(&path, None, 3);
        assert_eq!(
            last.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
            ["line 4997", "line 4998", "line 4999"]
        );
        let errors = tail(&path, Some(Level::Error), 1000);
        assert_eq!(errors.len(), 500);
        assert_eq!(errors[0].message, "line 0");
        assert_eq!(errors[499].message, "line 4990");
        let all = tail(&path, None, 100_000);
        assert_eq!(all.len(), 5000);
        assert!(all.iter().enumerate().all(|(i, e)| e.message == format!("line {i}")));
        let joined: String = chunks(&path, 1000).concat();
        assert_eq!(joined, std::fs::read_to_string(&path).unwrap());
    }

    #[test]
    fn short_entries_are_kept_as_they_are() {
        let e = LogEntry { context: Some(json!({"row": 1})), ..entry(1, Level::Info) };
        assert!(matches!(e.capped(), Cow::Borrowed(_)));
        let exact = LogEntry { message: "é".repeat(MAX_ENTRY_BYTES / 2), ..entry(1, Level::Info) };
        assert!(matches!(exact.capped(), Cow::Borrowed(_)));
    }

    /// Message and context of a capped entry as the log stores them.
    fn stored_len(e: &LogEntry) -> usize {
        escaped_len(&e.message) + e.context.as_ref().map_or(0, |c| c.to_string().len())
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary_with_a_marker() {
        // Two-byte characters and characters that double when escaped, at every alignment.
        for shift in 0..4 {
            let message = format!("{}{}", "x".repeat(shift), "é\\\n".repeat(50_000));
            let e = LogEntry { message: message.clone(), ..entry(1, Level::Error) };
            let cut = e.capped();
            assert!(stored_len(&cut) <= MAX_ENTRY_BYTES, "{}", stored_len(&cut));
            assert!(stored_len(&cut) > MAX_ENTRY_BYTES - 64, "uses the room it has");
            let (kept, rest) = cut.message.split_once("… [truncated, ").expect("marker");
            assert!(message.starts_with(kept));
            assert_eq!(rest, format!("{} more bytes]", message.len() - kept.len()));
            let line = cut.to_line();
            assert_eq!(LogEntry::parse(line.trim_end()).as_ref(), Some(cut.as_ref()));
        }
    }

    #[test]
    fn a_huge_context_becomes_a_preview_and_the_message_stays() {
        let rows: Vec<String> = (0..200_000).map(|i| format!("row \"{i}\"")).collect();
        let context = json!({ "rows": rows });
        let full = context.to_string();
        let e = LogEntry { message: "Imported a CSV".into(), context: Some(context), ..entry(1, Level::Info) };
        let cut = e.capped();
        assert_eq!(cut.message, "Imported a CSV");
        assert!(stored_len(&cut) <= MAX_ENTRY_BYTES);
        let preview = cut.context.as_ref().unwrap()["truncated"].as_str().expect("a preview");
        let (kept, rest) = preview.split_once("… [truncated, ").expect("marker");
        assert!(full.starts_with(kept) && kept.len() > MAX_ENTRY_BYTES / 3);
        assert_eq!(rest, format!("{} more bytes]", full.len() - kept.len()));

        // A long message and a long context share the room; the message keeps half.
        let both = LogEntry { message: "m".repeat(MAX_ENTRY_BYTES), ..e };
        let cut = both.capped();
        assert!(stored_len(&cut) <= MAX_ENTRY_BYTES);
        assert!(cut.message.len() >= MAX_ENTRY_BYTES / 2 - 64);
    }

    /// A log with an 8 MB line from before the cap, between ordinary ones.
    fn log_with_a_huge_line(dir: &std::path::Path) -> (std::path::PathBuf, usize) {
        let path = dir.join("2.log");
        let huge = LogEntry { message: "é".repeat(4 << 20), ..entry(1, Level::Error) }.to_line();
        let mut text = entry(0, Level::Info).to_line();
        text.push_str(&huge);
        text.push_str(&entry(2, Level::Info).to_line());
        std::fs::write(&path, &text).unwrap();
        (path, huge.len() - 1)
    }

    #[test]
    fn a_huge_old_line_is_read_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (path, huge_len) = log_with_a_huge_line(dir.path());
        let entries = tail(&path, None, 10);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].message, "line 0");
        assert_eq!(entries[2].message, "line 2");
        let cut = &entries[1];
        assert_eq!(cut.level, Level::Error);
        let (kept, rest) = cut.message.split_once("… [truncated, ").expect("marker");
        assert!(kept.chars().all(|c| c == 'é') && kept.len() > MAX_ENTRY_BYTES - 64);
        assert!(cut.message.len() <= MAX_ENTRY_BYTES);
        let kept_line = cut.time.len() + "error".len() + kept.len() + 2;
        assert_eq!(rest, format!("{} more bytes]", huge_len - kept_line));

        for max in [1, 100, 70_000, 1 << 20, 16 << 20] {
            let pieces = chunks(&path, max);
            let text = pieces.concat();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 3, "max {max}");
            assert!(lines.iter().all(|l| l.len() <= MAX_LINE_BYTES), "max {max}");
            let parsed: Vec<LogEntry> = lines.iter().map(|l| LogEntry::parse(l).expect("an entry")).collect();
            assert_eq!(parsed, entries, "max {max}");
        }
        assert_eq!(chunks(&path, 1).len(), 4, "one line per piece, then the end");
    }

    #[test]
    fn an_unfinished_last_line_and_foreign_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("3.log");
        let mut text = entry(0, Level::Info).to_line();
        text.push_str(&"no tabs at all ".repeat(10_000));
        text.push('\n');
        text.push_str("2026-01-01T00:00:00.000Z\tinfo\tbeing writ");
        std::fs::write(&path, &text).unwrap();
        let all = chunks(&path, 1 << 20).concat();
        let lines: Vec<&str> = all.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("no tabs at all") && lines[1].contains("… [truncated, "));
        assert_eq!(lines[2], "2026-01-01T00:00:00.000Z\tinfo\tbeing writ");
        let entries = tail(&path, None, 10);
        assert_eq!(entries.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["line 0", "being writ"]);
    }
}
