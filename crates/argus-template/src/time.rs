//! Go's `time.Time` as templates see it: printed as `time.Time.String()` and formatted by
//! Go's reference layout (`Mon Jan 2 15:04:05 MST 2006`), in UTC.
//!
//! Alertmanager's template data holds an alert's `StartsAt` and `EndsAt` as `time.Time`,
//! and templates call its methods (`{{ .StartsAt.Format "2006-01-02 15:04:05" }}`). Argus
//! keeps every time in UTC, so the zone is always `UTC` with offset `+0000`.

use std::fmt::Write as _;

/// A UTC instant with nanoseconds: seconds since the Unix epoch and the nanoseconds after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoTime {
    pub secs: i64,
    pub nanos: u32,
}

/// Unix seconds of Go's zero time, `0001-01-01T00:00:00Z`.
const ZERO_SECS: i64 = -62_135_596_800;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: usize,
    yday: u32,
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

impl GoTime {
    /// Go's zero `time.Time` (an unset `EndsAt`).
    pub const ZERO: GoTime = GoTime {
        secs: ZERO_SECS,
        nanos: 0,
    };

    /// The instant `ns` nanoseconds after the Unix epoch.
    pub fn from_unix_nanos(ns: i128) -> GoTime {
        GoTime {
            secs: ns.div_euclid(1_000_000_000) as i64,
            nanos: ns.rem_euclid(1_000_000_000) as u32,
        }
    }

    /// Whether it is Go's zero time.
    pub fn is_zero(self) -> bool {
        self == GoTime::ZERO
    }

    fn fields(self) -> Fields {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let leap = u32::from(month > 2 && is_leap(year));
        Fields {
            year,
            month,
            day,
            hour: (sod / 3600) as u32,
            minute: (sod / 60 % 60) as u32,
            second: (sod % 60) as u32,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as usize,
            yday: cum[(month - 1) as usize] + day + leap,
        }
    }

    /// `time.Time.String()`: `2026-12-07 09:55:00.25 +0000 UTC`.
    pub fn string(self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// `time.Time.Format(layout)` for a UTC time.
    pub fn format(self, layout: &str) -> String {
        let f = self.fields();
        let mut out = String::with_capacity(layout.len() + 8);
        let mut rest = layout;
        while !rest.is_empty() {
            let (token, len) = next_token(rest);
            match token {
                Token::Literal => {
                    let c = rest.chars().next().unwrap_or(' ');
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                    continue;
                }
                Token::LongYear => {
                    let _ = write!(out, "{:04}", f.year);
                }
                Token::Year => {
                    let _ = write!(out, "{:02}", f.year.rem_euclid(100));
                }
                Token::LongMonth => out.push_str(MONTHS[(f.month - 1) as usize]),
                Token::Month => out.push_str(&MONTHS[(f.month - 1) as usize][..3]),
                Token::NumMonth => {
                    let _ = write!(out, "{}", f.month);
                }
                Token::ZeroMonth => {
                    let _ = write!(out, "{:02}", f.month);
                }
                Token::LongWeekDay => out.push_str(DAYS[f.weekday]),
                Token::WeekDay => out.push_str(&DAYS[f.weekday][..3]),
                Token::Day => {
                    let _ = write!(out, "{}", f.day);
                }
                Token::UnderDay => {
                    let _ = write!(out, "{:>2}", f.day);
                }
                Token::ZeroDay => {
                    let _ = write!(out, "{:02}", f.day);
                }
                Token::UnderYearDay => {
                    let _ = write!(out, "{:>3}", f.yday);
                }
                Token::ZeroYearDay => {
                    let _ = write!(out, "{:03}", f.yday);
                }
                Token::Hour => {
                    let _ = write!(out, "{:02}", f.hour);
                }
                Token::Hour12 | Token::ZeroHour12 => {
                    let h = match f.hour % 12 {
                        0 => 12,
                        h => h,
                    };
                    if token == Token::Hour12 {
                        let _ = write!(out, "{h}");
                    } else {
                        let _ = write!(out, "{h:02}");
                    }
                }
                Token::Minute => {
                    let _ = write!(out, "{}", f.minute);
                }
                Token::ZeroMinute => {
                    let _ = write!(out, "{:02}", f.minute);
                }
                Token::Second => {
                    let _ = write!(out, "{}", f.second);
                }
                Token::ZeroSecond => {
                    let _ = write!(out, "{:02}", f.second);
                }
                Token::PM => out.push_str(if f.hour >= 12 { "PM" } else { "AM" }),
                Token::Pm => out.push_str(if f.hour >= 12 { "pm" } else { "am" }),
                Token::TzName => out.push_str("UTC"),
                Token::NumTz(s) => out.push_str(s),
                Token::IsoTz => out.push('Z'),
                Token::Frac { digits, trim, sep } => {
                    let all = format!("{:09}", self.nanos);
                    let mut frac = &all[..digits];
                    if trim {
                        frac = frac.trim_end_matches('0');
                    }
                    if !frac.is_empty() {
                        out.push(sep);
                        out.push_str(frac);
                    }
                }
            }
            rest = &rest[len..];
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal,
    LongYear,
    Year,
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    PM,
    Pm,
    TzName,
    /// A numeric zone, already written for UTC.
    NumTz(&'static str),
    /// `Z07:00` and friends: `Z` for UTC.
    IsoTz,
    Frac {
        digits: usize,
        trim: bool,
        sep: char,
    },
}

/// The layout element at the start of `s` and its length, as Go's `nextStdChunk` reads
/// them (longest match first).
fn next_token(s: &str) -> (Token, usize) {
    let table: &[(&str, Token)] = &[
        ("January", Token::LongMonth),
        ("Jan", Token::Month),
        ("Monday", Token::LongWeekDay),
        ("Mon", Token::WeekDay),
        ("MST", Token::TzName),
        ("2006", Token::LongYear),
        ("002", Token::ZeroYearDay),
        ("01", Token::ZeroMonth),
        ("02", Token::ZeroDay),
        ("03", Token::ZeroHour12),
        ("04", Token::ZeroMinute),
        ("05", Token::ZeroSecond),
        ("06", Token::Year),
        ("__2", Token::UnderYearDay),
        ("_2", Token::UnderDay),
        ("15", Token::Hour),
        ("1", Token::NumMonth),
        ("2", Token::Day),
        ("3", Token::Hour12),
        ("4", Token::Minute),
        ("5", Token::Second),
        ("PM", Token::PM),
        ("pm", Token::Pm),
        ("-07:00:00", Token::NumTz("+00:00:00")),
        ("-0700", Token::NumTz("+0000")),
        ("-07:00", Token::NumTz("+00:00")),
        ("-070000", Token::NumTz("+000000")),
        ("-07", Token::NumTz("+00")),
        ("Z07:00:00", Token::IsoTz),
        ("Z070000", Token::IsoTz),
        ("Z0700", Token::IsoTz),
        ("Z07:00", Token::IsoTz),
        ("Z07", Token::IsoTz),
    ];
    // `Jan` and `Mon` only when not followed by a lower-case letter (`Month` is literal);
    // `2006` before `2`, `002` before `0`; Go checks the same way.
    for (pat, tok) in table {
        if let Some(after) = s.strip_prefix(pat) {
            let word = matches!(tok, Token::Month | Token::WeekDay)
                && !matches!(*pat, "January" | "Monday");
            if word && after.starts_with(|c: char| c.is_ascii_lowercase()) {
                continue;
            }
            return (*tok, pat.len());
        }
    }
    // `.000` / `,999`: fractional seconds, only after a digit-free separator and when
    // no digit follows.
    let bytes = s.as_bytes();
    if (bytes[0] == b'.' || bytes[0] == b',')
        && bytes.len() > 1
        && (bytes[1] == b'0' || bytes[1] == b'9')
    {
        let ch = bytes[1];
        let n = bytes[1..].iter().take_while(|b| **b == ch).count();
        let next = bytes.get(1 + n);
        if !next.is_some_and(u8::is_ascii_digit) {
            return (
                Token::Frac {
                    digits: n.min(9),
                    trim: ch == b'9',
                    sep: bytes[0] as char,
                },
                1 + n,
            );
        }
    }
    (Token::Literal, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07T09:05:03.25Z, a Monday.
    fn t() -> GoTime {
        GoTime {
            secs: 1_796_634_303,
            nanos: 250_000_000,
        }
    }

    #[test]
    fn string_and_layouts_as_go() {
        assert_eq!(t().string(), "2026-12-07 09:05:03.25 +0000 UTC");
        assert_eq!(GoTime::ZERO.string(), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            t().format("2006-01-02T15:04:05Z07:00 Mon Jan 2 3PM .000"),
            "2026-12-07T09:05:03Z Mon Dec 7 9AM .250"
        );
        assert_eq!(
            t().format("Monday, 02-Jan-06 15:04:05.999 MST -0700 __2 002"),
            "Monday, 07-Dec-26 09:05:03.25 UTC +0000 341 341"
        );
        assert_eq!(t().format("January _2 03:4:5 pm"), "December  7 09:5:3 am");
        assert_eq!(t().format("2006年01月02日 15时"), "2026年12月07日 09时");
        assert!(GoTime::ZERO.is_zero());
        assert_eq!(GoTime::from_unix_nanos(1_796_634_303_250_000_000), t());
    }
}
