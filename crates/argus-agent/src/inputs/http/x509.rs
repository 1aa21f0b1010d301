//! Just enough DER to read a certificate's expiry.
//!
//! `tls_cert_days_left` needs the server certificate's **notAfter**: the end of its
//! validity, the second time in `Certificate.tbsCertificate.validity` (RFC 5280 §4.1).
//! rustls hands over the certificate as DER bytes and its verifier does not expose the
//! parsed validity; a general X.509 crate (`x509-parser` and its `nom`/`asn1-rs` tree)
//! would be a dozen crates for one field, so this walks the five TLVs in front of it.
//! Any deviation from the expected shape gives `None`, never a panic.

/// The notAfter of a DER-encoded X.509 certificate, in seconds since the Unix epoch.
pub fn not_after(der: &[u8]) -> Option<i64> {
    const SEQUENCE: u8 = 0x30;
    let (certificate, _) = tlv(der, SEQUENCE)?;
    let (mut tbs, _) = tlv(certificate, SEQUENCE)?;
    // version [0] EXPLICIT, absent in v1 certificates.
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs, 0xa0)?.1;
    }
    let tbs = tlv(tbs, 0x02)?.1; // serialNumber
    let tbs = tlv(tbs, SEQUENCE)?.1; // signature AlgorithmIdentifier
    let tbs = tlv(tbs, SEQUENCE)?.1; // issuer Name
    let (validity, _) = tlv(tbs, SEQUENCE)?;
    let &not_before_tag = validity.first()?;
    let rest = tlv(validity, not_before_tag)?.1;
    let &tag = rest.first()?;
    let (time, _) = tlv(rest, tag)?;
    parse_time(tag, time)
}

/// Splits `input` into the content of its first TLV, which must have tag `tag`, and what
/// follows it. DER lengths are definite; lengths of up to 4 bytes are accepted.
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// UTCTime (`YYMMDDHHMMSSZ`, tag 0x17; years 50–99 are 19xx) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`, tag 0x18), the two forms RFC 5280 allows, to Unix seconds.
pub fn parse_time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            part.iter()
                .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0')),
        )
    };
    let (year, rest) = match (tag, text.len()) {
        (0x17, 13) => {
            let yy = digits(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (0x18, 15) => (digits(0..4)?, 4),
        _ => return None,
    };
    if text.last() != Some(&b'Z') {
        return None;
    }
    let month = digits(rest..rest + 2)?;
    let day = digits(rest + 2..rest + 4)?;
    let hour = digits(rest + 4..rest + 6)?;
    let minute = digits(rest + 6..rest + 8)?;
    let second = digits(rest + 8..rest + 10)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_forms() {
        assert_eq!(parse_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(parse_time(0x17, b"231114221320Z"), Some(1_700_000_000));
        assert_eq!(parse_time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(parse_time(0x18, b"20491231235959Z"), Some(2_524_607_999));
        assert_eq!(parse_time(0x18, b"21250101000000Z"), Some(4_891_363_200));
        assert_eq!(parse_time(0x18, b"20000229120000Z"), Some(951_825_600));
    }

    #[test]
    fn malformed_times_are_none() {
        assert_eq!(parse_time(0x17, b"700101000000"), None);
        assert_eq!(parse_time(0x17, b"70010100000Z0"), None);
        assert_eq!(parse_time(0x18, b"700101000000Z"), None);
        assert_eq!(parse_time(0x17, b"701301000000Z"), None);
        assert_eq!(parse_time(0x17, b"7a0101000000Z"), None);
        assert_eq!(parse_time(0x02, b"700101000000Z"), None);
        assert_eq!(parse_time(0x17, b""), None);
    }

    #[test]
    fn truncated_or_garbage_certificates_are_none() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30]), None);
        assert_eq!(not_after(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(not_after(&[0x30, 0x80, 0x00, 0x00]), None);
        assert_eq!(not_after(&[0x30, 0x03, 0x30, 0x01, 0x02]), None);
        assert_eq!(not_after(b"-----BEGIN CERTIFICATE-----"), None);
    }

    /// A v1 certificate (no version field) whose fields are minimal but well formed.
    #[test]
    fn hand_built_v1_certificate() {
        let validity = [
            &[0x30u8, 32][..],
            &[0x17, 13],
            b"231114221320Z",
            &[0x18, 15],
            b"20491231235959Z",
        ]
        .concat();
        let tbs_content = [&[0x02u8, 1, 7][..], &[0x30, 0], &[0x30, 0], &validity].concat();
        let tbs = [&[0x30u8, tbs_content.len() as u8][..], &tbs_content].concat();
        let cert = [&[0x30u8, 0x81, tbs.len() as u8][..], &tbs].concat();
        assert_eq!(not_after(&cert), Some(2_524_607_999));
    }
}
