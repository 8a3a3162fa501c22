//! Durations as people write them in specs and flags: `30s`, `500ms`, `2m`, `1h` (a bare
//! number is seconds). One parser for `--interval`, a group's `HealthyFor` and
//! `HealthTimeout`; its messages quote the text given. And moments as people read them
//! (RFC 3339).

use std::time::Duration;

/// Parses a duration of 0 or more.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration such as 30s, 500ms, 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s, m or h")),
    };
    // A week is more than anything rkit waits for; beyond it is a typo.
    if !(seconds.is_finite() && (0.0..=7.0 * 86400.0).contains(&seconds)) {
        return Err(format!("{text:?}: must be between 0 and 168h"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a duration of more than 0 (an interval).
pub fn positive(text: &str) -> Result<Duration, String> {
    let d = parse(text)?;
    if d.is_zero() {
        return Err(format!("{:?}: must be more than 0", text.trim()));
    }
    Ok(d)
}

/// A moment (seconds since the Unix epoch) as RFC 3339 (`2026-11-26T05:00:00Z`).
pub fn rfc3339(secs: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(positive("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(positive("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(positive("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(positive("1"), Ok(Duration::from_secs(1)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(
            positive("0s"),
            Err("\"0s\": must be more than 0".to_string())
        );
        assert_eq!(
            parse("3d"),
            Err("\"3d\": the unit must be ms, s, m or h".to_string())
        );
        assert_eq!(
            parse("1000h"),
            Err("\"1000h\": must be between 0 and 168h".to_string())
        );
        assert_eq!(
            parse("soon"),
            Err("\"soon\": expected a duration such as 30s, 500ms, 2m".to_string())
        );
    }
}
