//! Rule annotations through the template engine, as Prometheus 2.42 expands them: the
//! cases of `testdata/templates.tsv` (from `promtool test rules`), and the real promtool
//! when it is installed.

use argus_template::{Context, Value};

/// The cases of `testdata/templates.tsv`: `(name, template, expansion)`. The expansions
/// were produced by Prometheus 2.42's `promtool test rules`.
fn promtool_cases() -> Vec<(String, String, String)> {
    include_str!("../testdata/templates.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut p = l.splitn(3, '\t');
            Some((p.next()?.into(), p.next()?.into(), p.next()?.into()))
        })
        .collect()
}

fn promtool_series_data() -> Value {
    let labels = argus_core::Labels::from_pairs([
        ("__name__", "load"),
        ("instance", "h1.example.com:9100"),
        ("job", "node"),
    ]);
    crate::rule::alert_template_data(&labels, &argus_core::Labels::default(), "", 1e6)
}

#[test]
fn annotations_expand_as_prometheus_2_42_expands_them() {
    let cases = promtool_cases();
    assert_eq!(cases.len(), 19);
    let ctx = Context::new(promtool_series_data());
    for (name, text, want) in cases {
        let got = crate::file::compile_template("HighLoad", &text)
            .map(|t| t.render(&ctx))
            .unwrap_or_else(|e| e);
        assert_eq!(got, want, "{name}: {text}");
    }
}

/// Runs the same cases through the real Prometheus (`promtool`, Debian package
/// `prometheus` 2.42) when it is installed, so the expectations above stay true to it.
#[test]
fn promtool_agrees_with_the_expected_expansions() {
    let promtool = std::path::Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        eprintln!("promtool not installed (Debian package prometheus): comparison skipped");
        return;
    }
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut rules = String::from(
        "groups:\n  - name: t\n    rules:\n      - alert: HighLoad\n        expr: load > 0\n        labels:\n          severity: '{{ if gt $value 10.0 }}page{{ end }}'\n        annotations:\n",
    );
    let mut test = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'load{instance=\"h1.example.com:9100\", job=\"node\"}'\n        values: '1000000+0x10'\n    alert_rule_test:\n      - eval_time: 2m\n        alertname: HighLoad\n        exp_alerts:\n          - exp_labels: {instance: h1.example.com:9100, job: node, severity: page}\n            exp_annotations:\n",
    );
    for (name, text, want) in promtool_cases() {
        rules.push_str(&format!("          {name}: {}\n", q(&text)));
        test.push_str(&format!("              {name}: {}\n", q(&want)));
    }
    std::fs::write(dir.path().join("rules.yml"), rules).ok();
    std::fs::write(dir.path().join("test.yml"), test).ok();
    let out = std::process::Command::new(promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output();
    let Ok(out) = out else {
        panic!("promtool did not run");
    };
    assert!(
        out.status.success(),
        "promtool disagrees:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
