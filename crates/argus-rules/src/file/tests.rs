use super::*;

const GOOD: &str = r#"groups:
  - name: node
    interval: 30s
    limit: 10
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels:
          team: infra
      - alert: HighLoad
        expr: node_load1 > 2
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: '{{ if gt $value 4.0 }}page{{ else }}ticket{{ end }}'
        annotations:
          summary: "{{ $labels.instance }} load {{ $value | humanize }}"
  - name: other
    rules:
      - alert: Down
        expr: up == 0
"#;

fn errs(text: &str) -> Vec<String> {
    match parse_rule_file("rules/a.yml", text) {
        Ok(_) => vec![],
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn reads_a_prometheus_rule_file() {
    let g = parse_rule_file("rules/a.yml", GOOD).unwrap_or_default();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].file, "rules/a.yml");
    assert_eq!(g[0].name, "node");
    assert_eq!(g[0].interval, Some(PromDuration(30_000)));
    assert_eq!(g[0].limit, 10);
    assert_eq!(g[0].rules[0].kind, RuleKind::Recording);
    assert_eq!(g[0].rules[0].name, "job:up:sum");
    assert_eq!(
        g[0].rules[0].labels.get("team").map(String::as_str),
        Some("infra")
    );
    let a = &g[0].rules[1];
    assert_eq!(a.kind, RuleKind::Alerting);
    assert_eq!(a.hold, PromDuration(300_000));
    assert_eq!(a.keep_firing_for, PromDuration(60_000));
    assert_eq!(a.annotations.len(), 1);
    assert_eq!(g[1].interval, None);
    assert_eq!(g[1].limit, 0);
    assert_eq!(parse_rule_file("x", "# nothing\n"), Ok(vec![]));
}

#[test]
fn yaml_errors_name_line_column_and_field() {
    assert_eq!(
        errs(
            "groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n        fo: 5m\n"
        ),
        vec![
            "rules/a.yml:6:9: groups[0].rules[0]: unknown field `fo`, expected one of `record`, `alert`, `expr`, `for`, `keep_firing_for`, `labels`, `annotations`"
        ]
    );
    assert_eq!(
        errs(
            "groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n        for: 5x\n"
        ),
        vec!["rules/a.yml:6:14: groups[0].rules[0].for: not a valid duration string: \"5x\""]
    );
    let bad = errs("groups:\n  - name: a\n   rules: [\n");
    assert_eq!(bad.len(), 1);
    assert!(bad[0].starts_with("rules/a.yml:3:"), "{bad:?}");
}

#[test]
fn validation_reports_every_problem_with_position() {
    let text = r#"groups:
  - name: a
    rules:
      - alert: Both
        record: both
        expr: up
      - expr: up
      - alert: BadExpr
        expr: rate(up[5m]
      - alert: BadTemplate
        expr: up
        annotations:
          summary: "{{ $labels.x | nope }}"
      - record: bad name
        expr: up
        for: 1m
  - name: a
    rules: []
"#;
    assert_eq!(
        errs(text),
        vec![
            "rules/a.yml:4:16: groups[0].rules[0].alert: group \"a\", rule 1, \"Both\": only one of 'record' and 'alert' must be set".to_string(),
            "rules/a.yml:7:9: groups[0].rules[1]: group \"a\", rule 2, \"\": one of 'record' or 'alert' must be set".into(),
            format!(
                "rules/a.yml:9:15: groups[0].rules[2].expr: group \"a\", rule 3, \"BadExpr\": could not parse expression: {}",
                argus_promql::Engine::check_syntax("rate(up[5m]").err().map(|e| e.to_string()).unwrap_or_default()
            ),
            "rules/a.yml:13:11: groups[0].rules[3].annotations: group \"a\", rule 4, \"BadTemplate\": annotation \"summary\": template: __alert_BadTemplate:1: function \"nope\" not defined".into(),
            "rules/a.yml:14:17: groups[0].rules[4].record: group \"a\", rule 5, \"bad name\": invalid field 'for' in recording rule".into(),
            "rules/a.yml:14:17: groups[0].rules[4].record: group \"a\", rule 5, \"bad name\": invalid recording rule name: bad name".into(),
            "rules/a.yml:17:11: groups[1].name: groupname: \"a\" is repeated in the same file".into(),
        ]
    );
}

#[test]
fn loader_globs_relative_to_the_base_dir_and_collects_all_errors() {
    let dir = tempfile::tempdir().ok();
    let Some(dir) = dir else { return };
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).ok();
    std::fs::write(rules.join("a.yml"), GOOD).ok();
    std::fs::write(
        rules.join("b.yml"),
        "groups:\n  - name: b\n    rules:\n      - alert: Y\n        expr: up\n",
    )
    .ok();
    std::fs::write(rules.join("c.txt"), "not yaml: [").ok();
    let got = load_rule_files(&["rules/*.yml".to_string()], dir.path()).unwrap_or_default();
    let names: Vec<(String, String)> = got
        .iter()
        .map(|g| {
            (
                g.file
                    .trim_start_matches(&*dir.path().to_string_lossy())
                    .to_string(),
                g.name.clone(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("/rules/a.yml".to_string(), "node".to_string()),
            ("/rules/a.yml".into(), "other".into()),
            ("/rules/b.yml".into(), "b".into())
        ]
    );
    std::fs::write(
        rules.join("d.yml"),
        "groups:\n  - name: d\n    rules:\n      - alert: Z\n        expr: up ==\n",
    )
    .ok();
    std::fs::write(rules.join("e.yml"), "groups: 5\n").ok();
    let e = load_rule_files(&["rules/*.yml".to_string()], dir.path())
        .err()
        .unwrap_or_default();
    assert_eq!(e.len(), 2);
    assert!(
        e[0].file.ends_with("rules/d.yml")
            && e[0].line == Some(5)
            && e[0].field == "groups[0].rules[0].expr",
        "{e:?}"
    );
    assert!(
        e[1].file.ends_with("rules/e.yml") && e[1].line == Some(1),
        "{e:?}"
    );
}
