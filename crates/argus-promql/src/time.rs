//! Calendar fields of a UTC instant, for PromQL's date functions (`hour()`, `month()`, …).
//!
//! A **civil date** is the proleptic Gregorian year, month and day of an instant, computed
//! with Howard Hinnant's `civil_from_days` so that no date crate is needed.

/// The calendar fields of one UTC instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    /// 1–12.
    pub month: i64,
    /// 1–31.
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    /// 0 is Sunday.
    pub weekday: i64,
    /// 1–366.
    pub yday: i64,
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Civil {
    /// The fields of `secs` seconds since the Unix epoch.
    pub fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: (sod % 3600) / 60,
            weekday: (days + 4).rem_euclid(7),
            yday: days - days_from_civil(year, 1, 1) + 1,
        }
    }

    pub fn days_in_month(&self) -> i64 {
        match self.month {
            2 if is_leap(self.year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 2024-02-29T13:45:00Z, a Thursday, day 60 of a leap year.
        let c = Civil::from_unix(1_709_214_300);
        assert_eq!(
            c,
            Civil {
                year: 2024,
                month: 2,
                day: 29,
                hour: 13,
                minute: 45,
                weekday: 4,
                yday: 60
            }
        );
        assert_eq!(c.days_in_month(), 29);
        let e = Civil::from_unix(0);
        assert_eq!(
            (e.year, e.month, e.day, e.weekday, e.yday),
            (1970, 1, 1, 4, 1)
        );
        // 1969-12-31T23:59:59Z.
        let b = Civil::from_unix(-1);
        assert_eq!(
            (b.year, b.month, b.day, b.hour, b.minute, b.yday),
            (1969, 12, 31, 23, 59, 365)
        );
        // 2023-12-31, day 365 of a common year, a Sunday.
        let d = Civil::from_unix(1_703_980_800);
        assert_eq!((d.yday, d.weekday, d.days_in_month()), (365, 0, 31));
    }
}
