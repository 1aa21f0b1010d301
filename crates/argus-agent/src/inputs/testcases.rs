//! The fixture test runner every input shares (test builds only).
//!
//! A **case** is a folder `inputs/<name>/testdata/<case>/` holding fixture files laid out
//! like the real ones (`proc/stat`, `proc/meminfo`, …), an optional `config.json` (the
//! input's `Config`; missing keys keep their defaults) and `expected.out`: the points the
//! input must produce, in line protocol, timestamped [`NOW_MS`]. A case may also hold a
//! **first reading**, `before/`, laid out like the case itself (`before/proc/stat`): its
//! files replace the case's for a gather one interval ([`ROUND_MS`]) earlier, so that
//! `expected.out` is what an input reports once it has read twice, with time elapsed
//! between the readings. Run with `ARGUS_BLESS=1` to rewrite `expected.out` from the
//! current output (then review the diff).
//!
//! [`check_first_gathers`] is the registry-wide test of what an input reports before it
//! has two readings (issue 14: a restarted agent reported `cpu_usage_idle` 0 on every core
//! and paged someone).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use argus_core::line_protocol::{FieldValue, Line};
use serde::de::DeserializeOwned;

use crate::input::Input;

/// The `now_ms` every case gathers at.
pub const NOW_MS: i64 = 1_700_000_000_000;

/// How long before [`NOW_MS`] a case's first reading (`before/`) is gathered: one interval.
pub const ROUND_MS: i64 = 10_000;

/// Runs every case under `inputs/<input>/testdata/`. `make` builds the input for one case
/// from its config and its folder (to point `procfs_root` and friends into the fixture).
pub fn run<C, F>(input: &str, make: F)
where
    C: DeserializeOwned + Default,
    F: Fn(C, &Path) -> anyhow::Result<Box<dyn Input>>,
{
    run_live(input, &Live::default(), make);
}

/// How the cases of an input that talks to the network differ from run to run: the
/// servers the test started (on 127.0.0.1, at ports the kernel chose). Values that vary
/// by nature (timings) are written `name=*` in `expected.out`, which matches any value;
/// after blessing, put the `*` back by hand.
#[derive(Default)]
pub struct Live<'a> {
    /// `{name}` placeholders in `config.json` and `expected.out` and their values in this
    /// run, e.g. `("{port}", port)`. `{case}` always stands for the case's folder.
    pub vars: &'a [(&'a str, String)],
}

/// [`run`] for inputs that talk to servers the test started; see [`Live`].
pub fn run_live<C, F>(input: &str, live: &Live<'_>, make: F)
where
    C: DeserializeOwned + Default,
    F: Fn(C, &Path) -> anyhow::Result<Box<dyn Input>>,
{
    let dir = input_dir(input).join("testdata");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("read_dir entry").path())
        .filter(|path| path.join("expected.out").exists())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases under {}", dir.display());

    let bless = std::env::var_os("ARGUS_BLESS").is_some();
    let mut failures = Vec::new();
    for path in &cases {
        let case = Case::open(path, live);
        let mut built = case.build(&make);
        if case.has_first_reading() {
            gather(&mut *built, NOW_MS - ROUND_MS, path);
            case.second_reading();
        }
        let got = render(&gather(&mut *built, NOW_MS, path));
        let expected = case.expected();
        if !same_points(&got, &expected) {
            if bless {
                let blessed = case
                    .vars
                    .iter()
                    .rev()
                    .fold(got, |text, (k, v)| text.replace(v.as_str(), k));
                std::fs::write(path.join("expected.out"), blessed).expect("bless");
            } else {
                failures.push(format!(
                    "case {}\n--- expected\n{}\n--- got\n{}",
                    path.display(),
                    expected.trim_end(),
                    got.trim_end()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The registry-wide test of one input's first gathers, on its case `case` (see [`run`]):
///
/// - an input started on the case's first reading (`before/`, or the case's own files
///   when it has none) reports none of the `two_reading` series (values computed from two
///   readings: rates, shares of counter deltas) at its first gather, and its second
///   gather, one interval later on the case's files, gives exactly `expected.out`, those
///   series included;
/// - an input started on the first reading whose first gather sees the case's files (time
///   passed between its start and its first round, as when the scheduler's first tick
///   comes moments after the start) reports `expected.out` without the `two_reading`
///   series, and nothing else: every other value is there from the first gather, with the
///   value the case's files give and not one that depends on an earlier reading.
///
/// `two_reading` names series as `<measurement>_<field>`; each must appear in
/// `expected.out`, so that its value after two readings is checked too. `make` is the
/// input's fixture builder, as for [`run_live`].
pub fn check_first_gathers<C, F>(
    input: &str,
    case: &str,
    live: &Live<'_>,
    two_reading: &[&str],
    make: F,
) where
    C: DeserializeOwned + Default,
    F: Fn(C, &Path) -> anyhow::Result<Box<dyn Input>>,
{
    let path = input_dir(input).join("testdata").join(case);
    let case = Case::open(&path, live);
    let expected = case.expected();
    let documented = series(&expected);
    for name in two_reading {
        assert!(
            documented.iter().any(|s| s == name),
            "{input}: {name} needs two readings but case {case} does not show it",
            case = path.display()
        );
    }
    let reported = |lines: &[Line<'_>], when: &str| {
        let text = render(lines);
        let early: Vec<String> = series(&text)
            .into_iter()
            .filter(|s| two_reading.contains(&s.as_str()))
            .collect();
        assert!(
            early.is_empty(),
            "{input}: {when} reports {early:?}, which need two readings:\n{text}"
        );
        text
    };

    // Both inputs start on the first reading; `twice` gathers it at once, `once` only
    // gathers the second reading, an interval after its start.
    let mut twice = case.build(&make);
    let mut once = case.build(&make);
    let first = gather(&mut *twice, NOW_MS - ROUND_MS, &path);
    reported(&first, "the first gather");
    case.second_reading();

    let second = render(&gather(&mut *twice, NOW_MS, &path));
    assert!(
        same_points(&second, &expected),
        "{input}: the second gather, one interval after the first\n--- expected\n{}\n--- got\n{}",
        expected.trim_end(),
        second.trim_end()
    );
    let complete = without_series(&expected, two_reading);
    let late_first = gather(&mut *once, NOW_MS, &path);
    let got = reported(
        &late_first,
        "the first gather, an interval after the start,",
    );
    assert!(
        same_points(&got, &complete),
        "{input}: the first gather, an interval after the start\n--- expected\n{}\n--- got\n{}",
        complete.trim_end(),
        got.trim_end()
    );
}

/// A case as one test reads it: its folder (or, when it has a first reading, a copy of
/// it that starts as the first reading), and its placeholders.
struct Case<'a> {
    /// The case's own folder under `testdata/`.
    source: PathBuf,
    /// The copy inputs read from, while the case has a first reading.
    copy: Option<tempfile::TempDir>,
    vars: Vec<(&'a str, String)>,
}

impl<'a> Case<'a> {
    fn open(source: &Path, live: &Live<'a>) -> Case<'a> {
        let before = source.join("before");
        let copy = before.is_dir().then(|| {
            let copy = tempfile::tempdir().expect("tempdir");
            let own = files_under(source).into_iter();
            copy_files(
                source,
                copy.path(),
                own.filter(|f| !f.starts_with("before")),
            );
            copy_files(&before, copy.path(), files_under(&before));
            copy
        });
        let dir = copy.as_ref().map_or(source, |c| c.path());
        let mut vars = vec![("{case}", dir.display().to_string())];
        vars.extend(live.vars.iter().map(|(k, v)| (*k, v.clone())));
        Case {
            source: source.to_path_buf(),
            copy,
            vars,
        }
    }

    /// The folder the input reads.
    fn dir(&self) -> &Path {
        self.copy.as_ref().map_or(&self.source, |c| c.path())
    }

    fn has_first_reading(&self) -> bool {
        self.copy.is_some()
    }

    /// Turns the copy from the first reading into the case's own files: each file of
    /// `before/` is rewritten with the case's (in place, as the kernel rewrites a proc
    /// file) or removed when the case has none (a device that went away).
    fn second_reading(&self) {
        let Some(copy) = &self.copy else { return };
        for relative in files_under(&self.source.join("before")) {
            let (theirs, ours) = (self.source.join(&relative), copy.path().join(&relative));
            if theirs.exists() {
                std::fs::copy(&theirs, &ours).expect("copy the second reading");
            } else {
                std::fs::remove_file(&ours).expect("remove");
            }
        }
    }

    fn fill(&self, text: &str) -> String {
        self.vars
            .iter()
            .fold(text.to_string(), |text, (k, v)| text.replace(k, v))
    }

    fn config<C: DeserializeOwned + Default>(&self) -> C {
        let path = self.source.join("config.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&self.fill(&text))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            Err(_) => C::default(),
        }
    }

    fn build<C, F>(&self, make: &F) -> Box<dyn Input>
    where
        C: DeserializeOwned + Default,
        F: Fn(C, &Path) -> anyhow::Result<Box<dyn Input>>,
    {
        make(self.config(), self.dir())
            .unwrap_or_else(|e| panic!("{}: {e:#}", self.source.display()))
    }

    fn expected(&self) -> String {
        let path = self.source.join("expected.out");
        self.fill(&std::fs::read_to_string(&path).expect("expected.out"))
    }
}

/// One gather of `input` at `now_ms`, which must succeed.
fn gather(input: &mut dyn Input, now_ms: i64, case: &Path) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    input
        .gather(now_ms, &mut out)
        .unwrap_or_else(|e| panic!("{}: {e:#}", case.display()));
    out
}

/// Copies `files` (paths relative to `from`) to the same places under `to`.
fn copy_files(from: &Path, to: &Path, files: impl IntoIterator<Item = PathBuf>) {
    for relative in files {
        let target = to.join(&relative);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from.join(&relative), target).expect("copy");
    }
}

/// The files under `dir`, as paths relative to it, in no particular order.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let entries = std::fs::read_dir(dir.join(&relative))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(&relative).display()));
        for entry in entries {
            let entry = entry.expect("read_dir entry");
            let path = relative.join(entry.file_name());
            if entry.file_type().expect("file type").is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The series (`<measurement>_<field>`) of rendered points, in order, without repeats.
fn series(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let parts = split_unescaped(line, ' ');
        let measurement = &split_unescaped(&parts[0], ',')[0];
        for field in split_unescaped(&parts[1], ',') {
            let name = format!("{measurement}_{}", split_unescaped(&field, '=')[0]);
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Rendered points without the fields of the series `drop`, and without the points that
/// then have no field left.
fn without_series(text: &str, drop: &[&str]) -> String {
    if drop.is_empty() {
        return text.to_string();
    }
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let parts = split_unescaped(line, ' ');
        let measurement = &split_unescaped(&parts[0], ',')[0];
        let kept: Vec<String> = split_unescaped(&parts[1], ',')
            .into_iter()
            .filter(|field| {
                let name = format!("{measurement}_{}", split_unescaped(field, '=')[0]);
                !drop.contains(&name.as_str())
            })
            .collect();
        if kept.is_empty() {
            continue;
        }
        let mut rest = parts[2..].to_vec();
        rest.insert(0, kept.join(","));
        rest.insert(0, parts[0].clone());
        out.push_str(&rest.join(" "));
        out.push('\n');
    }
    out
}

/// Whether rendered points equal `expected` line by line, where a field written `name=*`
/// in `expected` matches any value of that field.
fn same_points(got: &str, expected: &str) -> bool {
    let (got, expected): (Vec<&str>, Vec<&str>) = (
        got.trim_end().lines().collect(),
        expected.trim_end().lines().collect(),
    );
    got.len() == expected.len()
        && got.iter().zip(&expected).all(|(g, e)| {
            let (g, e) = (split_unescaped(g, ' '), split_unescaped(e, ' '));
            let (gf, ef) = (
                split_unescaped(&g[1..2].concat(), ','),
                split_unescaped(&e[1..2].concat(), ','),
            );
            g.len() == e.len()
                && g[0] == e[0]
                && g[2..] == e[2..]
                && gf.len() == ef.len()
                && gf.iter().zip(&ef).all(|(g, e)| {
                    g == e
                        || e.strip_suffix("=*").is_some_and(|name| {
                            g.strip_prefix(name).is_some_and(|v| v.starts_with('='))
                        })
                })
        })
}

/// `src/inputs/<input>`.
fn input_dir(input: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/inputs")
        .join(input)
}

/// The tests every single-instance procfs input has: `fixture_cases` runs its cases with
/// `procfs_root` at the case's `proc/` and the input that `$make` builds from `$config`
/// and `$case` (a `Result`; it may point more paths into the case first); its
/// `sample.toml` is its default config; its README shows the sample and every series.
/// `first_gathers($first_case, $two_reading)` is the input's part of the registry-wide
/// first-gather test ([`check_first_gathers`] on that case, with the series that need two
/// readings). Attributes given before the name (a doc comment on the fixtures, a `cfg`)
/// go on `fixture_cases`.
macro_rules! table_input_tests {
    (
        $(#[$meta:meta])* $kind:literal,
        first_gathers($first_case:literal, $two_reading:expr),
        |$config:ident, $case:ident| $make:expr
    ) => {
        /// The input for a case folder, built as the agent builds it.
        fn fixture_input(
            mut $config: Config,
            $case: &std::path::Path,
        ) -> anyhow::Result<Box<dyn $crate::input::Input>> {
            $config.procfs_root = $case.join("proc");
            Ok(Box::new($make?))
        }

        $(#[$meta])*
        #[test]
        fn fixture_cases() {
            $crate::inputs::testcases::run($kind, fixture_input);
        }

        /// This input's part of the registry-wide test of first gathers.
        pub(crate) fn first_gathers() {
            $crate::inputs::testcases::check_first_gathers(
                $kind,
                $first_case,
                &$crate::inputs::testcases::Live::default(),
                $two_reading,
                fixture_input,
            );
        }

        #[test]
        fn sample_config_is_the_default() {
            $crate::inputs::testcases::assert_sample_is_default(SAMPLE_CONFIG, $kind, &Config::default());
        }

        #[test]
        fn readme_documents_sample_and_every_series() {
            $crate::inputs::testcases::assert_readme_documents($kind, SAMPLE_CONFIG);
        }
    };
}
pub(crate) use table_input_tests;

/// A procfs root for a test that needs one or two files rather than a `testdata/` case
/// (a parse error, one edge of a file): `files` are (path under the root, content).
pub fn proc_root(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        std::fs::write(dir.path().join(path), content).expect("write");
    }
    dir
}

/// The points of one gather at [`NOW_MS`] of the input `built` is.
pub fn gather_all<I: Input>(built: anyhow::Result<I>) -> Vec<Line<'static>> {
    let mut input = built.unwrap_or_else(|e| panic!("{e:#}"));
    let mut out = Vec::new();
    input.gather(NOW_MS, &mut out).expect("gather");
    out
}

/// One gather at [`NOW_MS`] of the input `built` is, which must give exactly one point.
pub fn gather_one<I: Input>(built: anyhow::Result<I>) -> Line<'static> {
    let mut out = gather_all(built);
    assert_eq!(out.len(), 1, "one point");
    out.remove(0)
}

/// The message of the error that one gather of the input `built` is must end in.
pub fn gather_err<I: Input>(built: anyhow::Result<I>) -> String {
    let mut input = built.unwrap_or_else(|e| panic!("{e:#}"));
    match input.gather(NOW_MS, &mut Vec::new()) {
        Ok(()) => panic!("the gather succeeded"),
        Err(e) => e.to_string(),
    }
}

/// The value of field `name` as written (integers stay exact), if `line` has that field.
pub fn field_value<'a, 'l>(line: &'a Line<'l>, name: &str) -> Option<&'a FieldValue<'l>> {
    line.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The value of field `name` as a number, if `line` has that field.
pub fn field(line: &Line<'_>, name: &str) -> Option<f64> {
    field_value(line, name).and_then(FieldValue::as_f64)
}

/// The value of the unsigned integer field `name`, which `line` must have: the counters
/// that the real-`/proc` tests compare with the `procfs` crate's reading.
pub fn uint_field(line: &Line<'_>, name: &str) -> u64 {
    match field_value(line, name) {
        Some(FieldValue::UInt(v)) => *v,
        other => panic!(
            "{} {name}: {other:?}",
            render(std::slice::from_ref(line)).trim_end()
        ),
    }
}

/// The value of tag `name`, if `line` has that tag.
pub fn tag_of<'a>(line: &'a Line<'_>, name: &str) -> Option<&'a str> {
    line.tags
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_ref())
}

/// Line protocol, one point per line, tags and fields in the order the input wrote them.
pub fn render(lines: &[Line<'_>]) -> String {
    let mut s = String::new();
    for line in lines {
        s.push_str(&escape(&line.measurement, ", "));
        for (k, v) in &line.tags {
            let _ = write!(s, ",{}={}", escape(k, ",= "), escape(v, ",= "));
        }
        for (i, (k, v)) in line.fields.iter().enumerate() {
            s.push(if i == 0 { ' ' } else { ',' });
            s.push_str(&escape(k, ",= "));
            s.push('=');
            let _ = match v {
                FieldValue::Float(f) => write!(s, "{f}"),
                FieldValue::Int(n) => write!(s, "{n}i"),
                FieldValue::UInt(n) => write!(s, "{n}u"),
                FieldValue::Bool(b) => write!(s, "{b}"),
                FieldValue::Str(t) => write!(s, "\"{}\"", escape(t, "\"")),
            };
        }
        if let Some(ts) = line.timestamp {
            let _ = write!(s, " {ts}");
        }
        s.push('\n');
    }
    s
}

fn escape(text: &str, special: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' || special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Checks that a `sample.toml` sets every option of the input's config to its default:
/// each top-level key of `default` (as JSON) appears as `key = value` whose value, with
/// whitespace, comments and trailing commas removed, is the JSON rendering. This stands in
/// for parsing it with `toml`, which is not a dependency of this crate.
pub fn assert_sample_is_default<C: serde::Serialize>(sample: &str, table: &str, default: &C) {
    let header = format!("[agent.inputs.{table}]");
    assert!(
        sample.lines().any(|l| l.trim() == header),
        "sample lacks {header}"
    );
    let json = serde_json::to_value(default).expect("config to JSON");
    let object = json.as_object().expect("config is a table");
    let mut assigned = Vec::new();
    let mut lines = sample.lines().peekable();
    while let Some(line) = lines.next() {
        let line = strip_comment(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().to_string();
        let mut value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        // A multi-line array runs until its brackets balance.
        while value.matches('[').count() > value.matches(']').count() {
            let Some(next) = lines.next() else { break };
            value.extend(strip_comment(next).chars().filter(|c| !c.is_whitespace()));
        }
        let value = value.replace(",]", "]");
        assigned.push((key, value));
    }
    for (key, value) in object {
        let want = serde_json::to_string(value).expect("value to JSON");
        let got = assigned.iter().find(|(k, _)| k == key);
        assert_eq!(
            got.map(|(_, v)| v.as_str()),
            Some(want.as_str()),
            "sample.toml option {key}"
        );
    }
    for (key, _) in &assigned {
        assert!(
            object.contains_key(key),
            "sample.toml sets unknown option {key}"
        );
    }
}

fn strip_comment(line: &str) -> &str {
    // Sample values hold no `#`, so everything from the first one is a comment.
    line.split_once('#').map_or(line, |(code, _)| code)
}

/// Checks that `inputs/<input>/README.md` shows the sample config verbatim and names, in
/// backticks, every series (`<measurement>_<field>`) and tag key that the fixture cases
/// produce, so the docs cannot fall behind the code.
pub fn assert_readme_documents(input: &str, sample: &str) {
    let mut output = String::new();
    for entry in std::fs::read_dir(input_dir(input).join("testdata")).expect("testdata") {
        let expected = entry.expect("entry").path().join("expected.out");
        if let Ok(text) = std::fs::read_to_string(&expected) {
            output.push_str(&text);
        }
    }
    assert_readme_documents_output(input, sample, &output);
}

/// Splits line protocol text at `sep` where it is not escaped by a backslash.
fn split_unescaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in text.chars() {
        if c == sep && !escaped {
            parts.push(String::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(c);
        }
        escaped = c == '\\' && !escaped;
    }
    parts
}

/// Checks the `sample.toml` of a multi-instance input (`[[agent.inputs.<kind>]]`), which
/// the default config has no instance of: every line is commented out; the example
/// table starts at `# [[agent.inputs.<kind>]]` (description comments may precede it);
/// with one `# ` removed from each line from there on, it parses as exactly one instance
/// of `C` (unknown keys fail) that sets every option of `C`, so that the example documents
/// them all. Returns the parsed instance for further checks.
pub fn assert_instance_sample<C>(sample: &str, kind: &str) -> C
where
    C: DeserializeOwned + serde::Serialize + Default,
{
    for line in sample.lines() {
        assert!(
            line.is_empty() || line.starts_with('#'),
            "{kind}/sample.toml: line {line:?} is not commented out"
        );
    }
    let header = format!("# [[agent.inputs.{kind}]]");
    let start = sample
        .lines()
        .position(|l| l == header)
        .unwrap_or_else(|| panic!("{kind}/sample.toml lacks {header}"));
    let uncommented: Vec<&str> = sample
        .lines()
        .skip(start)
        .map(|l| {
            l.strip_prefix("# ")
                .or_else(|| l.strip_prefix('#'))
                .unwrap_or(l)
        })
        .collect();
    let text = uncommented.join("\n");
    let value: toml::Value =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{kind}/sample.toml uncommented: {e}"));
    let instances = value
        .get("agent")
        .and_then(|a| a.get("inputs"))
        .and_then(|i| i.get(kind))
        .and_then(toml::Value::as_array)
        .unwrap_or_else(|| panic!("{kind}/sample.toml: no [[agent.inputs.{kind}]]"));
    assert_eq!(
        instances.len(),
        1,
        "{kind}/sample.toml: one example instance"
    );
    let table = instances[0].as_table().expect("a table");
    let defaults = serde_json::to_value(C::default()).expect("config to JSON");
    for key in defaults.as_object().expect("config is a table").keys() {
        assert!(
            table.contains_key(key),
            "{kind}/sample.toml does not show option {key}"
        );
    }
    instances[0]
        .clone()
        .try_into()
        .unwrap_or_else(|e| panic!("{kind}/sample.toml: {e}"))
}

/// Checks that `inputs/<input>/README.md` shows the sample config verbatim and names, in
/// backticks, every series and tag key of `output` (line protocol as [`render`] writes
/// it): for inputs whose points come from live exchanges rather than fixture files.
pub fn assert_readme_documents_output(input: &str, sample: &str, output: &str) {
    let readme = std::fs::read_to_string(input_dir(input).join("README.md")).expect("README.md");
    assert!(
        readme.contains(sample.trim_end()),
        "{input}/README.md does not show sample.toml verbatim"
    );
    let mut checked = 0;
    for line in output.lines() {
        let parts = split_unescaped(line, ' ');
        let key = split_unescaped(&parts[0], ',');
        let measurement = &key[0];
        for tag in &key[1..] {
            let k = &split_unescaped(tag, '=')[0];
            assert!(
                readme.contains(&format!("`{k}`")),
                "{input}: tag {k} undocumented"
            );
        }
        for field in split_unescaped(&parts[1], ',') {
            let name = &split_unescaped(&field, '=')[0];
            let series = format!("`{measurement}_{name}`");
            assert!(readme.contains(&series), "{input}: {series} undocumented");
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "{input}: no output to check the README against"
    );
}

#[test]
fn a_star_matches_any_value_of_its_field_only() {
    let got = "m,t=a x=1u,y=0.25 5\n";
    assert!(same_points(got, "m,t=a x=1u,y=* 5"));
    assert!(same_points(got, got));
    assert!(!same_points(got, "m,t=a x=2u,y=* 5"), "another value");
    assert!(!same_points(got, "m,t=a x=1u,z=* 5"), "another field");
    assert!(!same_points(got, "m,t=b x=1u,y=* 5"), "another tag");
    assert!(!same_points(got, "m,t=a x=1u,y=* 6"), "another time");
    assert!(!same_points(got, "m,t=a x=1u 5"), "a field less");
    assert!(
        !same_points(got, "m,t=a x=1u,y=* 5\nm x=1u 5"),
        "a line more"
    );
}
