//! Wall-clock time as UTC milliseconds, and the `Y-m-d H:i:s` text that upstream sTask's
//! timestamp columns (and Eloquent) use.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The current time.
pub fn now_ms() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Formats `ms` as `YYYY-MM-DD HH:MM:SS` (UTC), the format of the legacy timestamp columns.
pub fn to_sql_text(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Formats `ms` as `YYYY-MM-DD HH:MM:SS.mmm` (UTC): upstream's column format plus milliseconds,
/// so short tasks have measurable durations. Eloquent parses it; text order is time order.
pub fn to_sql_text_ms(ms: Millis) -> String {
    format!("{}.{:03}", to_sql_text(ms), ms.rem_euclid(1000))
}

/// Formats `ms` as RFC 3339 with microseconds, used in log lines and progress snapshots.
pub fn to_rfc3339(ms: Millis) -> String {
    let base = to_sql_text(ms).replacen(' ', "T", 1);
    format!("{base}.{:03}Z", ms.rem_euclid(1000))
}

/// Parses `YYYY-MM-DD[ T]HH:MM:SS[.fraction]` (UTC) into milliseconds. Returns `None` for
/// anything else, so a malformed legacy value reads as "unknown" rather than failing a query.
pub fn parse_sql_text(text: &str) -> Option<Millis> {
    let b = text.trim().as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> { std::str::from_utf8(&b[range]).ok()?.parse().ok() };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut ms = 0;
    if b.len() > 20 && b[19] == b'.' {
        let frac: String = text.trim()[20..].chars().take_while(char::is_ascii_digit).take(3).collect();
        if !frac.is_empty() {
            ms = frac.parse::<i64>().ok()? * 10_i64.pow(3 - frac.len() as u32);
        }
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400) + h * 3600 + mi * 60 + s) * 1000 + ms)
}

// Howard Hinnant's civil-calendar algorithms (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        for ms in [0, 951_782_400_000, 1_700_000_000_123, 4_102_444_799_000, -86_400_000] {
            let text = to_sql_text(ms);
            assert_eq!(parse_sql_text(&text), Some(ms - ms.rem_euclid(1000)), "{text}");
        }
        assert_eq!(to_sql_text(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(to_rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(to_sql_text_ms(1_700_000_000_007), "2023-11-14 22:13:20.007");
        assert_eq!(parse_sql_text(&to_sql_text_ms(1_700_000_000_007)), Some(1_700_000_000_007));
    }

    #[test]
    fn parses_fractions_and_rejects_garbage() {
        assert_eq!(parse_sql_text("2023-11-14 22:13:20.5"), Some(1_700_000_000_500));
        assert_eq!(parse_sql_text("2023-11-14T22:13:20.123456Z"), Some(1_700_000_000_123));
        for bad in ["", "yesterday", "2023-13-01 00:00:00", "2023-11-14", "2023/11/14 22:13:20"] {
            assert_eq!(parse_sql_text(bad), None, "{bad}");
        }
    }
}
