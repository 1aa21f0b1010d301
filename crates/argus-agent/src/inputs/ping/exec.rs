//! The fallback: running the system's `ping` and reading its summary.
//!
//! The `ping` binary is setuid or has `cap_net_raw` on most systems, so it works where
//! the agent may open no ICMP socket. Its summary has the same shape in iputils, BusyBox
//! and the BSDs:
//!
//! ```text
//! 3 packets transmitted, 3 received, 0% packet loss, time 2003ms
//! rtt min/avg/max/mdev = 0.035/0.042/0.050/0.006 ms
//! ```
//!
//! (BusyBox writes `3 packets received` and `round-trip min/avg/max = …`.)

use std::process::Command;
use std::time::Duration;

/// What the summary says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub transmitted: u64,
    pub received: u64,
    pub loss_percent: f64,
    /// Minimum, average, maximum and, when given, standard deviation, in ms.
    pub rtt_ms: Option<[f64; 3]>,
    pub stddev_ms: Option<f64>,
}

/// Why `ping` gave no summary.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    #[error("running {binary}: {reason}")]
    Spawn { binary: String, reason: String },
    #[error("{binary} could not resolve the host: {output}")]
    UnknownHost { binary: String, output: String },
    #[error("{binary} gave no summary: {output}")]
    NoSummary { binary: String, output: String },
}

/// Runs `binary -n -c <count> -i <interval> -W <timeout> -w <deadline> <host>`.
pub fn run(
    binary: &str,
    host: &str,
    count: u16,
    interval: Duration,
    timeout: Duration,
) -> Result<Summary, ExecError> {
    let timeout_secs = timeout.as_secs_f64().ceil().max(1.0);
    let deadline = (interval.as_secs_f64() * f64::from(count) + timeout_secs).ceil();
    let output = Command::new(binary)
        .args(["-n", "-c", &count.to_string()])
        .args(["-i", &format!("{:.3}", interval.as_secs_f64())])
        .args(["-W", &format!("{timeout_secs}")])
        .args(["-w", &format!("{deadline}")])
        .arg(host)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| ExecError::Spawn {
            binary: binary.to_string(),
            reason: e.to_string(),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if let Some(summary) = parse(&stdout) {
        return Ok(summary);
    }
    let text = format!("{} {}", stdout.trim(), stderr.trim());
    let text = text.trim().chars().take(200).collect::<String>();
    let lower = text.to_ascii_lowercase();
    let unknown = [
        "unknown host",
        "not known",
        "cannot resolve",
        "bad address",
        "temporary failure in name resolution",
    ];
    if unknown.iter().any(|u| lower.contains(u)) {
        Err(ExecError::UnknownHost {
            binary: binary.to_string(),
            output: text,
        })
    } else {
        Err(ExecError::NoSummary {
            binary: binary.to_string(),
            output: text,
        })
    }
}

/// Reads the summary lines of `ping`'s output; `None` without a "packets transmitted"
/// line.
pub fn parse(output: &str) -> Option<Summary> {
    let counts = output.lines().find(|l| l.contains("packets transmitted"))?;
    let mut summary = Summary::default();
    for part in counts.split(',') {
        let part = part.trim();
        let number = part.split_whitespace().next().unwrap_or("");
        if part.ends_with("packets transmitted") {
            summary.transmitted = number.parse().ok()?;
        } else if part.ends_with("received") {
            summary.received = number.parse().ok()?;
        } else if part.ends_with("packet loss") {
            summary.loss_percent = number.trim_end_matches('%').parse().ok()?;
        }
    }
    if let Some(rtt) = output.lines().find(|l| l.contains("min/avg/max")) {
        let values = rtt.split('=').nth(1)?.trim();
        let values = values.split_whitespace().next()?;
        let numbers: Vec<f64> = values.split('/').filter_map(|v| v.parse().ok()).collect();
        if numbers.len() >= 3 {
            summary.rtt_ms = Some([numbers[0], numbers[1], numbers[2]]);
            summary.stddev_ms = numbers.get(3).copied();
        }
    }
    Some(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iputils_summary() {
        let out = "PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\n\
                   64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.035 ms\n\n\
                   --- 127.0.0.1 ping statistics ---\n\
                   3 packets transmitted, 2 received, 33.3333% packet loss, time 2003ms\n\
                   rtt min/avg/max/mdev = 0.035/0.042/0.050/0.006 ms\n";
        assert_eq!(
            parse(out),
            Some(Summary {
                transmitted: 3,
                received: 2,
                loss_percent: 33.3333,
                rtt_ms: Some([0.035, 0.042, 0.05]),
                stddev_ms: Some(0.006),
            })
        );
    }

    #[test]
    fn busybox_summary() {
        let out = "--- 10.0.0.1 ping statistics ---\n\
                   4 packets transmitted, 4 packets received, 0% packet loss\n\
                   round-trip min/avg/max = 0.059/0.083/0.102 ms\n";
        assert_eq!(
            parse(out),
            Some(Summary {
                transmitted: 4,
                received: 4,
                loss_percent: 0.0,
                rtt_ms: Some([0.059, 0.083, 0.102]),
                stddev_ms: None,
            })
        );
    }

    #[test]
    fn no_reply_has_no_times_and_garbage_has_no_summary() {
        let out = "3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n";
        assert_eq!(
            parse(out),
            Some(Summary {
                transmitted: 3,
                loss_percent: 100.0,
                ..Summary::default()
            })
        );
        assert_eq!(parse("ping: x.invalid: Name or service not known\n"), None);
        assert_eq!(parse("x packets transmitted, y received\n"), None);
    }
}
