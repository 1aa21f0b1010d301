//! The *decimal* view of a float: `v == m / 10^e` for an integer mantissa `m` and an
//! exponent `e` in `0..=MAX_EXP`. Monitoring values are mostly printed decimals (`12.34`,
//! `99.5`) or integers (`4096`, `1.2e9` bytes), and their mantissas are small, slowly
//! changing integers that the int stream packs into a few bits.
//!
//! Exactness is defined by the decoder's formula, [`from_decimal`]: the encoder accepts a
//! mantissa only if that formula gives back the value's exact bit pattern. Since `10^e` is
//! exact in `f64` for `e ≤ 22` and IEEE division is correctly rounded, this accepts every
//! value whose shortest decimal form has at most `e` fraction digits and a mantissa within
//! ±2^53, plus whatever else happens to round-trip. `-0.0`, NaN, ±Inf and values that need
//! more digits never do; within a chunk they are stored as *exceptions* (position and raw
//! bits), as long as there are few.

/// The largest exponent tried: fifteen fraction digits, beyond which a float is rarely a
/// printed decimal and Gorilla stores it better.
pub(crate) const MAX_EXP: u8 = 15;

/// Powers of ten, all exact in `f64`.
const POW10: [f64; MAX_EXP as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Mantissas beyond this magnitude are not tried (they would not fit an `i64`).
const MANTISSA_LIMIT: f64 = 9.0e18;

/// `10^e` for `e ≤ MAX_EXP`.
#[inline]
pub(crate) fn pow10(e: u8) -> f64 {
    POW10[usize::from(e.min(MAX_EXP))]
}

/// The value a mantissa and exponent stand for. The encoder and decoder both use exactly
/// this, which is what makes the transform lossless.
#[inline]
pub(crate) fn from_decimal(m: i64, e: u8) -> f64 {
    if e == 0 {
        m as f64
    } else {
        m as f64 / POW10[usize::from(e)]
    }
}

/// The mantissa of `v` at exponent `e`, if one round-trips bit-exactly.
#[inline]
pub(crate) fn to_mantissa(v: f64, e: u8) -> Option<i64> {
    let s = if e == 0 { v } else { v * POW10[usize::from(e)] };
    // NaN and ±Inf fail here too.
    if s.is_nan() || s.abs() >= MANTISSA_LIMIT {
        return None;
    }
    // Round half away from zero; a wrong guess only fails the check below.
    let m = (s + 0.5f64.copysign(s)) as i64;
    (from_decimal(m, e).to_bits() == v.to_bits()).then_some(m)
}

/// The smallest exponent at which `v` is a decimal.
fn min_exp(v: f64) -> Option<u8> {
    if !v.is_finite() || v.to_bits() == (-0.0f64).to_bits() {
        return None;
    }
    for e in 0..=MAX_EXP {
        if to_mantissa(v, e).is_some() {
            return Some(e);
        }
        if v.abs() * POW10[usize::from(e)] >= MANTISSA_LIMIT {
            break;
        }
    }
    None
}

/// A chunk's values as decimals: one exponent, one mantissa per value, and the positions
/// of values that are not decimals at that exponent (their mantissa slot holds the
/// previous mantissa, which keeps deltas small; the decoder overwrites them).
#[derive(Debug, Default)]
pub(crate) struct Decimals {
    pub(crate) exp: u8,
    pub(crate) mantissas: Vec<i64>,
    pub(crate) exceptions: Vec<usize>,
}

/// Fills `out` with the decimal view of `values`, or returns false when too many values
/// are not decimals for the view to pay.
///
/// The exponent is chosen by price: each extra fraction digit costs about 3.3 bits on
/// every value, each exception about 72 bits; so one `0.30000000000000004` among 2-decimal
/// gauges becomes an exception instead of forcing 17 digits on the whole chunk.
pub(crate) fn analyze(values: &[f64], out: &mut Decimals) -> bool {
    let n = values.len();
    // Give up early on arbitrary floats, where every miss costs a full search.
    let max_misses = n / 16 + 1;
    let mut hist = [0usize; MAX_EXP as usize + 1];
    let mut misses = 0;
    let mut prev: Option<(u64, Option<u8>)> = None;
    for &v in values {
        let e = match prev {
            Some((bits, e)) if bits == v.to_bits() => e,
            _ => min_exp(v),
        };
        prev = Some((v.to_bits(), e));
        match e {
            Some(e) => hist[usize::from(e)] += 1,
            None => {
                misses += 1;
                if misses > max_misses {
                    return false;
                }
            }
        }
    }
    // Price every exponent (in tenths of a bit) and keep the cheapest.
    let mut best: Option<(usize, u8)> = None;
    let mut above: usize = hist.iter().sum();
    for e in 0..=MAX_EXP {
        above -= hist[usize::from(e)];
        let exceptions = misses + above;
        if exceptions >= n {
            continue;
        }
        let cost = exceptions * 720 + n * usize::from(e) * 33;
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, e));
        }
    }
    let Some((_, exp)) = best else {
        return false;
    };
    out.exp = exp;
    out.mantissas.clear();
    out.exceptions.clear();
    let mut last: Option<i64> = None;
    for (i, &v) in values.iter().enumerate() {
        match to_mantissa(v, exp) {
            Some(m) => {
                if last.is_none() {
                    // Leading exceptions take the first real mantissa.
                    out.mantissas.fill(m);
                }
                out.mantissas.push(m);
                last = Some(m);
            }
            None => {
                out.exceptions.push(i);
                out.mantissas.push(last.unwrap_or(0));
            }
        }
    }
    last.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_decimals_get_their_digit_count() {
        assert_eq!(min_exp(12.34), Some(2));
        assert_eq!(min_exp(99.5), Some(1));
        assert_eq!(min_exp(0.1), Some(1));
        assert_eq!(min_exp(0.0), Some(0));
        assert_eq!(min_exp(-7.0), Some(0));
        assert_eq!(min_exp(1.5e15), Some(0));
        assert_eq!(min_exp(0.000_123), Some(6));
        assert_eq!(to_mantissa(12.34, 2), Some(1234));
        assert_eq!(to_mantissa(12.34, 4), Some(123_400));
        assert_eq!(to_mantissa(-0.5, 1), Some(-5));
    }

    #[test]
    fn non_decimals_are_rejected() {
        assert_eq!(min_exp(-0.0), None);
        assert_eq!(min_exp(f64::NAN), None);
        assert_eq!(min_exp(f64::from_bits(0x7ff0_0000_0000_0002)), None);
        assert_eq!(min_exp(f64::INFINITY), None);
        assert_eq!(min_exp(f64::MIN_POSITIVE / 3.0), None);
        assert_eq!(min_exp(1e300), None);
        // 16 and 17 fraction digits: beyond MAX_EXP.
        assert_eq!(min_exp(1.0 / 3.0), None);
        assert_eq!(min_exp(0.1 + 0.2), None);
        // π's shortest form has 15 fraction digits, so it is a decimal.
        assert_eq!(min_exp(std::f64::consts::PI), Some(15));
    }

    #[test]
    fn one_long_value_becomes_an_exception() {
        let mut vals: Vec<f64> = (0..200).map(|i| f64::from(1000 + i) / 100.0).collect();
        vals[17] = 0.1 + 0.2;
        vals[50] = f64::from_bits(0x7ff0_0000_0000_0002);
        let mut d = Decimals::default();
        assert!(analyze(&vals, &mut d));
        assert_eq!(d.exp, 2);
        assert_eq!(d.exceptions, vec![17, 50]);
        assert_eq!(d.mantissas[17], d.mantissas[16]);
        for (i, &v) in vals.iter().enumerate() {
            if !d.exceptions.contains(&i) {
                assert_eq!(from_decimal(d.mantissas[i], d.exp).to_bits(), v.to_bits());
            }
        }
    }

    #[test]
    fn arbitrary_floats_are_not_decimals() {
        let vals: Vec<f64> = (1..100).map(|i| (f64::from(i)).sqrt()).collect();
        assert!(!analyze(&vals, &mut Decimals::default()));
    }
}
