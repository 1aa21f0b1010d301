//! Query parameters as the Prometheus API takes them (from the query string and, for POST,
//! a form body), and the parsing of its time and duration forms.

/// All parameters of a request, in order; repeated keys (`match[]`) are kept.
#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn parse(query: Option<&str>, form: Option<&[u8]>) -> Self {
        let mut out = Vec::new();
        if let Some(q) = query {
            out.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        if let Some(f) = form {
            out.extend(form_urlencoded::parse(f).into_owned());
        }
        Params(out)
    }
}

/// A time in milliseconds: Unix seconds with an optional fraction, or RFC 3339.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return Err(format!("cannot parse {s:?} to a valid timestamp"));
        }
        return Ok((f * 1000.0).round() as i64);
    }
    humantime::parse_rfc3339_weak(s)
        .map_err(|_| format!("cannot parse {s:?} to a valid timestamp"))
        .map(|t| match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_millis() as i64,
            Err(e) => -(e.duration().as_millis() as i64),
        })
}

/// A duration in milliseconds: seconds with an optional fraction, or a Prometheus duration
/// (`30s`, `5m`, `1h30m`).
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return Err(format!("cannot parse {s:?} to a valid duration"));
        }
        return Ok((f * 1000.0).round() as i64);
    }
    promql_parser::util::parse_duration(s)
        .map(|d| d.as_millis() as i64)
        .map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_forms() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn durations_in_both_forms() {
        assert_eq!(parse_duration_ms("15"), Ok(15_000));
        assert_eq!(parse_duration_ms("0.5"), Ok(500));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert!(parse_duration_ms("fast").is_err());
    }

    #[test]
    fn repeated_keys_are_kept() {
        let p = Params::parse(Some("match[]=a&match[]=b&start=1"), Some(b"end=2"));
        assert_eq!(p.all("match[]").collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(p.get("end"), Some("2"));
    }
}
