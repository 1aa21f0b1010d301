//! The Prometheus remote write 1.0 protocol: a snappy-compressed (block format) protobuf
//! [`proto::WriteRequest`]. The agent's `remote_write` output sends it, the server's
//! `/api/v1/write` receives it, and the server's remote storage writes it to
//! VictoriaMetrics or any other receiver; the ingest queue carries sample batches in it.

pub mod proto;

use crate::{Labels, Sample, TimeSeries};
use prost::Message as _;

/// A body that is not a remote write request.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("body is not snappy (block format): {0}")]
    Snappy(#[from] snap::Error),
    #[error("body is not a remote write protobuf message: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

/// The wire body for `req`: protobuf, then snappy.
pub fn compress(req: &proto::WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    // Compressing into a buffer of `max_compress_len` cannot fail; fall back to an empty
    // body if the library ever says otherwise.
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// Reads a wire body back.
pub fn decode(body: &[u8]) -> Result<proto::WriteRequest, DecodeError> {
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    Ok(proto::WriteRequest::decode(&raw[..])?)
}

/// The request for `series` (labels as they are: the caller validated them).
pub fn from_series(series: &[TimeSeries]) -> proto::WriteRequest {
    proto::WriteRequest {
        timeseries: series
            .iter()
            .map(|s| proto::TimeSeries {
                labels: s
                    .labels
                    .iter()
                    .map(|l| proto::Label {
                        name: l.name.clone(),
                        value: l.value.clone(),
                    })
                    .collect(),
                samples: s
                    .samples
                    .iter()
                    .map(|x| proto::Sample {
                        value: x.value,
                        timestamp: x.ts,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The series of a request, labels sorted. No validation: see the server's ingest rules.
pub fn to_series(req: proto::WriteRequest) -> Vec<TimeSeries> {
    req.timeseries
        .into_iter()
        .map(|t| TimeSeries {
            labels: Labels::from_pairs(t.labels.into_iter().map(|l| (l.name, l.value))),
            samples: t
                .samples
                .into_iter()
                .map(|s| Sample {
                    ts: s.timestamp,
                    value: s.value,
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_survive_the_round_trip() {
        let series = vec![TimeSeries {
            labels: Labels::from_pairs([("__name__", "up"), ("job", "x")]),
            samples: vec![Sample { ts: 5, value: 1.5 }, Sample { ts: 6, value: -2.0 }],
        }];
        let body = compress(&from_series(&series));
        let back = to_series(decode(&body).expect("decode"));
        assert_eq!(back, series);
        assert!(matches!(decode(b"not snappy"), Err(DecodeError::Snappy(_))));
    }
}
