//! The Prometheus remote write 1.0 messages, written by hand with `prost`'s derive (no
//! `protoc`), from `prompb/remote.proto` and `prompb/types.proto`:
//!
//! ```proto
//! message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; /* metadata = 3 */ }
//! message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; /* exemplars = 3, histograms = 4 */ }
//! message Label        { string name = 1; string value = 2; }
//! message Sample       { double value = 1; int64 timestamp = 2; /* milliseconds */ }
//! ```
//!
//! Only the fields Argus writes are declared; a decoder skips the others, as protobuf
//! decoders do.

/// One request: series with their samples.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// A series' labels (sorted by name, `__name__` among them) and samples (in time order).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn encodes_the_wire_format_prometheus_expects() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "a".into(),
                    value: "b".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 2,
                }],
            }],
        };
        let bytes = req.encode_to_vec();
        // Hand-assembled from the .proto: field 1 (timeseries, length-delimited) holding
        // field 1 (label: 0a 01 'a', 12 01 'b') and field 2 (sample: double 1.0, varint 2).
        let expected: Vec<u8> = [
            &[0x0a, 0x15][..],
            &[0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b'],
            &[0x12, 0x0b, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x02],
        ]
        .concat();
        assert_eq!(bytes, expected);
        assert_eq!(WriteRequest::decode(&bytes[..]).expect("decode"), req);
    }
}
