//! The functions a template may call: Go's built-ins and Prometheus's template functions
//! (`template/template.go`), with Go's results and messages.
//!
//! A function's **signature** says how many arguments it takes and which must be strings,
//! because Go checks argument types before the call and rule authors see those messages
//! (`expected string; found 80`). The function bodies then do their own conversions
//! (`humanize` accepts numbers and numeric strings, as Prometheus's `convertToFloat`).

use super::Context;
use super::value::{Struct, Value};
use crate::gofmt::{fmt_e, fmt_f, fmt_g, fmt_v, quote, time_string};
use std::sync::Arc;

/// A parameter's type as far as Go's pre-call check goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Param {
    Any,
    Str,
}

pub(crate) struct Signature {
    pub fixed: &'static [Param],
    pub variadic: Option<Param>,
}

use Param::{Any, Str};

const NAMES: &[&str] = &[
    // Go built-ins.
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "html",
    "urlquery",
    // Prometheus.
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "pathPrefix",
    "externalURL",
    "parseDuration",
];

/// Go's built-in functions: the first names of [`NAMES`].
const BUILTINS: usize = 16;

/// Alertmanager 0.25's functions (`template.DefaultFuncs`), besides Go's built-ins.
const ALERTMANAGER: &[&str] = &[
    "toUpper",
    "toLower",
    "title",
    "join",
    "match",
    "safeHtml",
    "reReplaceAll",
    "stringSlice",
];

/// Whether `name` is a function Prometheus's rule templates may call.
pub(crate) fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Whether `name` is a function Alertmanager's notification templates may call.
pub(crate) fn exists_alertmanager(name: &str) -> bool {
    NAMES[..BUILTINS].contains(&name) || ALERTMANAGER.contains(&name)
}

pub(crate) fn signature(name: &str) -> Signature {
    let (fixed, variadic): (&'static [Param], Option<Param>) = match name {
        "and" | "or" | "eq" | "index" => (&[Any], Some(Any)),
        "ne" | "lt" | "le" | "gt" | "ge" => (&[Any, Any], None),
        "not" | "len" => (&[Any], None),
        "print" | "println" | "html" | "urlquery" | "args" => (&[], Some(Any)),
        "printf" => (&[Str], Some(Any)),
        "query" | "safeHtml" | "title" | "toUpper" | "toLower" | "graphLink" | "tableLink"
        | "stripPort" | "stripDomain" | "parseDuration" => (&[Str], None),
        "reReplaceAll" => (&[Str, Str, Str], None),
        "match" => (&[Str, Str], None),
        "join" => (&[Str, Any], None),
        "stringSlice" => (&[], Some(Str)),
        "label" | "sortByLabel" => (&[Str, Any], None),
        "pathPrefix" | "externalURL" => (&[], None),
        _ => (&[Any], None),
    };
    Signature { fixed, variadic }
}

fn s(v: &Value) -> &str {
    match v {
        Value::String(s) => s,
        _ => "",
    }
}

/// Calls `name`; the error is the function's own message (the executor adds
/// `error calling NAME: `).
/// `alertmanager`: the template runs with Alertmanager's functions, whose `title` is
/// `cases.Title` (the rest of each word lower-cased) where Prometheus's is `strings.Title`.
pub(crate) fn call(
    name: &str,
    a: Vec<Value>,
    ctx: &Context<'_>,
    alertmanager: bool,
) -> Result<Value, String> {
    let arg = |i: usize| a.get(i).cloned().unwrap_or(Value::Nil);
    Ok(match name {
        "not" => Value::Bool(!arg(0).truth()),
        "eq" => Value::Bool(eq(&a)?),
        "ne" => Value::Bool(!eq(&a)?),
        "lt" => Value::Bool(lt(&arg(0), &arg(1))?),
        "le" => Value::Bool(lt(&arg(0), &arg(1))? || eq(&a)?),
        "gt" => Value::Bool(!(lt(&arg(0), &arg(1))? || eq(&a)?)),
        "ge" => Value::Bool(!lt(&arg(0), &arg(1))?),
        "len" => Value::Int(match &arg(0) {
            Value::String(s) | Value::Html(s) => s.len(),
            Value::List(l) | Value::Alerts(l) => l.len(),
            Value::Pairs(p) => p.len(),
            Value::Map(m) => m.len(),
            Value::StrMap(m) | Value::Kv(m) => m.len(),
            other => return Err(format!("len of type {}", other.type_name())),
        } as i64),
        "index" => index(&a)?,
        "print" => Value::String(sprint(&a)),
        "println" => {
            let parts: Vec<String> = a.iter().map(Value::go_string).collect();
            Value::String(parts.join(" ") + "\n")
        }
        "printf" => Value::String(sprintf(s(&arg(0)), &a[1..])),
        "html" => Value::String(html_escape(&sprint(&a))),
        "urlquery" => Value::String(crate::gofmt::query_escape(&sprint(&a))),
        "query" => {
            let Some(q) = ctx.query else {
                return Err("the query function is not available here".into());
            };
            Value::List(
                q(s(&arg(0)))?
                    .into_iter()
                    .map(|(labels, v)| sample(labels, v))
                    .collect(),
            )
        }
        "first" => match arg(0) {
            Value::List(l) => match l.into_iter().next() {
                Some(v) => v,
                None => return Err("first() called on vector with no elements".into()),
            },
            other => {
                return Err(format!(
                    "wrong type for value; expected template.queryResult; got {}",
                    other.type_name()
                ));
            }
        },
        "label" => sample_field(&arg(1), "Labels")
            .map(|l| match l {
                Value::StrMap(m) => Value::String(m.get(s(&arg(0))).cloned().unwrap_or_default()),
                _ => Value::String(String::new()),
            })
            .unwrap_or(Value::String(String::new())),
        "value" => sample_field(&arg(0), "Value").unwrap_or(Value::Float(0.0)),
        "strvalue" => sample_field(&arg(0), "Labels")
            .map(|l| match l {
                Value::StrMap(m) => Value::String(m.get("__value__").cloned().unwrap_or_default()),
                _ => Value::String(String::new()),
            })
            .unwrap_or(Value::String(String::new())),
        "sortByLabel" => match arg(1) {
            Value::List(mut l) => {
                let key = |v: &Value| match sample_field(v, "Labels") {
                    Some(Value::StrMap(m)) => m.get(s(&arg(0))).cloned().unwrap_or_default(),
                    _ => String::new(),
                };
                l.sort_by_key(key);
                Value::List(l)
            }
            other => other,
        },
        "args" => Value::Map(
            a.iter()
                .enumerate()
                .map(|(i, v)| (format!("arg{i}"), v.clone()))
                .collect(),
        ),
        "reReplaceAll" => {
            let re = regex::Regex::new(s(&arg(0)))
                .map_err(|e| format!("regexp: Compile({}): {e}", quote(s(&arg(0)))))?;
            Value::String(re.replace_all(s(&arg(2)), s(&arg(1))).into_owned())
        }
        "match" => {
            let re =
                regex::Regex::new(s(&arg(0))).map_err(|e| format!("error parsing regexp: {e}"))?;
            Value::Bool(re.is_match(s(&arg(1))))
        }
        "safeHtml" => Value::Html(s(&arg(0)).to_string()),
        "join" => match arg(1) {
            Value::List(l) => {
                let mut parts = Vec::with_capacity(l.len());
                for v in l {
                    match v {
                        Value::String(v) => parts.push(v),
                        other => {
                            return Err(format!(
                                "wrong type for value; expected string; got {}",
                                other.type_name()
                            ));
                        }
                    }
                }
                Value::String(parts.join(s(&arg(0))))
            }
            other => {
                return Err(format!(
                    "wrong type for value; expected []string; got {}",
                    other.type_name()
                ));
            }
        },
        "stringSlice" => Value::List(a.clone()),
        "title" if alertmanager => Value::String(cases_title(s(&arg(0)))),
        "title" => Value::String(title(s(&arg(0)))),
        "toUpper" => Value::String(map_chars(s(&arg(0)), true)),
        "toLower" => Value::String(map_chars(s(&arg(0)), false)),
        "graphLink" => Value::String(format!(
            "/graph?g0.expr={}&g0.tab=0",
            crate::gofmt::query_escape(s(&arg(0)))
        )),
        "tableLink" => Value::String(format!(
            "/graph?g0.expr={}&g0.tab=1",
            crate::gofmt::query_escape(s(&arg(0)))
        )),
        "stripPort" => Value::String(strip_port(s(&arg(0)))),
        "stripDomain" => Value::String(strip_domain(s(&arg(0)))),
        "humanize" => Value::String(humanize(to_float(&arg(0))?)),
        "humanize1024" => Value::String(humanize1024(to_float(&arg(0))?)),
        "humanizeDuration" => Value::String(humanize_duration(to_float(&arg(0))?)),
        "humanizePercentage" => {
            Value::String(format!("{}%", fmt_g(to_float(&arg(0))? * 100.0, Some(4))))
        }
        "humanizeTimestamp" => Value::String(humanize_timestamp(to_float(&arg(0))?)?),
        "pathPrefix" => Value::String(url_path(ctx.external_url).to_string()),
        "externalURL" => Value::String(ctx.external_url.to_string()),
        "parseDuration" => {
            let d = crate::duration::PromDuration::parse(s(&arg(0)))?;
            Value::Float(d.seconds())
        }
        other => return Err(format!("{} is not a defined function", quote(other))),
    })
}

/// A query result element as Prometheus's templates see it (`*template.sample`).
fn sample(labels: std::collections::BTreeMap<String, String>, v: f64) -> Value {
    Value::Struct(Arc::new(Struct {
        name: "*template.sample".into(),
        fields: vec![
            ("Labels".into(), Value::StrMap(labels)),
            ("Value".into(), Value::Float(v)),
        ],
    }))
}

fn sample_field(v: &Value, name: &str) -> Option<Value> {
    match v {
        Value::Struct(s) => s
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone()),
        _ => None,
    }
}

/// The path of a URL (`http://host:9090/prefix` → `/prefix`).
fn url_path(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    match after_scheme.find('/') {
        Some(i) => {
            let p = &after_scheme[i..];
            p.split(['?', '#']).next().unwrap_or(p)
        }
        None => "",
    }
}

/// Go's comparison kinds; other types cannot be compared.
#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
}

fn kind(v: &Value) -> Option<Kind> {
    match v {
        Value::Bool(_) => Some(Kind::Bool),
        Value::Int(_) => Some(Kind::Int),
        Value::Float(_) => Some(Kind::Float),
        Value::String(_) | Value::Html(_) => Some(Kind::Str),
        _ => None,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

/// Go's `eq arg1 arg2...`: true if `arg1` equals any of the others. Values of different
/// kinds are an error (a float64 is not compared with an int), nil equals only nil.
fn eq(a: &[Value]) -> Result<bool, String> {
    let Some(first) = a.first() else {
        return Err("missing argument for comparison".into());
    };
    if a.len() < 2 {
        return Err("missing argument for comparison".into());
    }
    if kind(first).is_none() && *first != Value::Nil {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    for b in &a[1..] {
        if *first == Value::Nil || *b == Value::Nil {
            if *first == *b {
                return Ok(true);
            }
            continue;
        }
        let (Some(k1), Some(k2)) = (kind(first), kind(b)) else {
            return Err(BAD_COMPARISON_TYPE.into());
        };
        if k1 != k2 {
            return Err(BAD_COMPARISON.into());
        }
        let equal = match (first, b) {
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::String(x) | Value::Html(x), Value::String(y) | Value::Html(y)) => x == y,
            _ => false,
        };
        if equal {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`: numbers and strings of the same kind only.
fn lt(x: &Value, y: &Value) -> Result<bool, String> {
    let (Some(k1), Some(k2)) = (kind(x), kind(y)) else {
        return Err(BAD_COMPARISON_TYPE.into());
    };
    if k1 != k2 {
        return Err(BAD_COMPARISON.into());
    }
    Ok(match (x, y) {
        (Value::Int(a), Value::Int(b)) => a < b,
        (Value::Float(a), Value::Float(b)) => a < b,
        (Value::String(a), Value::String(b)) => a < b,
        _ => return Err(BAD_COMPARISON_TYPE.into()),
    })
}

fn index(a: &[Value]) -> Result<Value, String> {
    let mut item = a.first().cloned().unwrap_or(Value::Nil);
    if item == Value::Nil {
        return Err("index of untyped nil".into());
    }
    for ix in &a[1..] {
        if let Some(l) = item.as_list().filter(|_| !matches!(item, Value::List(_))) {
            item = Value::List(l);
        }
        item = match (&item, ix) {
            (Value::List(l), Value::Int(i)) => {
                match usize::try_from(*i).ok().and_then(|i| l.get(i)) {
                    Some(v) => v.clone(),
                    None => return Err(format!("index out of range: {i}")),
                }
            }
            (Value::String(st), Value::Int(i)) => {
                match usize::try_from(*i).ok().and_then(|i| st.as_bytes().get(i)) {
                    Some(b) => Value::Int(i64::from(*b)),
                    None => return Err(format!("index out of range: {i}")),
                }
            }
            (Value::Map(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Nil),
            (Value::StrMap(m) | Value::Kv(m), Value::String(k)) => {
                Value::String(m.get(k).cloned().unwrap_or_default())
            }
            (Value::List(_) | Value::String(_), other) => {
                return Err(format!(
                    "cannot index slice/array with type {}",
                    other.type_name()
                ));
            }
            (Value::Map(_) | Value::StrMap(_) | Value::Kv(_), other) => {
                return Err(format!(
                    "value has type {}; should be string",
                    other.type_name()
                ));
            }
            (other, _) => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

/// Go's `fmt.Sprint`: a space between two operands when neither is a string.
fn sprint(a: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in a.iter().enumerate() {
        let is_str = matches!(v, Value::String(_) | Value::Html(_));
        if i > 0 && !is_str && !matches!(a[i - 1], Value::String(_) | Value::Html(_)) {
            out.push(' ');
        }
        out.push_str(&v.go_string());
    }
    out
}

/// html/template's escaping of text in an HTML element (`htmlEscaper`): also `+`,
/// which Go writes as `&#43;`.
pub(crate) fn html_template_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '+' => out.push_str("&#43;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %f %F %e %E %g %G %x %X %q
/// %t %c %%`, flags `+ - # 0 space`, width and precision. A verb that does not fit its
/// argument prints as Go does (`%!d(float64=1.5)`), as do missing and extra arguments.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut plus = false;
        let mut minus = false;
        let mut zero = false;
        let mut space = false;
        let mut sharp = false;
        while let Some(&f) = chars.peek() {
            match f {
                '+' => plus = true,
                '-' => minus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => sharp = true,
                _ => break,
            }
            chars.next();
        }
        let mut width: Option<usize> = None;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            chars.next();
        }
        let mut prec: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            prec = Some(0);
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                prec = Some(prec.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        let bad = || format!("%!{verb}({}={})", arg.type_name(), arg.go_string());
        let sign = |body: String, neg: bool| -> String {
            if neg {
                body
            } else if plus {
                format!("+{body}")
            } else if space {
                format!(" {body}")
            } else {
                body
            }
        };
        let mut numeric = true;
        let body = match (verb, arg) {
            (_, Value::Nil) if verb != 'v' => format!("%!{verb}(<nil>)"),
            ('v', Value::Float(f)) => sign(
                match prec {
                    Some(p) => fmt_g(*f, Some(p)),
                    None => fmt_v(*f),
                },
                f.is_sign_negative(),
            ),
            ('v', Value::Int(i)) => sign(i.to_string(), *i < 0),
            ('v', Value::String(st)) => {
                numeric = false;
                truncate(st, prec)
            }
            ('v', Value::Nil) => {
                numeric = false;
                "<nil>".into()
            }
            ('v', other) => {
                numeric = false;
                other.go_string()
            }
            ('s', Value::String(st)) => {
                numeric = false;
                truncate(st, prec)
            }
            ('s', Value::List(_) | Value::Map(_) | Value::StrMap(_) | Value::Struct(_)) => {
                numeric = false;
                arg.go_string()
            }
            ('q', Value::String(st)) => {
                numeric = false;
                if sharp && !st.contains('`') {
                    format!("`{st}`")
                } else {
                    quote(st)
                }
            }
            ('t', Value::Bool(b)) => {
                numeric = false;
                b.to_string()
            }
            ('d', Value::Int(i)) => sign(i.to_string(), *i < 0),
            ('c', Value::Int(i)) => {
                numeric = false;
                char::from_u32(*i as u32).unwrap_or('\u{FFFD}').to_string()
            }
            ('q', Value::Int(i)) => {
                numeric = false;
                format!("'{}'", char::from_u32(*i as u32).unwrap_or('\u{FFFD}'))
            }
            ('x', Value::Int(i)) => sign(hex(*i, false, sharp), *i < 0),
            ('X', Value::Int(i)) => sign(hex(*i, true, sharp), *i < 0),
            ('x', Value::String(st)) => {
                numeric = false;
                st.bytes().map(|b| format!("{b:02x}")).collect()
            }
            ('X', Value::String(st)) => {
                numeric = false;
                st.bytes().map(|b| format!("{b:02X}")).collect()
            }
            ('f' | 'F', Value::Float(f)) => {
                sign(fmt_f(*f, prec.unwrap_or(6)), f.is_sign_negative())
            }
            ('e', Value::Float(f)) => {
                sign(fmt_e(*f, Some(prec.unwrap_or(6))), f.is_sign_negative())
            }
            ('E', Value::Float(f)) => sign(
                fmt_e(*f, Some(prec.unwrap_or(6))).to_uppercase(),
                f.is_sign_negative(),
            ),
            ('g', Value::Float(f)) => sign(fmt_g(*f, prec), f.is_sign_negative()),
            ('G', Value::Float(f)) => sign(fmt_g(*f, prec).to_uppercase(), f.is_sign_negative()),
            _ => {
                out.push_str(&bad());
                continue;
            }
        };
        let len = body.chars().count();
        match width {
            Some(w) if w > len => {
                let pad = w - len;
                if minus {
                    out.push_str(&body);
                    out.extend(std::iter::repeat_n(' ', pad));
                } else if zero && numeric {
                    let (sgn, digits) = match body.strip_prefix(['-', '+', ' ']) {
                        Some(d) => (&body[..1], d),
                        None => ("", body.as_str()),
                    };
                    out.push_str(sgn);
                    out.extend(std::iter::repeat_n('0', pad));
                    out.push_str(digits);
                } else {
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(&body);
                }
            }
            _ => out.push_str(&body),
        }
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), a.go_string()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn truncate(s: &str, prec: Option<usize>) -> String {
    match prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    }
}

fn hex(i: i64, upper: bool, sharp: bool) -> String {
    let mag = i.unsigned_abs();
    let digits = if upper {
        format!("{mag:X}")
    } else {
        format!("{mag:x}")
    };
    let prefix = match (sharp, upper) {
        (false, _) => "",
        (true, false) => "0x",
        (true, true) => "0X",
    };
    format!("{}{prefix}{digits}", if i < 0 { "-" } else { "" })
}

/// Prometheus's `convertToFloat`: floats, ints and numeric strings.
fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::String(st) => parse_go_float(st)
            .ok_or_else(|| format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(st))),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

/// Go's `strconv.ParseFloat` for decimal input: also `Inf`, `+Inf`, `infinity`, `NaN` in
/// any case; not Rust-only spellings.
fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return (body.len() == s.len()).then_some(f64::NAN);
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || b"._eE+-".contains(&b))
    {
        return None;
    }
    s.replace('_', "").parse().ok()
}

fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4));
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", fmt_g(v, Some(4)))
}

fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4));
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", fmt_g(v, Some(4)))
}

fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return fmt_g(v, Some(4));
    }
    if v == 0.0 {
        return format!("{}s", fmt_g(v, Some(4)));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let d = v as i64;
        let (secs, mins, hours, days) = (d % 60, d / 60 % 60, d / 3600 % 24, d / 86_400);
        if days != 0 {
            return format!("{sign}{days}d {hours}h {mins}m {secs}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {mins}m {secs}s");
        }
        if mins != 0 {
            return format!("{sign}{mins}m {secs}s");
        }
        return format!("{sign}{}s", fmt_g(v, Some(4)));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", fmt_g(v, Some(4)))
}

/// Seconds to Go's `time.Time.String()` in UTC, at millisecond precision as Prometheus
/// goes through `model.Time`.
fn humanize_timestamp(v: f64) -> Result<String, String> {
    if v.is_nan() || v.is_infinite() {
        return Ok(fmt_g(v, Some(4)));
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            fmt_v(v)
        ));
    }
    let ms = (ns as i64) / 1_000_000;
    Ok(time_string(ms.saturating_mul(1_000_000)))
}

/// Go's `strings.Title`: the first letter of every word in title case; words are
/// separated by anything but letters, digits, `_` and non-space non-ASCII characters.
/// golang.org/x/text's `cases.Title` (Alertmanager's `title`): each word's first letter
/// upper-cased and the rest lower-cased; an apostrophe inside a word does not start
/// another (`o'neil` → `O'neil`).
fn cases_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if c.is_alphanumeric() || (in_word && c == '\'') {
            if in_word {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            in_word = true;
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => out.push(u),
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        };
    }
    out
}

/// Go's `strings.ToUpper`/`ToLower`: character by character, keeping a character whose
/// case mapping is not a single character (Go has only simple mappings).
fn map_chars(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut m: Vec<char> = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            if m.len() == 1 { m.remove(0) } else { c }
        })
        .collect()
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Option<(String, String)> {
    let i = hp.rfind(':')?;
    let (host, j, k);
    if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 == hp.len() || end + 1 != i {
            return None;
        }
        host = hp[1..end].to_string();
        j = 1;
        k = end + 1;
    } else {
        host = hp[..i].to_string();
        if host.contains(':') {
            return None;
        }
        j = 0;
        k = 0;
    }
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some((host, hp[i + 1..].to_string()))
}

fn strip_port(hp: &str) -> String {
    split_host_port(hp).map_or_else(|| hp.to_string(), |(h, _)| h)
}

fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or_else(|| (hp.to_string(), String::new()));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or("").to_string();
    if port.is_empty() {
        host
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_family_matches_prometheus() {
        let h: Vec<String> = [0.0, 1.0, 1234567.0, 0.12]
            .iter()
            .map(|&v| humanize(v))
            .collect();
        assert_eq!(h, ["0", "1", "1.235M", "120m"]);
        assert_eq!(humanize(0.001234), "1.234m");
        assert_eq!(humanize(i64::MAX as f64), "9.223E");
        assert_eq!(humanize(u64::MAX as f64), "18.45E");
        let h: Vec<String> = [0.0, 1.0, 1048576.0, 0.12, 1234567.0, i64::MAX as f64]
            .iter()
            .map(|&v| humanize1024(v))
            .collect();
        assert_eq!(h, ["0", "1", "1Mi", "0.12", "1.177Mi", "8Ei"]);
        assert_eq!(humanize1024(1024.0), "1ki");
        let d: Vec<String> = [
            0.0,
            1.0,
            60.0,
            3600.0,
            86400.0,
            86400.0 + 3600.0,
            -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0),
            899.99,
            0.1,
            0.0001,
            0.12345,
            60.1,
            60.5,
            1.2345,
            12.345,
            1234567.0,
            0.25,
            90.0,
            172801.0,
        ]
        .iter()
        .map(|&v| humanize_duration(v))
        .collect();
        assert_eq!(
            d,
            [
                "0s",
                "1s",
                "1m 0s",
                "1h 0m 0s",
                "1d 0h 0m 0s",
                "1d 1h 0m 0s",
                "-2d 3h 4m 5s",
                "14m 59s",
                "100ms",
                "100us",
                "123.5ms",
                "1m 0s",
                "1m 0s",
                "1.234s",
                "12.35s",
                "14d 6h 56m 7s",
                "250ms",
                "1m 30s",
                "2d 0h 0m 1s"
            ]
        );
        for (v, want) in [
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(humanize(v), want);
            assert_eq!(humanize1024(v), want);
            assert_eq!(humanize_duration(v), want);
            assert_eq!(humanize_timestamp(v).as_deref(), Ok(want));
        }
    }

    #[test]
    fn timestamps_and_overflow() {
        assert_eq!(
            humanize_timestamp(1435065584.128).as_deref(),
            Ok("2015-06-23 13:19:44.128 +0000 UTC")
        );
        assert_eq!(
            humanize_timestamp(-1.0).as_deref(),
            Ok("1969-12-31 23:59:59 +0000 UTC")
        );
        assert_eq!(
            humanize_timestamp(9223372036.0).as_deref(),
            Ok("2262-04-11 23:47:16 +0000 UTC")
        );
        assert_eq!(
            humanize_timestamp(i64::MIN as f64),
            Err("-9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64".into())
        );
    }

    #[test]
    fn printf_verbs() {
        let f = |fmt: &str, a: &[Value]| sprintf(fmt, a);
        assert_eq!(f("%.2f", &[Value::Float(3720.01)]), "3720.01");
        assert_eq!(f("%s=%d", &["a".into(), Value::Int(5)]), "a=5");
        assert_eq!(f("%v", &[Value::Float(1e6)]), "1e+06");
        assert_eq!(f("%f", &[Value::Float(1.5)]), "1.500000");
        assert_eq!(f("%.4g", &[Value::Float(12345.678)]), "1.235e+04");
        assert_eq!(f("%g", &[Value::Float(0.5)]), "0.5");
        assert_eq!(f("%d", &[Value::Float(1.5)]), "%!d(float64=1.5)");
        assert_eq!(f("%s", &[Value::Int(5)]), "%!s(int=5)");
        assert_eq!(f("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(f("%d", &[Value::Int(1), Value::Int(2)]), "1%!(EXTRA int=2)");
        assert_eq!(
            f(
                "%5.1f|%-4d|%04d",
                &[Value::Float(2.66), Value::Int(7), Value::Int(-7)]
            ),
            "  2.7|7   |-007"
        );
        assert_eq!(
            f("%q %x 100%%", &["a\"b".into(), Value::Int(255)]),
            "\"a\\\"b\" ff 100%"
        );
        assert_eq!(f("%e", &[Value::Float(1234.5678)]), "1.234568e+03");
    }

    #[test]
    fn host_helpers() {
        for (input, port, domain) in [
            ("foo.example.com", "foo.example.com", "foo"),
            ("foo.example.com:12345", "foo.example.com", "foo:12345"),
            ("192.0.2.1", "192.0.2.1", "192.0.2.1"),
            ("192.0.2.1:12345", "192.0.2.1", "192.0.2.1:12345"),
            ("2001:0DB8::1", "2001:0DB8::1", "2001:0DB8::1"),
            (
                "[2001:0DB8::1]:12345",
                "2001:0DB8::1",
                "[2001:0DB8::1]:12345",
            ),
            (
                "[2001:0DB8::1]::12345",
                "[2001:0DB8::1]::12345",
                "[2001:0DB8::1]::12345",
            ),
        ] {
            assert_eq!(strip_port(input), port, "{input}");
            assert_eq!(strip_domain(input), domain, "{input}");
        }
    }

    #[test]
    fn comparisons_follow_go_kinds() {
        assert_eq!(
            lt(&Value::Float(1.0), &Value::Int(2)),
            Err(BAD_COMPARISON.into())
        );
        assert_eq!(lt(&Value::Float(1.0), &Value::Float(2.0)), Ok(true));
        assert_eq!(eq(&["a".into(), "b".into(), "a".into()]), Ok(true));
        assert_eq!(eq(&[Value::Nil, Value::Nil]), Ok(true));
        assert_eq!(
            eq(&[Value::List(vec![]), Value::Int(1)]),
            Err(BAD_COMPARISON_TYPE.into())
        );
        assert_eq!(title("aa bb CC"), "Aa Bb CC");
        assert_eq!(map_chars("aa bb CC", true), "AA BB CC");
        assert_eq!(map_chars("aA bB CC", false), "aa bb cc");
    }
}
