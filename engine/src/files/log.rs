//! Task log entries: one line each, `time<TAB>level<TAB>message<TAB>context-json`, with tabs,
//! newlines and backslashes in the message escaped so every entry stays on its line.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

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

/// Whole lines of a log file from byte `offset`, about `max_bytes` of them (a longer line is
/// returned whole), and the offset after them; `None` when the file ended.
pub fn read_chunk(path: &Path, offset: u64, max_bytes: usize) -> Result<(String, Option<u64>)> {
    let io = |e: std::io::Error| Error::storage(format!("cannot read log file {}", path.display()), e);
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((String::new(), None)),
        Err(e) => return Err(io(e)),
    };
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut data = Vec::with_capacity(max_bytes.min(1 << 20));
    (&mut file).take(max_bytes as u64).read_to_end(&mut data).map_err(io)?;
    if data.len() < max_bytes {
        return Ok((String::from_utf8_lossy(&data).into_owned(), None));
    }
    match data.iter().rposition(|b| *b == b'\n') {
        Some(end) => data.truncate(end + 1),
        None => {
            // One line longer than the chunk: finish it.
            let mut byte = [0u8; 1];
            while file.read(&mut byte).map_err(io)? == 1 {
                data.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
        }
    }
    let next = offset + data.len() as u64;
    Ok((String::from_utf8_lossy(&data).into_owned(), Some(next)))
}

const CHUNK: u64 = 64 * 1024;

/// Reads backwards from the end so a long log costs only what is returned.
pub fn read_tail(path: &Path, level: Option<Level>, limit: usize) -> Result<Vec<LogEntry>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::storage(format!("cannot read log file {}", path.display()), e));
        }
    };
    let io = |e: std::io::Error| Error::storage(format!("cannot read log file {}", path.display()), e);
    let mut pos = file.seek(SeekFrom::End(0)).map_err(io)?;
    let mut found: Vec<LogEntry> = Vec::new();
    // Bytes of an unfinished line carried to the next (earlier) chunk.
    let mut carry: Vec<u8> = Vec::new();
    while pos > 0 && found.len() < limit {
        let start = pos.saturating_sub(CHUNK);
        let mut buf = vec![0u8; (pos - start) as usize];
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.read_exact(&mut buf).map_err(io)?;
        buf.extend_from_slice(&carry);
        pos = start;
        // Everything before the first newline may continue in the previous chunk.
        let first_complete =
            if pos == 0 { 0 } else { buf.iter().position(|&b| b == b'\n').map_or(buf.len(), |i| i + 1) };
        carry = buf[..first_complete].to_vec();
        let complete = &buf[first_complete..];
        for raw in complete.split(|&b| b == b'\n').rev() {
            if found.len() >= limit {
                break;
            }
            if let Some(entry) = std::str::from_utf8(raw).ok().and_then(LogEntry::parse) {
                if level.is_none_or(|l| l == entry.level) {
                    found.push(entry);
                }
            }
        }
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
        let last = read_tail(&path, None, 3).unwrap();
        assert_eq!(
            last.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
            ["line 4997", "line 4998", "line 4999"]
        );
        let errors = read_tail(&path, Some(Level::Error), 1000).unwrap();
        assert_eq!(errors.len(), 500);
        assert_eq!(errors[0].message, "line 0");
        assert_eq!(errors[499].message, "line 4990");
        assert_eq!(read_tail(&dir.path().join("missing.log"), None, 10).unwrap(), vec![]);
    }
}
