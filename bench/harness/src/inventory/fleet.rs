//! The **fleet**: the hosts the benchmark pretends to be, host `i` of `n` always the same —
//! its heartbeat facts and where it is placed (location, groups, labels) — so that what
//! each filter should match is known before the server is asked.

use serde_json::{Value, json};

/// Locations the hosts are spread over (`dc-0` … `dc-19`).
pub const LOCATIONS: usize = 20;
/// Groups other than the two roles: 48 project groups (`grp-00` … `grp-47`) + `web` and
/// `db` = 50 groups.
pub const PROJECT_GROUPS: usize = 48;
const TEAMS: [&str; 4] = ["a", "b", "c", "d"];

/// `host-00042`: five digits at least, so that a name search for `host-0004` matches
/// `host-00040` … `host-00049`.
pub fn hostname(i: usize) -> String {
    format!("host-{i:05}")
}

/// The `facts` object of host `i`'s heartbeat, rendered once per host before timing.
pub fn facts_json(i: usize) -> String {
    json!({
        "hostname": hostname(i),
        "machine_id": format!("m-{i:05}"),
        "ips": [format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)],
        "os": "Debian GNU/Linux 12",
        "kernel": "6.1.0",
        "arch": "x86_64",
        "cpus": 4,
        "memory_bytes": 8_589_934_592_u64,
        "agent_version": "0.1.0",
    })
    .to_string()
}

/// A heartbeat as the agent sends it (`POST /api/argus/heartbeat`), sent at `ts_ms`.
pub fn heartbeat_body(facts: &str, ts_ms: i64) -> String {
    format!(
        r#"{{"facts":{facts},"ts":{ts_ms},"interval_secs":10,"uptime_secs":100,"buffer_bytes":0,"plugins":[],"config":{{"etag":null,"error":null}}}}"#
    )
}

/// Where host `i` is placed: what `PATCH /api/argus/hosts/{id}` sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub location: String,
    /// A role (`web` or `db`, alternating every 20 hosts so that it is independent of the
    /// location) and a project group.
    pub groups: [String; 2],
    /// `team`, `env` and `rack`.
    pub labels: [(&'static str, String); 3],
}

pub fn placement(i: usize) -> Placement {
    let role = if (i / LOCATIONS).is_multiple_of(2) {
        "web"
    } else {
        "db"
    };
    Placement {
        location: format!("dc-{}", i % LOCATIONS),
        groups: [
            role.to_string(),
            format!("grp-{:02}", (i / (2 * LOCATIONS)) % PROJECT_GROUPS),
        ],
        labels: [
            ("team", TEAMS[(i / 100) % TEAMS.len()].to_string()),
            (
                "env",
                if i % 10 < 7 { "prod" } else { "staging" }.to_string(),
            ),
            ("rack", format!("r-{:02}", i % 40)),
        ],
    }
}

impl Placement {
    /// The body of the `PATCH`.
    pub fn to_json(&self) -> Value {
        let labels: serde_json::Map<String, Value> = self
            .labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::from(v.as_str())))
            .collect();
        json!({ "location": self.location, "groups": self.groups, "labels": labels })
    }

    fn has_label(&self, key: &str, value: &str) -> bool {
        self.labels.iter().any(|(k, v)| *k == key && v == value)
    }
}

/// One timed request of the list API: its name in the report, its query string, and which
/// hosts it should count (`None`: not known in advance, as `status=down`, which depends on
/// how long ago each host was heard from).
pub struct ListQuery {
    pub name: &'static str,
    pub query: &'static str,
    pub matches: Option<fn(usize, &Placement) -> bool>,
}

/// The requests whose latency is measured, in the report's order. Every one names its page
/// size: the server's default may change, and the measurement should not.
pub const QUERIES: [ListQuery; 7] = [
    ListQuery {
        name: "list",
        query: "limit=100&page=1&sort=hostname",
        matches: Some(|_, _| true),
    },
    ListQuery {
        name: "location",
        query: "location=dc-3&limit=100",
        matches: Some(|_, p| p.location == "dc-3"),
    },
    ListQuery {
        name: "group",
        query: "group=web&limit=100",
        matches: Some(|_, p| p.groups.iter().any(|g| g == "web")),
    },
    ListQuery {
        name: "label",
        query: "label=team:a&limit=100",
        matches: Some(|_, p| p.has_label("team", "a")),
    },
    ListQuery {
        name: "status",
        query: "status=down&limit=100",
        matches: None,
    },
    ListQuery {
        name: "search",
        query: "q=host-0004&limit=100",
        matches: Some(|i, _| hostname(i).contains("host-0004")),
    },
    ListQuery {
        name: "combined",
        query: "location=dc-3&group=web&sort=-last_seen&page=3&limit=100",
        matches: Some(|_, p| p.location == "dc-3" && p.groups.iter().any(|g| g == "web")),
    },
];

impl ListQuery {
    /// How many of `hosts` hosts the query should count (`total`), if known.
    pub fn expected(&self, hosts: usize) -> Option<u64> {
        let f = self.matches?;
        Some((0..hosts).filter(|&i| f(i, &placement(i))).count() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_is_the_agents_json() {
        let body = heartbeat_body(&facts_json(42), 1_700_000_000_000);
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["facts"]["hostname"], "host-00042");
        assert_eq!(v["facts"]["machine_id"], "m-00042");
        assert_eq!(v["facts"]["ips"][0], "10.0.0.42");
        assert_eq!(v["facts"]["memory_bytes"], 8_589_934_592_u64);
        assert_eq!(v["ts"], 1_700_000_000_000_i64);
        assert_eq!(v["interval_secs"], 10);
        assert_eq!(v["config"]["etag"], Value::Null);
        assert_eq!(v["plugins"], json!([]));
    }

    #[test]
    fn placements_use_20_locations_and_50_groups() {
        let all: Vec<Placement> = (0..10_000).map(placement).collect();
        let locations: std::collections::BTreeSet<&str> =
            all.iter().map(|p| p.location.as_str()).collect();
        let groups: std::collections::BTreeSet<&str> = all
            .iter()
            .flat_map(|p| p.groups.iter().map(String::as_str))
            .collect();
        assert_eq!(locations.len(), 20);
        assert_eq!(groups.len(), 50);
        assert_eq!(
            placement(3).to_json(),
            json!({"location": "dc-3", "groups": ["web", "grp-00"],
                   "labels": {"team": "a", "env": "prod", "rack": "r-03"}})
        );
    }

    #[test]
    fn expected_totals_for_ten_thousand_hosts() {
        let totals: Vec<Option<u64>> = QUERIES.iter().map(|q| q.expected(10_000)).collect();
        assert_eq!(
            totals,
            [
                Some(10_000),
                Some(500),
                Some(5_000),
                Some(2_500),
                None,
                Some(10),
                // Page 3 of 100 holds hosts: the query reads past an offset.
                Some(250),
            ]
        );
    }
}
