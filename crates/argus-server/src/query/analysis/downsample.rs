//! Automatic downsampling: the step of a range evaluation chosen so that no series has more
//! than `max_points` points.
//!
//! Method: the raw step is `ceil((end - start) / (max_points - 1))`, at least the caller's
//! minimum step; it is rounded up to the next "nice" step (1 s, 2 s, 5 s, 10 s, 15 s, 30 s,
//! 1 m, 2 m, 5 m, 10 m, 15 m, 30 m, 1 h, 2 h, 3 h, 6 h, 12 h, 1 d, then whole days), and
//! the grid is aligned to multiples of the step since the Unix epoch, inside
//! `[start, end]`: first point `ceil(start / step) × step`, last `floor(end / step) ×
//! step`. Aligned grids make successive refreshes of a dashboard land on the same
//! timestamps, and the grid holds at most `floor((end - start) / step) + 1 ≤ max_points`
//! points.

/// The steps a grid may have, in ms; beyond the last one, whole days.
const NICE_MS: [i64; 18] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];
const DAY_MS: i64 = 86_400_000;

/// A grid of evaluation times: `start`, `start + step`, … `end`, all in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Grid {
    /// How many points a series evaluated on this grid can have.
    pub fn points(&self) -> i64 {
        (self.end - self.start) / self.step + 1
    }
}

/// `a / b` rounded up, for `a >= 0` and `b > 0`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b != 0)
}

/// The smallest nice step at least `ms`.
pub fn nice_step(ms: i64) -> i64 {
    let ms = ms.max(1);
    NICE_MS
        .iter()
        .copied()
        .find(|&s| s >= ms)
        .unwrap_or_else(|| ceil_div(ms, DAY_MS).saturating_mul(DAY_MS))
}

/// The grid over `[start, end]` (ms, `start <= end`) with at most `max_points` points
/// (at least 2) and a step of at least `min_step` ms (0: no minimum).
pub fn grid(start: i64, end: i64, max_points: i64, min_step: i64) -> Grid {
    let span = end.saturating_sub(start).max(0);
    let raw = ceil_div(span, (max_points - 1).max(1));
    let step = nice_step(raw.max(min_step));
    let first = start.div_euclid(step) * step + if start.rem_euclid(step) == 0 { 0 } else { step };
    let last = end.div_euclid(step) * step;
    if first > last {
        // The range is shorter than one step and holds no aligned time: one point at end.
        return Grid {
            start: end,
            end,
            step,
        };
    }
    Grid {
        start: first,
        end: last,
        step,
    }
}

/// A PromQL duration for `ms`: whole seconds when it is one, else milliseconds.
pub fn promql_duration(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_up_to_nice_values() {
        assert_eq!(nice_step(1), 1_000);
        assert_eq!(nice_step(1_000), 1_000);
        assert_eq!(nice_step(21_601), 30_000);
        assert_eq!(nice_step(3_600_001), 7_200_000);
        assert_eq!(nice_step(86_400_001), 2 * DAY_MS);
    }

    #[test]
    fn six_hours_at_1000_points_is_a_30s_grid_inside_the_range() {
        let start = 1_700_000_007_000;
        let end = start + 6 * 3_600_000;
        let g = grid(start, end, 1000, 0);
        // 21 600 s / 999 = 21.6 s → 30 s.
        assert_eq!(g.step, 30_000);
        assert_eq!(g.start, 1_700_000_010_000);
        assert_eq!(g.end, 1_700_021_580_000);
        assert_eq!(g.points(), 720);
        assert!(g.start >= start && g.end <= end);
    }

    #[test]
    fn never_more_than_max_points() {
        for max in [2, 3, 7, 100, 1000, 11_000] {
            for span in [
                0,
                999,
                1_000,
                59_999,
                3_600_000,
                7 * DAY_MS + 17,
                400 * DAY_MS,
            ] {
                for start in [0, 1, 29_999, 1_700_000_000_123] {
                    let g = grid(start, start + span, max, 0);
                    assert!(
                        g.points() <= max,
                        "max {max} span {span} start {start}: {g:?}"
                    );
                    assert!(g.start >= start && g.end <= start + span, "{g:?}");
                    let aligned = g.start % g.step == 0 && g.end % g.step == 0;
                    assert!(
                        aligned || (g.start == start + span && g.points() == 1),
                        "{g:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_minimum_step_wins_over_a_finer_automatic_one() {
        let g = grid(0, 3_600_000, 1000, 60_000);
        assert_eq!(g.step, 60_000);
        assert_eq!(g.points(), 61);
        // 45 s is not nice: rounded up to 1 m.
        assert_eq!(grid(0, 3_600_000, 1000, 45_000).step, 60_000);
    }

    #[test]
    fn a_range_shorter_than_the_step_is_one_point_at_end() {
        let g = grid(1_001, 1_999, 1000, 0);
        assert_eq!(
            g,
            Grid {
                start: 1_999,
                end: 1_999,
                step: 1_000
            }
        );
        assert_eq!(g.points(), 1);
    }

    #[test]
    fn durations_for_promql() {
        assert_eq!(promql_duration(60_000), "60s");
        assert_eq!(promql_duration(1_500), "1500ms");
    }
}
