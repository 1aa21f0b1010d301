//! Prometheus remote write (`POST /api/v1/write`): a snappy-compressed protobuf
//! `WriteRequest` (remote write 1.0), as Prometheus, Grafana Agent, vmagent and Telegraf
//! send it. Every series is checked by the ingest rules; the first one breaking a rule
//! refuses the body, naming it (`timeseries[i]`). A namespace token's `ns` is set on
//! every series (a series naming another `ns`: forbidden).

use super::{Refused, Rules};
use crate::store::tokens::Access;
use argus_core::TimeSeries;

/// The series of a body (already snappy-decoded and checked by nobody yet).
pub fn decode(raw: &[u8]) -> Result<Vec<TimeSeries>, Refused> {
    let req = argus_core::remote_write::decode(raw).map_err(|e| Refused::Invalid {
        at: "body".into(),
        reason: "bad_protobuf",
        message: e.to_string(),
    })?;
    Ok(argus_core::remote_write::to_series(req))
}

/// Sets the namespace and checks every series; the first broken rule is the error.
pub fn prepare(
    rules: &Rules,
    access: &Access,
    series: &mut [TimeSeries],
    now: i64,
) -> Result<(), Refused> {
    for (i, s) in series.iter_mut().enumerate() {
        if access.namespaces.is_some() {
            match s.labels.get("ns") {
                Some(other) if !access.allows_ns(other) => {
                    return Err(Refused::Forbidden(format!(
                        "timeseries[{i}]: {}",
                        access
                            .write_ns(Some(other))
                            .err()
                            .map(|d| d.0)
                            .unwrap_or_default()
                    )));
                }
                Some(_) => {}
                None => match access.single_ns() {
                    Some(own) => s.labels.set("ns", own),
                    None => {
                        return Err(Refused::Forbidden(format!(
                            "timeseries[{i}]: {}: give each series an ns label",
                            access.write_ns(None).err().map(|d| d.0).unwrap_or_default()
                        )));
                    }
                },
            }
        }
        rules
            .check_series(s, now)
            .map_err(|v| Refused::at(format!("timeseries[{i}]"), v))?;
    }
    Ok(())
}
