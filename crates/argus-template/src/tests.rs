//! Template tests. The expected strings and error messages are Prometheus 2.42's own
//! (`template/template_test.go`, built with Go 1.19), so a difference here is a
//! difference a rule author would see.

use super::*;

fn render(text: &str, data: Value) -> Result<String, TemplateError> {
    Template::parse_named("test", text)?.execute(&Context::new(data))
}

fn ok(text: &str, data: Value) -> String {
    render(text, data).unwrap_or_else(|e| format!("ERR {e}"))
}

fn list_f(v: &[f64]) -> Value {
    Value::List(v.iter().map(|&f| Value::Float(f)).collect())
}

fn list_s(v: &[&str]) -> Value {
    Value::List(v.iter().map(|&s| s.into()).collect())
}

fn list_i(v: &[i64]) -> Value {
    Value::List(v.iter().map(|&i| Value::Int(i)).collect())
}

#[test]
fn prometheus_expansion_cases() {
    let nil = Value::Nil;
    assert_eq!(ok("plain text", nil.clone()), "plain text");
    assert_eq!(ok("{{ 1 }}", nil.clone()), "1");
    assert_eq!(ok("{{ \"<b>\" }}", nil.clone()), "<b>");
    assert_eq!(
        ok(
            "{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}",
            nil.clone()
        ),
        "1 2"
    );
    assert_eq!(ok("{{ .Foo }}", nil.clone()), "<no value>");
    assert_eq!(
        ok("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", nil.clone()),
        "xa"
    );
    let h = "{{ range . }}{{ humanize . }}:{{ end }}";
    assert_eq!(
        ok(h, list_f(&[0.0, 1.0, 1234567.0, 0.12])),
        "0:1:1.235M:120m:"
    );
    assert_eq!(
        ok(h, list_s(&["0.0", "1.0", "1234567.0", ".12"])),
        "0:1:1.235M:120m:"
    );
    assert_eq!(
        ok(h, list_i(&[0, -1, 1, 1234567, i64::MAX])),
        "0:-1:1:1.235M:9.223E:"
    );
    let h = "{{ range . }}{{ humanize1024 . }}:{{ end }}";
    assert_eq!(
        ok(h, list_s(&["0.0", "1.0", "1048576.0", ".12"])),
        "0:1:1Mi:0.12:"
    );
    assert_eq!(
        ok(h, list_i(&[0, -1, 1, 1234567, i64::MAX])),
        "0:-1:1:1.177Mi:8Ei:"
    );
    let h = "{{ range . }}{{ humanizeDuration . }}:{{ end }}";
    assert_eq!(
        ok(
            h,
            list_s(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"])
        ),
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"
    );
    assert_eq!(
        ok(h, list_i(&[0, -1, 1, 1234567])),
        "0s:-1s:1s:14d 6h 56m 7s:"
    );
    assert_eq!(
        ok(
            "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
            list_s(&["+Inf", "-Inf", "NaN"])
        ),
        "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:"
    );
    assert_eq!(
        ok(
            "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
            nil.clone()
        ),
        "-22.22%:0%:12.35%:123.5%"
    );
    assert_eq!(
        ok(
            "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
            list_i(&[0, -1, 1, 1234567, i64::MAX])
        ),
        "0%:-100%:100%:1.235e+08%:9.223e+20%:"
    );
    assert_eq!(
        ok(
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            list_i(&[0, -1, 1, 1234567, 9223372036])
        ),
        "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"
    );
    assert_eq!(
        ok("{{ 1435065584.128 | humanizeTimestamp }}", nil.clone()),
        "2015-06-23 13:19:44.128 +0000 UTC"
    );
    assert_eq!(ok("{{ \"aa bb CC\" | title }}", nil.clone()), "Aa Bb CC");
    assert_eq!(ok("{{ \"aa bb CC\" | toUpper }}", nil.clone()), "AA BB CC");
    assert_eq!(ok("{{ \"aA bB CC\" | toLower }}", nil.clone()), "aa bb cc");
    assert_eq!(
        ok(
            "{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}",
            nil.clone()
        ),
        "true false"
    );
    assert_eq!(
        ok("{{ graphLink \"up\" }}", nil.clone()),
        "/graph?g0.expr=up&g0.tab=0"
    );
    assert_eq!(
        ok("{{ tableLink \"up\" }}", nil.clone()),
        "/graph?g0.expr=up&g0.tab=1"
    );
    assert_eq!(
        ok(
            "{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}",
            nil.clone()
        ),
        "3720.01"
    );
    assert_eq!(
        ok("{{ \"foo.example.com:12345\" | stripDomain }}", nil.clone()),
        "foo:12345"
    );
    assert_eq!(
        ok("{{ \"[2001:0DB8::1]:12345\" | stripPort }}", nil),
        "2001:0DB8::1"
    );
}

#[test]
fn prometheus_error_messages() {
    let e = |t: &str, d: Value| {
        render(t, d)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        e("{{\u{a0}}}", Value::Nil),
        "template: test:1: unrecognized character in action: U+00A0"
    );
    assert_eq!(e("{{", Value::Nil), "template: test:1: unclosed action");
    assert_eq!(
        e("{{ humanize \"one\" }}", Value::Nil),
        r#"template: test:1:3: executing "test" at <humanize "one">: error calling humanize: strconv.ParseFloat: parsing "one": invalid syntax"#
    );
    assert_eq!(
        e("{{ \"one\" | humanizePercentage }}", Value::Nil),
        r#"template: test:1:11: executing "test" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing "one": invalid syntax"#
    );
    assert_eq!(
        e(
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            Value::List(vec![Value::Int(i64::MIN)])
        ),
        r#"template: test:1:16: executing "test" at <humanizeTimestamp .>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64"#
    );
    assert_eq!(
        e("{{ foo }}", Value::Nil),
        r#"template: test:1: function "foo" not defined"#
    );
    assert_eq!(
        e("{{ $x }}", Value::Nil),
        r#"template: test:1: undefined variable "$x""#
    );
    assert_eq!(
        e("a\n{{ if 1 }}b", Value::Nil),
        "template: test:2: unexpected EOF"
    );
    assert_eq!(
        e("{{ end }}", Value::Nil),
        "template: test:1: unexpected {{end}}"
    );
    assert_eq!(
        e("{{ if gt 1.5 80 }}x{{ end }}", Value::Nil),
        r#"template: test:1:6: executing "test" at <gt 1.5 80>: error calling gt: incompatible types for comparison"#
    );
    assert_eq!(
        e("{{ title 80 }}", Value::Nil),
        r#"template: test:1:9: executing "test" at <80>: expected string; found 80"#
    );
    assert_eq!(
        e("{{ humanize }}", Value::Nil),
        r#"template: test:1:3: executing "test" at <humanize>: wrong number of args for humanize: want 1 got 0"#
    );
}

/// Prometheus's alert template data: `$labels`, `$value`, `$externalLabels`.
fn alert_data(labels: &[(&str, &str)], value: f64) -> Value {
    Value::structure(
        "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }",
        vec![
            ("Labels", Value::str_map(labels.iter().copied())),
            ("ExternalLabels", Value::str_map([("dc", "eu1")])),
            ("ExternalURL", "http://prom:9090".into()),
            ("Value", Value::Float(value)),
        ],
    )
}

const DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

fn rule_render(text: &str, labels: &[(&str, &str)], value: f64) -> String {
    match Template::parse_named("__alert_X", &format!("{DEFS}{text}")) {
        Ok(t) => t.render(&Context::new(alert_data(labels, value))),
        Err(e) => format!("PARSE {e}"),
    }
}

#[test]
fn rule_style_templates() {
    let l = [
        ("__name__", "node_load1"),
        ("instance", "h1:9100"),
        ("job", "node"),
    ];
    assert_eq!(
        rule_render("{{ $labels.instance }} load {{ $value }}", &l, 1e6),
        "h1:9100 load 1e+06"
    );
    assert_eq!(
        rule_render("{{ .Labels.job }}/{{ .Value }}", &l, 2.5),
        "node/2.5"
    );
    assert_eq!(rule_render("[{{ $labels.missing }}]", &l, 1.0), "[]");
    assert_eq!(rule_render("{{ $externalLabels.dc }}", &l, 1.0), "eu1");
    assert_eq!(
        rule_render("{{ $value | humanize }}", &l, 1234567.0),
        "1.235M"
    );
    assert_eq!(
        rule_render("{{ printf \"%.2f\" $value }}", &l, 0.12345),
        "0.12"
    );
    assert_eq!(
        rule_render(
            "{{ if gt $value 80.0 }}high{{ else if gt $value 50.0 }}mid{{ else }}low{{ end }}",
            &l,
            60.0
        ),
        "mid"
    );
    assert_eq!(
        rule_render(
            "{{ if and (eq $labels.job \"node\") (not (eq $labels.job \"x\")) }}y{{ end }}",
            &l,
            0.0
        ),
        "y"
    );
    assert_eq!(
        rule_render("{{ if or false \"\" }}a{{ else }}b{{ end }}", &l, 0.0),
        "b"
    );
    assert_eq!(
        rule_render(
            "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
            &l,
            0.0
        ),
        "__name__=node_load1;instance=h1:9100;job=node;"
    );
    assert_eq!(
        rule_render("{{ $labels.instance | stripPort | toUpper }}", &l, 0.0),
        "H1"
    );
    assert_eq!(
        rule_render("{{- \" a \" -}} b {{- \"c\" }}", &l, 0.0),
        " a bc"
    );
    assert_eq!(rule_render("{{/* note */}}x", &l, 0.0), "x");
    assert_eq!(
        rule_render("{{ with $labels.job }}job={{ . }}{{ end }}", &l, 0.0),
        "job=node"
    );
    assert_eq!(
        rule_render("{{ len $labels }} {{ index $labels \"job\" }}", &l, 0.0),
        "3 node"
    );
    assert_eq!(
        rule_render(
            "{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}",
            &l,
            0.0
        ),
        "h1"
    );
    // Go compares a float64 with an int constant as an error; Prometheus shows it so.
    assert_eq!(
        rule_render("{{ if gt $value 80 }}x{{ end }}", &l, 90.0),
        "<error expanding template: error executing template __alert_X: template: __alert_X:1:118: executing \"__alert_X\" at <gt $value 80>: error calling gt: incompatible types for comparison>"
    );
    assert_eq!(
        rule_render("{{ .Foo }}", &l, 0.0),
        "<error expanding template: error executing template __alert_X: template: __alert_X:1:115: executing \"__alert_X\" at <.Foo>: can't evaluate field Foo in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }>"
    );
    assert_eq!(
        rule_render("{{ $labels.job | nope }}", &l, 0.0),
        "PARSE template: __alert_X:1: function \"nope\" not defined"
    );
}

#[test]
fn json_data_for_notification_templates() {
    let data = Value::from_json(&serde_json::json!({
        "status": "firing",
        "alerts": [{"labels": {"host": "a"}, "v": 3}, {"labels": {"host": "b"}, "v": 4.5}],
    }));
    assert_eq!(
        ok(
            "{{ .status }}:{{ range .alerts }} {{ .labels.host }}={{ .v }}{{ end }} {{ len .alerts }}",
            data.clone()
        ),
        "firing: a=3 b=4.5 2"
    );
    assert_eq!(
        ok(
            "{{ range $i, $a := .alerts }}{{ $i }}{{ end }}",
            data.clone()
        ),
        "01"
    );
    assert_eq!(ok("{{ .nothing }}", data), "<no value>");
}

#[test]
fn query_function_uses_the_callers_query() {
    type Rows = Vec<(BTreeMap<String, String>, f64)>;
    let q = |expr: &str| -> Result<Rows, String> {
        assert_eq!(expr, "up");
        Ok(vec![
            (
                BTreeMap::from([("instance".to_string(), "b".to_string())]),
                21.0,
            ),
            (
                BTreeMap::from([("instance".to_string(), "a".to_string())]),
                11.0,
            ),
        ])
    };
    let ctx = Context {
        data: Value::Nil,
        external_url: "http://testhost:9090/path/prefix",
        query: Some(&q),
    };
    let t = |s: &str| {
        Template::parse_named("test", s)
            .map(|t| t.render(&ctx))
            .unwrap_or_default()
    };
    assert_eq!(
        t(
            "{{ range query \"up\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}"
        ),
        "a:11: b:21: "
    );
    assert_eq!(t("{{ query \"up\" | first | value }}"), "21");
    assert_eq!(t("{{ query \"up\" | first | label \"instance\" }}"), "b");
    assert_eq!(
        t("{{ pathPrefix }} {{ externalURL }}"),
        "/path/prefix http://testhost:9090/path/prefix"
    );
}
