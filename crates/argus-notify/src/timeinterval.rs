//! Time intervals (`time_intervals:` in `alertmanager.yml`, Alertmanager's
//! `timeinterval` package).
//!
//! A **time interval** is a list of entries; the interval contains an instant if **any**
//! entry does, and an entry contains it if **all** of its given fields do: `times`
//! (`[start, end)` in minutes of the day, `24:00` allowed), `weekdays` (sunday = 0,
//! ranges like `monday:friday`), `days_of_month` (1..31, or −1 = last day, clamped to the
//! month), `months` (names or 1..12), `years`, all ranges inclusive, evaluated in
//! `location` (an IANA zone, UTC when absent). Routes name intervals in
//! `mute_time_intervals` and `active_time_intervals`.

use std::fmt;

use jiff::{Timestamp, civil::Date, tz::TimeZone};
use serde::{Deserialize, Deserializer};

use crate::scalar;

/// One entry of a named time interval. A field left out (`None`) does not constrain;
/// an empty list (`[]`) matches nothing, as in Alertmanager.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    /// Minutes of the day, `[start, end)`.
    #[serde(default)]
    pub times: Option<Vec<TimeRange>>,
    /// Days of the week, sunday = 0.
    #[serde(default, deserialize_with = "de_weekdays")]
    pub weekdays: Option<Vec<InclusiveRange>>,
    /// Days of the month; negative counts from the end (−1 = last day).
    #[serde(default, deserialize_with = "de_days_of_month")]
    pub days_of_month: Option<Vec<InclusiveRange>>,
    /// Months, 1..12.
    #[serde(default, deserialize_with = "de_months")]
    pub months: Option<Vec<InclusiveRange>>,
    /// Years.
    #[serde(default, deserialize_with = "de_years")]
    pub years: Option<Vec<InclusiveRange>>,
    /// The zone the other fields are read in; UTC when absent.
    #[serde(default, deserialize_with = "de_location")]
    pub location: Option<Location>,
}

/// `[start_minute, end_minute)` within a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Minutes after midnight, inclusive.
    pub start_minute: u32,
    /// Minutes after midnight, exclusive (1440 for `24:00`).
    pub end_minute: u32,
}

/// An inclusive range of integers (`begin == end` for a single value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusiveRange {
    /// First member.
    pub begin: i32,
    /// Last member.
    pub end: i32,
}

/// An IANA time zone by name.
#[derive(Clone)]
pub struct Location {
    /// The name as configured (`Asia/Shanghai`, `UTC`, `Local`).
    pub name: String,
    /// The zone.
    pub tz: TimeZone,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl PartialEq for Location {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Location {
    /// Loads a zone as Go's `time.LoadLocation` names them: `""` and `UTC` are UTC,
    /// `Local` is the system zone, anything else an IANA name.
    pub fn load(name: &str) -> Result<Self, String> {
        let tz = match name {
            "" | "UTC" => TimeZone::UTC,
            "Local" => TimeZone::system(),
            _ => TimeZone::get(name).map_err(|e| format!("unknown time zone {name:?}: {e}"))?,
        };
        Ok(Location {
            name: name.to_owned(),
            tz,
        })
    }
}

/// Parses `HH:MM` (`00:00`..`23:59`, or `24:00`) into minutes after midnight.
pub fn parse_clock(s: &str) -> Result<u32, String> {
    let bad = || format!("couldn't parse timestamp {s}, invalid format");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if (h == 24 && m == 0) || (h < 24 && m < 60) {
        Ok(h * 60 + m)
    } else {
        Err(bad())
    }
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default, deserialize_with = "scalar::string")]
            start_time: String,
            #[serde(default, deserialize_with = "scalar::string")]
            end_time: String,
        }
        let raw = Raw::deserialize(d)?;
        fn err<E: serde::de::Error>(m: impl fmt::Display) -> E {
            E::custom(m)
        }
        if raw.start_time.is_empty() || raw.end_time.is_empty() {
            return Err(err::<D::Error>("both start and end times must be provided"));
        }
        let start = parse_clock(&raw.start_time).map_err(err::<D::Error>)?;
        let end = parse_clock(&raw.end_time).map_err(err::<D::Error>)?;
        if start >= end {
            return Err(err::<D::Error>(
                "start time cannot be equal or greater than end time",
            ));
        }
        Ok(TimeRange {
            start_minute: start,
            end_minute: end,
        })
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Splits `a:b` or `a` (lower-cased, as Alertmanager does) and maps each member.
fn parse_range(
    s: &str,
    member: impl Fn(&str) -> Result<i32, String>,
) -> Result<InclusiveRange, String> {
    let s = s.to_lowercase();
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 2 {
            return Err(format!("couldn't parse range {s}, invalid format"));
        }
        Ok(InclusiveRange {
            begin: member(parts[0])?,
            end: member(parts[1])?,
        })
    } else {
        let v = member(&s)?;
        Ok(InclusiveRange { begin: v, end: v })
    }
}

fn int_member(s: &str) -> Result<i32, String> {
    s.parse::<i32>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: invalid syntax"))
}

/// Parses a `weekdays` entry (`monday`, `monday:friday`).
pub fn parse_weekday_range(s: &str) -> Result<InclusiveRange, String> {
    let r = parse_range(s, |m| {
        WEEKDAYS
            .iter()
            .position(|d| *d == m)
            .map(|i| i as i32)
            .ok_or_else(|| format!("{m} is not a valid weekday"))
    })?;
    if r.begin > r.end {
        return Err("start day cannot be before end day".into());
    }
    Ok(r)
}

/// Parses a `days_of_month` entry (`1:15`, `-3:-1`, `-1`).
pub fn parse_day_of_month_range(s: &str) -> Result<InclusiveRange, String> {
    let r = parse_range(s, int_member)?;
    for v in [r.begin, r.end] {
        if v == 0 || !(-31..=31).contains(&v) {
            return Err(format!("{v} is not a valid day of the month: out of range"));
        }
    }
    if r.begin < 0 && r.end > 0 {
        return Err("end day must be negative if start day is negative".into());
    }
    // Alertmanager's sanity check against a 28-day month.
    let check = |v: i32| if v < 0 { 28 + v } else { v };
    if check(r.begin) > check(r.end) {
        return Err(format!(
            "end day {} is always before start day {}",
            r.end, r.begin
        ));
    }
    Ok(r)
}

/// Parses a `months` entry (`january:march`, `1:3`, `december`).
pub fn parse_month_range(s: &str) -> Result<InclusiveRange, String> {
    let r = parse_range(s, |m| match MONTHS.iter().position(|n| *n == m) {
        Some(i) => Ok(i as i32 + 1),
        None => m
            .parse::<i32>()
            .map_err(|_| format!("{m} is not a valid month")),
    })?;
    if r.begin > r.end {
        let name = |v: i32| {
            usize::try_from(v - 1)
                .ok()
                .and_then(|i| MONTHS.get(i))
                .copied()
                .unwrap_or("")
        };
        return Err(format!(
            "end month {} is before start month {}",
            name(r.end),
            name(r.begin)
        ));
    }
    Ok(r)
}

/// Parses a `years` entry (`2023`, `2023:2025`).
pub fn parse_year_range(s: &str) -> Result<InclusiveRange, String> {
    let r = parse_range(s, int_member)?;
    if r.begin > r.end {
        return Err(format!(
            "end year {} is before start year {}",
            r.end, r.begin
        ));
    }
    Ok(r)
}

fn de_weekdays<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
    scalar::opt_list_of(d, "a list of weekday ranges", parse_weekday_range)
}
fn de_days_of_month<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
    scalar::opt_list_of(d, "a list of day-of-month ranges", parse_day_of_month_range)
}
fn de_months<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
    scalar::opt_list_of(d, "a list of month ranges", parse_month_range)
}
fn de_years<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<InclusiveRange>>, D::Error> {
    scalar::opt_list_of(d, "a list of year ranges", parse_year_range)
}
fn de_location<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Location>, D::Error> {
    scalar::parse_scalar(d, "an IANA time zone name", Location::load).map(Some)
}

/// Days in the month of `date` in `tz`, computed as Alertmanager does: the hours between
/// the first of this month and the first of the next, divided by 24 and truncated. A
/// month with a spring-forward DST change is therefore 30 days long when it has 31.
fn days_in_month(date: Date, tz: &TimeZone) -> i32 {
    let first = date.first_of_month();
    let next = first.last_of_month().tomorrow().unwrap_or(first);
    let (Ok(a), Ok(b)) = (
        first.to_zoned_datetime(tz.clone()),
        next.to_zoned_datetime(tz.clone()),
    ) else {
        return i32::from(date.days_in_month());
    };
    let secs = b.timestamp().as_second() - a.timestamp().as_second();
    i32::try_from(secs / 86_400).unwrap_or(31)
}

impl TimeInterval {
    /// Whether the instant lies in this entry (Alertmanager's `ContainsTime`, given UTC).
    pub fn contains(&self, at: Timestamp) -> bool {
        let tz = self
            .location
            .as_ref()
            .map_or(TimeZone::UTC, |l| l.tz.clone());
        let local = at.to_zoned_datetime(tz.clone());
        if let Some(times) = &self.times {
            let minute = u32::from(local.hour() as u8) * 60 + u32::from(local.minute() as u8);
            if !times
                .iter()
                .any(|r| minute >= r.start_minute && minute < r.end_minute)
            {
                return false;
            }
        }
        if let Some(days) = &self.days_of_month {
            let dim = days_in_month(local.date(), &tz);
            let day = i32::from(local.day());
            let hit = days.iter().any(|r| {
                let begin = if r.begin < 0 {
                    dim + r.begin + 1
                } else {
                    r.begin
                };
                let end = if r.end < 0 { dim + r.end + 1 } else { r.end };
                if begin > dim {
                    return false;
                }
                let begin = begin.clamp(-dim, dim);
                let end = end.clamp(-dim, dim);
                day >= begin && day <= end
            });
            if !hit {
                return false;
            }
        }
        if let Some(months) = &self.months {
            let month = i32::from(local.month());
            if !months.iter().any(|r| month >= r.begin && month <= r.end) {
                return false;
            }
        }
        if let Some(weekdays) = &self.weekdays {
            let wd = i32::from(local.weekday().to_sunday_zero_offset());
            if !weekdays.iter().any(|r| wd >= r.begin && wd <= r.end) {
                return false;
            }
        }
        if let Some(years) = &self.years {
            let year = i32::from(local.year());
            if !years.iter().any(|r| year >= r.begin && year <= r.end) {
                return false;
            }
        }
        true
    }
}

/// Whether any entry of a named interval contains the instant.
pub fn contains_any(entries: &[TimeInterval], at: Timestamp) -> bool {
    entries.iter().any(|e| e.contains(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ti(yaml: &str) -> TimeInterval {
        serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_every_field() {
        let t = ti(
            "times:\n- start_time: '09:00'\n  end_time: '24:00'\nweekdays: ['monday:friday', saturday]\ndays_of_month: ['1:5', '-3:-1']\nmonths: ['january:march', 12]\nyears: ['2023:2025']\nlocation: Asia/Shanghai\n",
        );
        assert_eq!(
            t.times,
            Some(vec![TimeRange {
                start_minute: 540,
                end_minute: 1440
            }])
        );
        assert_eq!(
            t.weekdays,
            Some(vec![
                InclusiveRange { begin: 1, end: 5 },
                InclusiveRange { begin: 6, end: 6 }
            ])
        );
        assert_eq!(
            t.days_of_month,
            Some(vec![
                InclusiveRange { begin: 1, end: 5 },
                InclusiveRange { begin: -3, end: -1 }
            ])
        );
        assert_eq!(
            t.months,
            Some(vec![
                InclusiveRange { begin: 1, end: 3 },
                InclusiveRange { begin: 12, end: 12 }
            ])
        );
        assert_eq!(
            t.years,
            Some(vec![InclusiveRange {
                begin: 2023,
                end: 2025
            }])
        );
        assert_eq!(t.location.map(|l| l.name), Some("Asia/Shanghai".to_owned()));
    }

    #[test]
    fn rejects_what_alertmanager_rejects() {
        let err = |y: &str| match serde_norway::from_str::<TimeInterval>(y) {
            Ok(v) => panic!("{y} parsed as {v:?}"),
            Err(e) => e.to_string(),
        };
        assert!(err("weekdays: [funday]").contains("funday is not a valid weekday"));
        assert!(err("weekdays: ['friday:monday']").contains("start day cannot be before end day"));
        assert!(err("days_of_month: ['0']").contains("0 is not a valid day of the month"));
        assert!(err("days_of_month: ['-1:5']").contains("end day must be negative"));
        assert!(err("days_of_month: ['10:2']").contains("end day 2 is always before start day 10"));
        assert!(
            err("times: [{start_time: '10:00', end_time: '09:00'}]")
                .contains("start time cannot be equal or greater than end time")
        );
        assert!(
            err("times: [{start_time: '24:01', end_time: '25:00'}]")
                .contains("couldn't parse timestamp 24:01")
        );
        assert!(err("times: [{start_time: '10:00'}]").contains("both start and end times"));
        assert!(err("location: Mars/Olympus").contains("unknown time zone"));
        assert!(err("wekdays: [monday]").contains("unknown field `wekdays`"));
        // The error points at the offending scalar.
        let e = serde_norway::from_str::<TimeInterval>("months:\n  - may\n  - smarch\n")
            .err()
            .and_then(|e| e.location().map(|l| l.line()));
        assert_eq!(e, Some(3));
    }

    #[test]
    fn times_are_half_open_and_read_in_the_location() {
        let t = ti(
            "times: [{start_time: '02:00', end_time: '04:00'}]\nweekdays: [sunday]\nlocation: Asia/Shanghai",
        );
        // 2024-06-02 is a Sunday; 02:00 in Shanghai is 18:00 UTC the day before.
        assert!(t.contains(at("2024-06-01T18:00:00Z")));
        assert!(t.contains(at("2024-06-01T19:59:59Z")));
        assert!(!t.contains(at("2024-06-01T20:00:00Z")));
        assert!(!t.contains(at("2024-06-01T17:59:59Z")));
        // Without a location the same instant is Saturday 18:00 UTC.
        let utc = ti("times: [{start_time: '02:00', end_time: '04:00'}]\nweekdays: [sunday]");
        assert!(!utc.contains(at("2024-06-01T18:00:00Z")));
        assert!(utc.contains(at("2024-06-02T02:30:00Z")));
    }

    #[test]
    fn negative_days_count_from_the_month_end() {
        let last = ti("days_of_month: ['-1']");
        assert!(last.contains(at("2024-02-29T12:00:00Z")));
        assert!(!last.contains(at("2024-02-28T12:00:00Z")));
        assert!(last.contains(at("2023-02-28T12:00:00Z")));
        // 31 is skipped in 30-day months, `-31:-29` clamps to the month.
        let d31 = ti("days_of_month: ['31']");
        assert!(!d31.contains(at("2024-04-30T12:00:00Z")));
        let late = ti("days_of_month: ['25:31']");
        assert!(late.contains(at("2024-04-30T12:00:00Z")));
    }

    #[test]
    fn spring_forward_month_is_thirty_days_as_in_alertmanager() {
        // March 2024 in Berlin loses an hour, so Alertmanager counts 30 days and `-1` is
        // the 30th, not the 31st.
        let last = ti("days_of_month: ['-1']\nlocation: Europe/Berlin");
        assert!(last.contains(at("2024-03-30T12:00:00Z")));
        assert!(!last.contains(at("2024-03-31T12:00:00Z")));
    }

    #[test]
    fn empty_list_matches_nothing_and_no_fields_match_everything() {
        assert!(!ti("weekdays: []").contains(at("2024-06-02T00:00:00Z")));
        assert!(ti("{}").contains(at("2024-06-02T00:00:00Z")));
        let months = ti("months: [june]\nyears: [2024]");
        assert!(months.contains(at("2024-06-30T23:59:59Z")));
        assert!(!months.contains(at("2024-07-01T00:00:00Z")));
        assert!(!months.contains(at("2025-06-01T00:00:00Z")));
    }
}
