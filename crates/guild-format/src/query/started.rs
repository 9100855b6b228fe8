//! `--started` ranges as Guild 0.9 parses them: `after DT`, `before DT`,
//! `between DT and DT`, `last N minutes|hours|days`, `today`, `yesterday`.

use crate::error::{Error, Result};
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Range {
    pub(crate) start: Option<NaiveDateTime>,
    pub(crate) end: Option<NaiveDateTime>,
}

impl Range {
    pub(crate) fn contains(&self, started_us: i64) -> bool {
        let Some(t) = chrono::Local
            .timestamp_micros(started_us)
            .single()
            .map(|d| d.naive_local())
        else {
            return false;
        };
        self.start.is_none_or(|s| t >= s) && self.end.is_none_or(|e| t < e)
    }
}

fn bad(s: &str) -> Error {
    Error::user(format!(
        "invalid --started value '{s}': use e.g. 'after 2026-11-01', 'before 10:30', 'between 11-01 and 11-05', 'last 2 hours', 'today', 'yesterday'"
    ))
}

/// A date/time: `[YYYY-]MM-DD`, `HH:MM`, or both; returns (start, end of its unit).
fn parse_dt(s: &str, now: NaiveDateTime) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let s = s.trim();
    let (date_part, time_part) = match s.split_once(' ') {
        Some((d, t)) => (Some(d), Some(t)),
        None if s.contains(':') => (None, Some(s)),
        None => (Some(s), None),
    };
    let date = match date_part {
        Some(d) => {
            let parts: Vec<&str> = d.split('-').collect();
            match parts.len() {
                3 => {
                    let y: i32 = parts[0].parse().ok()?;
                    let y = if y < 100 { 2000 + y } else { y };
                    NaiveDate::from_ymd_opt(y, parts[1].parse().ok()?, parts[2].parse().ok()?)?
                }
                2 => NaiveDate::from_ymd_opt(
                    now.date().year_ce().1 as i32,
                    parts[0].parse().ok()?,
                    parts[1].parse().ok()?,
                )?,
                _ => return None,
            }
        }
        None => now.date(),
    };
    match time_part {
        Some(t) => {
            let time = NaiveTime::parse_from_str(t, "%H:%M").ok()?;
            let dt = date.and_time(time);
            Some((dt, dt + Duration::minutes(1)))
        }
        None => {
            let dt = date.and_hms_opt(0, 0, 0)?;
            Some((dt, dt + Duration::days(1)))
        }
    }
}

use chrono::Datelike;

pub(crate) fn parse_range(s: &str, now: NaiveDateTime) -> Result<Range> {
    let t = s.trim().to_ascii_lowercase();
    let today = now.date().and_hms_opt(0, 0, 0).ok_or_else(|| bad(s))?;
    if t == "today" {
        return Ok(Range {
            start: Some(today),
            end: None,
        });
    }
    if t == "yesterday" {
        return Ok(Range {
            start: Some(today - Duration::days(1)),
            end: Some(today),
        });
    }
    if let Some(rest) = t.strip_prefix("last ") {
        let mut it = rest.split_whitespace();
        let (n, unit) = match (it.next(), it.next()) {
            (Some(n), Some(u)) => (n.parse::<i64>().map_err(|_| bad(s))?, u),
            (Some(u), None) => (1, u),
            _ => return Err(bad(s)),
        };
        let d = match unit.trim_end_matches('s') {
            "minute" => Duration::minutes(n),
            "hour" => Duration::hours(n),
            "day" => Duration::days(n),
            "week" => Duration::weeks(n),
            _ => return Err(bad(s)),
        };
        return Ok(Range {
            start: Some(now - d),
            end: None,
        });
    }
    if let Some(rest) = t.strip_prefix("after ") {
        let (a, _) = parse_dt(rest, now).ok_or_else(|| bad(s))?;
        return Ok(Range {
            start: Some(a),
            end: None,
        });
    }
    if let Some(rest) = t.strip_prefix("before ") {
        let (a, _) = parse_dt(rest, now).ok_or_else(|| bad(s))?;
        return Ok(Range {
            start: None,
            end: Some(a),
        });
    }
    if let Some(rest) = t.strip_prefix("between ") {
        let (a, b) = rest.split_once(" and ").ok_or_else(|| bad(s))?;
        let (a, _) = parse_dt(a, now).ok_or_else(|| bad(s))?;
        let (_, b) = parse_dt(b, now).ok_or_else(|| bad(s))?;
        return Ok(Range {
            start: Some(a),
            end: Some(b),
        });
    }
    Err(bad(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let now = NaiveDate::from_ymd_opt(2026, 11, 21)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let r = parse_range("last 2 hours", now).unwrap();
        assert_eq!(r.start, Some(now - Duration::hours(2)));
        let r = parse_range("between 11-01 and 11-05", now).unwrap();
        assert_eq!(
            r.end.unwrap().date(),
            NaiveDate::from_ymd_opt(2026, 11, 6).unwrap()
        );
        assert!(parse_range("after 2026-11-20 10:00", now).is_ok());
        assert!(parse_range("whenever", now).is_err());
    }
}
