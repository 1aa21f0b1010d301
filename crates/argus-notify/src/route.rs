//! The routing tree (Alertmanager's `dispatch/route.go`).
//!
//! A [`Route`] is a node of the tree with its options resolved: receiver, `group_by` and
//! the three timings are inherited from the parent when not set; `mute_time_intervals`
//! and `active_time_intervals` are not. [`Route::match_alert`] walks the tree
//! depth-first: a node matches if all its matchers do; among its children the first
//! match ends the scan unless that child has `continue: true`; a matching node none of
//! whose children match is itself the result. The route's **key** (`{}/{a="b"}`) is the
//! first half of the group key that receivers see.

use std::collections::BTreeSet;

use jiff::SignedDuration;

use crate::{
    config::RouteConfig,
    labels::{LabelSet, go_label_set_string},
    matcher::Matchers,
};

/// How alerts of a route are grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// By these labels (none: one group for the whole route).
    Labels(BTreeSet<String>),
    /// By every label (`group_by: ['...']`): one group per alert.
    All,
}

/// A route's resolved options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOpts {
    /// Receiver name.
    pub receiver: String,
    /// Grouping.
    pub group_by: GroupBy,
    /// Wait before a new group's first notification.
    pub group_wait: SignedDuration,
    /// Wait between a group's notifications.
    pub group_interval: SignedDuration,
    /// Wait before an unchanged notification is sent again.
    pub repeat_interval: SignedDuration,
    /// Named intervals during which the route sends nothing.
    pub mute_time_intervals: Vec<String>,
    /// Named intervals outside which the route sends nothing (empty: always active).
    pub active_time_intervals: Vec<String>,
}

impl Default for RouteOpts {
    /// Alertmanager's `DefaultRouteOpts`: group_wait 30s, group_interval 5m,
    /// repeat_interval 4h, no grouping labels.
    fn default() -> Self {
        RouteOpts {
            receiver: String::new(),
            group_by: GroupBy::Labels(BTreeSet::new()),
            group_wait: SignedDuration::from_secs(30),
            group_interval: SignedDuration::from_mins(5),
            repeat_interval: SignedDuration::from_hours(4),
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

/// A node of the resolved routing tree.
#[derive(Debug, Clone)]
pub struct Route {
    /// Depth-first index of the node, 0 for the root: identifies the route even when two
    /// siblings have the same matchers (and so the same key).
    pub id: usize,
    /// Resolved options.
    pub opts: RouteOpts,
    /// Matchers, sorted.
    pub matchers: Matchers,
    /// Whether siblings after this one are tried too.
    pub continue_: bool,
    /// Children.
    pub routes: Vec<Route>,
    key: String,
}

impl Route {
    /// Resolves a configured tree (Alertmanager's `NewRoute`).
    pub fn new(cfg: &RouteConfig) -> Route {
        let mut next_id = 0;
        Route::build(cfg, None, &mut next_id)
    }

    fn build(cfg: &RouteConfig, parent: Option<(&RouteOpts, &str)>, next_id: &mut usize) -> Route {
        let mut opts = parent.map_or_else(RouteOpts::default, |(o, _)| o.clone());
        if !cfg.receiver.is_empty() {
            opts.receiver.clone_from(&cfg.receiver);
        }
        // As in Alertmanager, only named labels replace the parent's grouping; `['...']`
        // turns on grouping by all; an empty list inherits.
        let named: BTreeSet<String> = cfg
            .group_by
            .iter()
            .filter(|l| *l != "...")
            .cloned()
            .collect();
        if !named.is_empty() {
            opts.group_by = GroupBy::Labels(named);
        } else if cfg.group_by.iter().any(|l| l == "...") {
            opts.group_by = GroupBy::All;
        }
        if let Some(d) = cfg.group_wait {
            opts.group_wait = d;
        }
        if let Some(d) = cfg.group_interval {
            opts.group_interval = d;
        }
        if let Some(d) = cfg.repeat_interval {
            opts.repeat_interval = d;
        }
        opts.mute_time_intervals
            .clone_from(&cfg.mute_time_intervals);
        opts.active_time_intervals
            .clone_from(&cfg.active_time_intervals);
        let matchers = cfg.all_matchers();
        let key = match parent {
            Some((_, parent_key)) => format!("{parent_key}/{matchers}"),
            None => matchers.to_string(),
        };
        let id = *next_id;
        *next_id += 1;
        let routes = cfg
            .routes
            .iter()
            .map(|c| Route::build(c, Some((&opts, &key)), next_id))
            .collect();
        Route {
            id,
            opts,
            matchers,
            continue_: cfg.continue_,
            routes,
            key,
        }
    }

    /// The routes an alert with these labels goes to, in tree order.
    pub fn match_alert(&self, labels: &LabelSet) -> Vec<&Route> {
        if !self.matchers.matches(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let matches = child.match_alert(labels);
            let matched = !matches.is_empty();
            all.extend(matches);
            if matched && !child.continue_ {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// The route key: every node's sorted matchers from the root, joined by `/`
    /// (`{}/{severity="page"}`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The labels of an alert that name its group on this route.
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match &self.opts.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => labels
                .iter()
                .filter(|(n, _)| names.contains(*n))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect(),
        }
    }

    /// The group key receivers see: `<route key>:<group labels>`, the labels in Go's
    /// `LabelSet.String()` form (`{}/{a="b"}:{alertname="X", job="y"}`).
    pub fn group_key(&self, group_labels: &LabelSet) -> String {
        format!("{}:{}", self.key, go_label_set_string(group_labels))
    }

    /// Every node, depth-first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for c in &self.routes {
            out.extend(c.walk());
        }
        out
    }

    /// The node with this id.
    pub fn find(&self, id: usize) -> Option<&Route> {
        if self.id == id {
            return Some(self);
        }
        self.routes.iter().find_map(|c| c.find(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Config, labels::label_set};

    const TREE: &str = r#"
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: [severity="page"]
      receiver: pager
      group_wait: 10s
      continue: true
      routes:
        - matchers: [team=db]
          receiver: db
          group_by: ['...']
          mute_time_intervals: [night]
    - matchers: [severity=~"page|critical"]
      receiver: critical
      repeat_interval: 1h
      group_by: []
    - match: {team: web}
      receiver: web
      group_by: [team, instance]
time_intervals:
  - name: night
    time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]
receivers: [{name: default}, {name: pager}, {name: db}, {name: critical}, {name: web}]
"#;

    fn tree() -> Route {
        let cfg = Config::load(TREE, "t.yml").unwrap_or_else(|e| panic!("{e}"));
        Route::new(&cfg.route)
    }

    fn receivers(r: &Route, labels: &[(&str, &str)]) -> Vec<String> {
        r.match_alert(&label_set(labels.iter().copied()))
            .iter()
            .map(|r| r.opts.receiver.clone())
            .collect()
    }

    #[test]
    fn depth_first_with_continue() {
        let r = tree();
        // page → pager's child db matches (continue on pager lets `critical` match too).
        assert_eq!(
            receivers(&r, &[("severity", "page"), ("team", "db")]),
            vec!["db", "critical"]
        );
        // pager has no matching child, so pager itself; continue → critical.
        assert_eq!(
            receivers(&r, &[("severity", "page")]),
            vec!["pager", "critical"]
        );
        // critical matches and stops the scan before `web`.
        assert_eq!(
            receivers(&r, &[("severity", "critical"), ("team", "web")]),
            vec!["critical"]
        );
        assert_eq!(receivers(&r, &[("team", "web")]), vec!["web"]);
        // Nothing matches below the root: the root itself.
        assert_eq!(receivers(&r, &[("severity", "info")]), vec!["default"]);
    }

    #[test]
    fn options_are_inherited_except_time_intervals() {
        let r = tree();
        let pager = &r.routes[0];
        let db = &pager.routes[0];
        assert_eq!(pager.opts.group_wait, SignedDuration::from_secs(10));
        assert_eq!(db.opts.group_wait, SignedDuration::from_secs(10));
        assert_eq!(db.opts.group_interval, SignedDuration::from_mins(5));
        assert_eq!(db.opts.repeat_interval, SignedDuration::from_hours(4));
        assert_eq!(db.opts.group_by, GroupBy::All);
        assert_eq!(db.opts.mute_time_intervals, vec!["night"]);
        // `group_by: []` inherits the parent's grouping, as in Alertmanager.
        let critical = &r.routes[1];
        assert_eq!(
            critical.opts.group_by,
            GroupBy::Labels(["alertname".to_owned()].into())
        );
        assert_eq!(critical.opts.repeat_interval, SignedDuration::from_hours(1));
        assert!(critical.opts.mute_time_intervals.is_empty());
        assert_eq!(
            r.walk().iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert_eq!(r.find(2).map(|n| n.opts.receiver.as_str()), Some("db"));
    }

    #[test]
    fn keys_and_group_keys_as_alertmanager_prints_them() {
        let r = tree();
        assert_eq!(r.key(), "{}");
        assert_eq!(
            r.routes[0].routes[0].key(),
            r#"{}/{severity="page"}/{team="db"}"#
        );
        assert_eq!(r.routes[1].key(), r#"{}/{severity=~"page|critical"}"#);
        let web = &r.routes[2];
        let alert = label_set([
            ("team", "web"),
            ("instance", "h:9100"),
            ("alertname", "Down"),
        ]);
        let gl = web.group_labels(&alert);
        assert_eq!(gl, label_set([("team", "web"), ("instance", "h:9100")]));
        assert_eq!(
            web.group_key(&gl),
            r#"{}/{team="web"}:{instance="h:9100", team="web"}"#
        );
        assert_eq!(
            r.group_key(&r.group_labels(&alert)),
            r#"{}:{alertname="Down"}"#
        );
    }
}
