//! The web UI in a real browser: Debian's `chromium`, headless, driven through its
//! `chromedriver` (WebDriver) by thirtyfour, against `argus up` collecting this host.
//!
//! One session walks what a user does: log in, see this host on the overview, open its
//! CPU chart (and check the canvas holds drawn series), query in Explore, edit a host in
//! place, create a threshold alert from the form, see it fire and silence it, switch to
//! Chinese, then log in as a viewer and find no edit control; and on the way most of
//! what each page offers (docs/ui.md lists it). It measures the first paint and the
//! first data on a fresh load (< 1 s on loopback) and the time to draw 50 series of
//! 2 000 points (< 200 ms), and saves a screenshot of every page into
//! `<target>/tmp/ui-screenshots/` (printed; not part of the repository).

use crate::alerting::Recorder;
use crate::common::{Argus, call, start, wait_for};
use crate::external::{Proc, free_port, spawn, wait_healthy};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use thirtyfour::prelude::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(20);

/// Issue 15's budgets.
const PAINT_BUDGET_MS: f64 = 1000.0;
const CHART_BUDGET_MS: f64 = 200.0;

/// A WebDriver session on headless chromium, with synchronous helpers (the test mixes
/// it with the blocking API client). Quits the browser when dropped, also on a failure.
struct Browser {
    rt: tokio::runtime::Runtime,
    driver: Option<WebDriver>,
    base: String,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(d) = self.driver.take() {
            let _ = self.rt.block_on(d.quit());
        }
    }
}

impl Browser {
    /// A session whose browser prefers the language `lang` (`en-US`, `zh-CN`).
    fn open(driver_url: &str, base: &str, lang: &str) -> Browser {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut caps = DesiredCapabilities::chrome();
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--window-size=1400,1000".to_string(),
            format!("--lang={lang}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        for a in &args {
            caps.add_arg(a).unwrap_or_else(|e| panic!("{a}: {e}"));
        }
        caps.add_experimental_option("prefs", json!({"intl.accept_languages": lang}))
            .unwrap_or_else(|e| panic!("prefs: {e}"));
        caps.set_binary(CHROMIUM)
            .unwrap_or_else(|e| panic!("binary: {e}"));
        let driver = rt
            .block_on(WebDriver::new(driver_url, caps))
            .unwrap_or_else(|e| panic!("WebDriver session: {e}"));
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap_or_else(|e| panic!("{}: {e}", shots.display()));
        Browser {
            rt,
            driver: Some(driver),
            base: base.to_string(),
            shots,
            _profile: profile,
        }
    }

    fn d(&self) -> &WebDriver {
        self.driver.as_ref().unwrap_or_else(|| panic!("no session"))
    }

    /// Loads `path` (`/`, `/#/hosts`) as a new page.
    fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.rt
            .block_on(self.d().goto(&url))
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Moves within the page (a hash route), as a link does.
    fn route(&self, hash: &str) {
        self.js(&format!("location.hash = {}; return true;", json!(hash)));
    }

    /// The first element matching `css`, waiting for it to be there and visible. A page
    /// may draw itself again meanwhile (its data came), leaving a found element stale:
    /// then it looks again, until [`WAIT`] has passed.
    fn el(&self, css: &str) -> WebElement {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.rt.block_on(
                self.d()
                    .query(By::Css(css))
                    .wait(Duration::from_secs(2), Duration::from_millis(100))
                    .and_displayed()
                    .first(),
            );
            match found {
                Ok(e) => return e,
                Err(e) if Instant::now() >= deadline => panic!("no element {css}: {e}"),
                Err(_) => {}
            }
        }
    }

    /// Whether an element matching `css` exists now (no wait).
    fn exists(&self, css: &str) -> bool {
        self.js(&format!(
            "return document.querySelector({}) !== null;",
            json!(css)
        ))
        .as_bool()
        .unwrap_or(false)
    }

    /// Clicks the element `css`; looks for it again if the page drew itself again between
    /// finding and clicking it.
    fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let e = self.el(css);
            match self.rt.block_on(e.click()) {
                Ok(()) => return,
                Err(err) if Instant::now() >= deadline || !err.to_string().contains("stale") => {
                    panic!("click {css}: {err}")
                }
                Err(_) => {}
            }
        }
    }

    /// Replaces the text of the input `css`.
    fn fill(&self, css: &str, text: &str) {
        let e = self.el(css);
        self.rt
            .block_on(async {
                e.clear().await?;
                e.send_keys(text).await
            })
            .unwrap_or_else(|err| panic!("type into {css}: {err}"));
    }

    /// Chooses the option of the `<select>` `css` whose value is `value` (as a user does:
    /// the change event fires).
    fn choose(&self, css: &str, value: &str) {
        let ok = self.js(&format!(
            "const s = document.querySelector({}); if (!s) return false; s.value = {}; \
             s.dispatchEvent(new Event('change', {{bubbles: true}})); return s.value === {1};",
            json!(css),
            json!(value)
        ));
        assert_eq!(ok, json!(true), "no option {value} in {css}");
    }

    fn text(&self, css: &str) -> String {
        let e = self.el(css);
        self.rt
            .block_on(e.text())
            .unwrap_or_else(|err| panic!("text of {css}: {err}"))
    }

    /// Waits until the text of `css` satisfies `ok`; answers it.
    fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        wait_for(what, WAIT, || {
            let t = self
                .js(&format!(
                    "const e = document.querySelector({}); return e ? e.innerText : null;",
                    json!(css)
                ))
                .as_str()
                .map(str::to_string)?;
            ok(&t).then_some(t)
        })
    }

    fn js(&self, script: &str) -> Value {
        self.rt
            .block_on(self.d().execute(script, Vec::<Value>::new()))
            .map(|r| r.json().clone())
            .unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// Runs a script whose last argument is the callback that answers.
    fn js_async(&self, script: &str) -> Value {
        self.rt
            .block_on(self.d().execute_async(script, Vec::<Value>::new()))
            .map(|r| r.json().clone())
            .unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    fn screenshot(&self, name: &str) {
        let path = self.shots.join(format!("{name}.png"));
        self.rt
            .block_on(self.d().screenshot(&path))
            .unwrap_or_else(|e| panic!("screenshot {}: {e}", path.display()));
    }

    fn login(&self, name: &str, password: &str) {
        self.goto("/#/login");
        self.fill("#login-name", name);
        self.fill("#login-password", password);
        self.click("#login-submit");
        self.el("#logout");
    }
}

/// Debian's chromedriver on a free port, ready to take a session; killed when dropped.
fn chromedriver() -> (Proc, String) {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "the browser test needs Debian's chromium and chromium-driver (scripts/test.sh installs them)"
    );
    let port = free_port();
    // The browser runs in Shanghai's time zone (UTC+8, no daylight saving), so that the
    // test can tell the browser's time from UTC.
    let proc = spawn(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .env("TZ", "Asia/Shanghai")
            .stderr(Stdio::null()),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_healthy("chromedriver /status", &format!("{url}/status"));
    (proc, url)
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The pixels of the canvas in `css` whose color is saturated: drawn series, not the
/// grey grid, axes or background.
const COLORED_PIXELS: &str = "
    const c = document.querySelector(arguments[0]);
    if (!c) return -1;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
        const max = Math.max(d[i], d[i + 1], d[i + 2]), min = Math.min(d[i], d[i + 1], d[i + 2]);
        if (d[i + 3] > 128 && max - min > 80) n++;
    }
    return n;";

impl Browser {
    fn colored_pixels(&self, css: &str) -> i64 {
        self.rt
            .block_on(self.d().execute(COLORED_PIXELS, vec![json!(css)]))
            .map(|r| r.json().as_i64().unwrap_or(-1))
            .unwrap_or_else(|e| panic!("pixels of {css}: {e}"))
    }
}

/// Wait for the host's series and inventory record: what the pages will show.
fn wait_for_host(argus: &Argus, host: &str) -> String {
    wait_for("two CPU samples of this host", WAIT * 2, || {
        let (s, body) = call(
            argus,
            Method::GET,
            &format!(
                "/api/v1/query?query=count_over_time(cpu_usage_idle%7Bhost%3D%22{host}%22%2Ccpu%3D%22cpu-total%22%7D%5B1m%5D)"
            ),
            Some(&argus.token),
            None,
        );
        (s == 200
            && body["data"]["result"][0]["value"][1]
                .as_str()
                .is_some_and(|v| v != "1"))
        .then_some(())
    });
    wait_for("this host up in the inventory", WAIT, || {
        let (s, body) = call(
            argus,
            Method::GET,
            "/api/argus/hosts?status=up",
            Some(&argus.token),
            None,
        );
        (s == 200).then_some(())?;
        body["data"]
            .as_array()?
            .iter()
            .find(|h| h["hostname"] == host)
            .and_then(|h| h["id"].as_str().map(str::to_string))
    })
}

/// The browser tests run one after the other: two chromiums at once on a small machine
/// would blur the first one's paint and chart timings.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_browser() -> std::sync::MutexGuard<'static, ()> {
    // A test that failed holding it poisons it; the next one still runs.
    ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn the_web_ui_in_a_real_browser() {
    let _one = one_browser();
    let argus = start(
        "up",
        "[agent]\ninterval_secs = 1\napi_listen = \"127.0.0.1:0\"\n\n[alerting]\nevaluation_interval_secs = 1\n",
    );
    let password = argus
        .admin_password
        .clone()
        .unwrap_or_else(|| panic!("argus up printed no admin password"));
    let (s, body) = call(
        &argus,
        Method::POST,
        "/api/argus/users",
        Some(&argus.token),
        Some(&json!({"name": "vera", "password": "viewer-pass-1", "role": "viewer"})),
    );
    assert_eq!(s, 201, "{body}");
    let host = this_host();
    let host_id = wait_for_host(&argus, &host);
    // A receiver for "send test": a webhook that records what it gets.
    let hook = Recorder::start();
    let notifier = format!(
        "route:\n  receiver: ops\nreceivers:\n  - name: ops\n    webhook_configs:\n      - url: {}\n",
        hook.url
    );
    let put = crate::common::client()
        .put(format!("{}/api/argus/notifier/config", argus.url))
        .bearer_auth(&argus.token)
        .body(notifier)
        .send()
        .unwrap_or_else(|e| panic!("PUT notifier config: {e}"));
    assert_eq!(put.status().as_u16(), 200);

    // The page and its assets need no credential; the APIs still do.
    let raw = reqwest::blocking::Client::builder()
        .no_gzip()
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let get = |path: &str| {
        raw.get(format!("{}{path}", argus.url))
            .header("Accept-Encoding", "gzip")
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    };
    let page = get("/");
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap_or("");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let script = get("/ui/js/main.js");
    assert_eq!(script.status().as_u16(), 200);
    assert_eq!(script.headers()["content-encoding"], "gzip");
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(get("/ui/no-such.js").status().as_u16(), 404);
    let (s, _) = call(&argus, Method::GET, "/api/argus/hosts", None, None);
    assert_eq!(s, 401);

    let (_driver_proc, driver_url) = chromedriver();
    let b = Browser::open(&driver_url, &argus.url, "en-US");
    eprintln!("ui: screenshots in {}", b.shots.display());

    // Not logged in: the login page.
    b.goto("/");
    b.el("#login-name");
    b.screenshot("01-login");
    b.fill("#login-name", "admin");
    b.fill("#login-password", "wrong password");
    b.click("#login-submit");
    b.wait_text("#login-error", "the refusal", |t| !t.is_empty());
    b.login("admin", &password);

    // The overview shows this host (as a tile linking to it).
    let tile = format!("#host-tiles a[href='#/host/{host_id}']");
    b.wait_text(&tile, "this host on the overview", |t| t.contains(&host));
    b.wait_text("#stat-up", "hosts up", |t| t.trim() != "0");
    b.screenshot("02-overview");
    // From the keyboard: on a fresh page the first Tab offers to skip to the content, and
    // Enter goes there.
    b.goto("/?keyboard#/");
    b.el(&tile);
    let body = b.el("body");
    b.rt.block_on(body.send_keys(Key::Tab))
        .unwrap_or_else(|e| panic!("Tab: {e}"));
    assert_eq!(
        b.js("return document.activeElement.className;"),
        json!("skip")
    );
    b.rt.block_on(b.el("a.skip").send_keys(Key::Enter))
        .unwrap_or_else(|e| panic!("Enter: {e}"));
    assert_eq!(b.js("return document.activeElement.id;"), json!("main"));

    // A fresh load of the overview, logged in: first paint and first data on screen. (A
    // new query string: a change of the hash alone would not load the page again.)
    b.goto("/?reload#/");
    b.el(&tile);
    let paint = b.js_async(
        "const done = arguments[arguments.length - 1];
         const get = () => {
           const fcp = performance.getEntriesByName('first-contentful-paint')[0];
           const data = performance.getEntriesByName('argus:first-data')[0];
           const slow = performance.getEntriesByType('resource')
             .filter((e) => e.name.includes('/api/'))
             .sort((a, b) => b.responseEnd - a.responseEnd).slice(0, 2)
             .map((e) => `${e.name.replace(location.origin, '')} ${Math.round(e.startTime)}+${Math.round(e.duration)} ms`);
           if (fcp && data) done({fcp: fcp.startTime, data: data.startTime, slow});
           else setTimeout(get, 50);
         };
         get();",
    );
    let fcp = paint["fcp"].as_f64().unwrap_or(f64::MAX);
    let first_data = paint["data"].as_f64().unwrap_or(f64::MAX);
    eprintln!(
        "ui: first contentful paint {fcp:.0} ms, overview data on screen at {first_data:.0} ms (last requests: {})",
        paint["slow"]
    );
    assert!(fcp < PAINT_BUDGET_MS, "first paint {fcp} ms");
    assert!(first_data < PAINT_BUDGET_MS, "first data {first_data} ms");

    // The host page: its CPU chart draws series on its canvas.
    b.click(&tile);
    b.el("#chart-cpu canvas");
    // The agent started seconds ago: the last 5 minutes show its points best.
    b.choose("#range-preset", "5m");
    let pixels = wait_for("CPU series drawn on the canvas", WAIT, || {
        b.click("#host-refresh");
        let n = b.colored_pixels("#chart-cpu canvas");
        (n > 50).then_some(n)
    });
    eprintln!("ui: CPU chart, {pixels} colored pixels");
    assert_eq!(b.text("#host-agent-version"), env!("CARGO_PKG_VERSION"));
    b.wait_text("#host-series", "the host's other series", |t| {
        t.contains("mem_total") && t.contains("system_load1")
    });
    b.screenshot("03-host");
    // Times show in the browser's zone (UTC+8 here), or in UTC when chosen.
    assert_eq!(b.js("return new Date().getTimezoneOffset();"), json!(-480));
    // The hour of the host's last heartbeat as the page shows it (the page is drawn
    // again when the zone changes: read until it is).
    let hour = |b: &Browser| -> Option<i64> {
        let t = b.js(
            "const e = document.querySelector('#host-last-seen'); return e ? e.innerText : '';",
        );
        t.as_str()?.split(", ").nth(1)?.get(..2)?.parse().ok()
    };
    let local = hour(&b).unwrap_or_else(|| panic!("no hour in #host-last-seen"));
    b.choose("#tz", "UTC");
    let utc = wait_for("the times in UTC", WAIT, || {
        hour(&b).filter(|h| (local - h + 24) % 24 == 8)
    });
    assert_eq!((local - utc + 24) % 24, 8, "local {local}, UTC {utc}");
    b.choose("#tz", "local");
    wait_for("the times in the browser's zone again", WAIT, || {
        hour(&b).filter(|h| *h == local || *h == (local + 1) % 24)
    });
    b.el("#chart-cpu canvas");
    // The legend toggles a series from the keyboard too.
    let legend = "#chart-cpu .u-legend tr.u-series[role='button']";
    b.el(legend);
    b.js(&format!(
        "document.querySelector({}).dispatchEvent(new KeyboardEvent('keydown', {{key: 'Enter'}})); return true;",
        json!(legend)
    ));
    assert_eq!(
        b.js(&format!(
            "return document.querySelector({}).getAttribute('aria-pressed');",
            json!(legend)
        )),
        json!("false")
    );
    // The dark theme, and back.
    b.click("#theme");
    assert_eq!(
        b.js("return document.documentElement.dataset.theme;"),
        json!("dark")
    );
    wait_for("the CPU chart drawn again, dark", WAIT, || {
        (b.colored_pixels("#chart-cpu canvas") > 50).then_some(())
    });
    b.screenshot("03-host-dark");
    b.click("#theme");
    assert_eq!(
        b.js("return document.documentElement.dataset.theme;"),
        json!("light")
    );

    // A host known only from its series (Telegraf, say): listed as unmanaged, with its
    // charts.
    let now = argus_core::now_ms();
    let lines: String = (0..30)
        .map(|i| {
            format!(
                "cpu,host=series-only,cpu=cpu-total usage_user={},usage_system=5 {}\n",
                20 + i % 7,
                now - (30 - i) * 2000
            )
        })
        .collect();
    let w = crate::common::client()
        .post(format!("{}/write?precision=ms", argus.url))
        .bearer_auth(&argus.token)
        .body(lines)
        .send()
        .unwrap_or_else(|e| panic!("write: {e}"));
    assert_eq!(w.status().as_u16(), 204);
    b.route("#/hosts?unmanaged=true");
    let link = "#hosts-table a[href='#/host/series-only?series=1']";
    wait_for("the series-only host listed as unmanaged", WAIT, || {
        b.js("location.reload(); return true;");
        b.el("#hosts-table");
        b.exists(link).then_some(())
    });
    b.click(link);
    b.el("#host-series-only");
    b.choose("#range-preset", "5m");
    wait_for("its CPU drawn", WAIT, || {
        (b.colored_pixels("#chart-cpu canvas") > 50).then_some(())
    });
    b.screenshot("03-host-series-only");
    // An editor adds it to the inventory from the list, and places it.
    b.route("#/hosts?unmanaged=true");
    let unregistered = "#hosts-table tr[data-id='']";
    b.wait_text(unregistered, "the series-only host's row", |t| {
        t.contains("series-only")
    });
    b.click(&format!("{unregistered} button.adopt"));
    b.fill("#hosts-table input.edit-location", "dc-series");
    b.click("#hosts-table button.save");
    wait_for("the adopted host placed", WAIT, || {
        let (s, body) = call(
            &argus,
            Method::GET,
            "/api/argus/hosts?q=series-only",
            Some(&argus.token),
            None,
        );
        let h = &body["data"][0];
        (s == 200 && h["registered"] == true && h["location"] == "dc-series").then_some(())
    });

    // Explore: completion of a metric name, then the query as a table.
    b.route("#/explore");
    b.fill("#explore-expr", "cpu_usage_idl");
    b.wait_text("#explore-completions", "a completion", |t| {
        t.contains("cpu_usage_idle")
    });
    // Tab takes the highlighted completion.
    let editor = b.el("#explore-expr");
    b.rt.block_on(editor.send_keys(Key::Tab))
        .unwrap_or_else(|e| panic!("Tab: {e}"));
    assert_eq!(
        b.js("return document.querySelector('#explore-expr').value;"),
        json!("cpu_usage_idle")
    );
    b.fill(
        "#explore-expr",
        &format!("cpu_usage_idle{{host=\"{host}\",cpu=\"cpu-total\"}}"),
    );
    b.click("#tab-table");
    let row = b.wait_text("#explore-table tbody tr", "a row of the table", |t| {
        t.contains(&host)
    });
    let value: f64 = row
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or(f64::NAN);
    assert!((0.0..=100.0).contains(&value), "{row}");
    assert!(
        b.js("return location.hash;")
            .as_str()
            .is_some_and(|h| h.contains("expr=cpu_usage_idle") && h.contains("view=table")),
        "the query is in the URL"
    );
    b.screenshot("04-explore-table");
    b.click("#tab-chart");
    b.el("#explore-chart canvas");
    b.screenshot("05-explore-chart");

    // A chart answers the mouse: hovering shows the values in the legend, dragging zooms
    // into a range, which becomes the view's custom range (in the URL).
    b.fill("#explore-expr", "vector(42)");
    b.click("#explore-run");
    b.wait_text("#explore-status", "the chart of vector(42)", |t| {
        t.starts_with('1')
    });
    let over = b.el("#explore-chart .u-over");
    let width = b
        .js("return document.querySelector('#explore-chart .u-over').clientWidth;")
        .as_i64()
        .unwrap_or(0);
    assert!(width > 100, "plot width {width}");
    b.rt.block_on(
        b.d()
            .action_chain()
            .move_to_element_with_offset(&over, -width / 4, 0)
            .perform(),
    )
    .unwrap_or_else(|e| panic!("hover: {e}"));
    b.wait_text(
        "#explore-chart .u-legend tr.u-series:nth-child(2) .u-value",
        "the hovered value in the legend",
        |t| t == "42",
    );
    b.rt.block_on(
        b.d()
            .action_chain()
            .click_and_hold()
            .move_by_offset(width / 4, 0)
            .release()
            .perform(),
    )
    .unwrap_or_else(|e| panic!("drag: {e}"));
    wait_for("the zoomed range in the URL", WAIT, || {
        b.js("return location.hash;")
            .as_str()
            .is_some_and(|h| h.contains("from=") && h.contains("to=") && !h.contains("range="))
            .then_some(())
    });
    assert_eq!(
        b.js("return document.querySelector('#range-preset').value;"),
        json!("custom")
    );
    // A step of 5 s and a refresh every 5 s: the query runs again by itself.
    b.fill("#explore-step", "5");
    b.choose("#explore-refresh", "5");
    b.wait_text("#explore-status", "the step used", |t| t.ends_with("5s"));
    let ranges = "return performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/api/v1/query_range')).length;";
    // (Emptied first: the browser keeps a bounded number of these entries.)
    b.js("performance.clearResourceTimings(); return true;");
    wait_for("an automatic refresh", WAIT, || {
        (b.js(ranges).as_i64().unwrap_or(0) > 0).then_some(())
    });
    let hash = b.js("return location.hash;");
    assert!(
        hash.as_str()
            .is_some_and(|h| h.contains("step=5") && h.contains("refresh=5")),
        "{hash}"
    );
    b.choose("#explore-refresh", "");

    // Hosts: edit this host's location in place.
    b.route("#/hosts");
    let row = format!("#hosts-table tr[data-id='{host_id}']");
    b.click(&format!("{row} button.edit"));
    b.fill(&format!("{row} input.edit-location"), "dc-ui");
    b.fill(&format!("{row} input.edit-groups"), "web, canary");
    b.click(&format!("{row} button.save"));
    b.wait_text(&row, "the saved location", |t| {
        t.contains("dc-ui") && t.contains("canary")
    });
    let (_, got) = call(
        &argus,
        Method::GET,
        &format!("/api/argus/hosts/{host_id}"),
        Some(&argus.token),
        None,
    );
    assert_eq!(got["data"]["location"], "dc-ui");
    assert_eq!(got["data"]["groups"], json!(["canary", "web"]));
    b.screenshot("06-hosts");
    // Filters, search and sorting, kept in the URL.
    b.route("#/hosts?location=dc-ui&group=canary");
    b.wait_text(&row, "this host in its location and group", |t| {
        t.contains(&host)
    });
    assert_eq!(
        b.js("return document.querySelector('#hosts-location').value;"),
        json!("dc-ui")
    );
    b.choose("#hosts-status", "down");
    b.wait_text("#hosts-count", "no host down there", |t| t.starts_with('0'));
    b.choose("#hosts-status", "up");
    b.wait_text(&row, "this host up there", |t| t.contains(&host));
    b.fill("#hosts-label", "team:none");
    b.click("#hosts-q");
    b.wait_text("#hosts-count", "no host with that label", |t| {
        t.starts_with('0')
    });
    b.fill("#hosts-label", "");
    b.fill("#hosts-q", "no-such-host");
    b.wait_text("#hosts-count", "no host found by that text", |t| {
        t.starts_with('0')
    });
    b.fill("#hosts-q", &host);
    b.wait_text(&row, "this host found by its name", |t| t.contains(&host));
    // The host name column sorts ascending by default: a click turns it.
    b.click("#hosts-table button.sort[data-sort='hostname']");
    b.el("#hosts-table th[aria-sort='descending'] button.sort[data-sort='hostname']");
    assert_eq!(
        b.js("return document.activeElement.dataset.sort;"),
        json!("hostname"),
        "the focus stays on the header"
    );
    let hash = b.js("return location.hash;");
    assert!(
        hash.as_str().is_some_and(|h| h.contains("location=dc-ui")
            && h.contains("status=up")
            && h.contains("sort=-hostname")),
        "{hash}"
    );

    // Alerts: a threshold rule from the form fires, and is silenced from its row.
    b.route("#/alerts?tab=rules");
    b.click("#rule-new");
    b.fill("#rule-name", "UiIdleSeen");
    b.fill("#rule-metric", "cpu_usage_idle");
    b.fill("#rule-filters", "cpu=cpu-total");
    b.choose("#rule-op", ">=");
    b.fill("#rule-value", "0");
    b.fill("#rule-interval", "1s");
    b.fill("#rule-summary", "{{ $labels.host }} is idle");
    b.screenshot("07-rule-form");
    b.click("#rule-save");
    b.wait_text("#rules-table", "the new rule listed", |t| {
        t.contains("UiIdleSeen")
    });
    let firing = "#alerts-active tr[data-rule='UiIdleSeen'] td.state-firing";
    wait_for("the rule's alert firing", WAIT * 2, || {
        b.click("#tab-active");
        b.exists(firing).then_some(())
    });
    b.click("#alerts-active tr[data-rule='UiIdleSeen'] button.silence");
    let matchers = b.js("return document.querySelector('#silence-matchers').value;");
    assert!(
        matchers
            .as_str()
            .is_some_and(|m| m.contains("alertname=\"UiIdleSeen\"") && m.contains(&host)),
        "the silence form is prefilled from the alert: {matchers}"
    );
    b.fill("#silence-comment", "seen in the browser test");
    b.click("#silence-save");
    wait_for("the alert shown silenced", WAIT, || {
        b.click("#tab-active");
        b.exists("#alerts-active tr[data-rule='UiIdleSeen'] td.silenced:not(:empty)")
            .then_some(())
    });
    let (_, silences) = call(
        &argus,
        Method::GET,
        "/api/v2/silences",
        Some(&argus.token),
        None,
    );
    let ours: Vec<&Value> = silences
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["comment"] == "seen in the browser test")
        .collect();
    assert_eq!(ours.len(), 1, "{silences}");
    assert_eq!(ours[0]["status"]["state"], "active");
    assert!(
        ours[0]["matchers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["name"] == "alertname" && m["value"] == "UiIdleSeen"),
        "{}",
        ours[0]
    );
    b.screenshot("08-alerts");
    // The rule: edited (its threshold), then disabled, from its row.
    b.click("#tab-rules");
    let rule_row = "#rules-table tr[data-rule='UiIdleSeen']";
    b.click(&format!("{rule_row} button.rule-edit"));
    assert_eq!(
        b.js("return document.querySelector('#rule-metric').value;"),
        json!("cpu_usage_idle")
    );
    b.fill("#rule-value", "-1");
    b.click("#rule-save");
    // Saved once the form is gone (the list is drawn again).
    wait_for("the edited rule saved", WAIT, || {
        (!b.exists("#rule-form")).then_some(())
    });
    b.click(&format!("{rule_row} button.rule-toggle"));
    wait_for("the rule edited and disabled", WAIT, || {
        let (_, r) = call(
            &argus,
            Method::GET,
            "/api/argus/rules",
            Some(&argus.token),
            None,
        );
        let rule = r["data"]
            .as_array()?
            .iter()
            .find(|x| x["rule"]["name"] == "UiIdleSeen")?
            .clone();
        (rule["enabled"] == false && rule["rule"]["threshold"]["value"] == json!(-1.0))
            .then_some(())
    });
    b.click("#tab-silences");
    b.el("#silences-table");
    b.screenshot("09-silences");
    // A weekly maintenance window from the form.
    b.click("#tab-maintenance");
    b.click("#mw-new");
    b.fill("#mw-name", "ui patching");
    b.fill("#mw-groups", "canary");
    b.choose("#mw-kind", "weekly");
    b.click("#mw-day-sunday");
    b.fill("#mw-zone", "Asia/Shanghai");
    b.click("#mw-save");
    b.wait_text(
        "#windows-table tr[data-window='ui patching']",
        "the new window listed",
        |t| t.contains("canary") && t.contains("Sunday"),
    );
    let (_, windows) = call(
        &argus,
        Method::GET,
        "/api/argus/maintenance",
        Some(&argus.token),
        None,
    );
    let w = windows["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["name"] == "ui patching")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(w["groups"], json!(["canary"]), "{windows}");
    assert_eq!(w["schedule"]["type"], "weekly", "{w}");
    assert_eq!(w["schedule"]["weekdays"], json!(["sunday"]), "{w}");
    assert_eq!(w["schedule"]["timeZone"], "Asia/Shanghai", "{w}");
    b.screenshot("09-maintenance");

    // Settings: an agent configuration layer, an API token (shown once), a user.
    b.route("#/settings?tab=configs");
    b.click("#config-new");
    b.choose("#config-scope", "group");
    b.fill("#config-name", "ui-test");
    b.fill("#config-text", "[agent]\ninterval_secs = 7\n");
    b.click("#config-save");
    b.wait_text("[role=tabpanel]", "the new layer listed", |t| {
        t.contains("ui-test") && t.contains("interval_secs = 7")
    });
    let (_, layers) = call(
        &argus,
        Method::GET,
        "/api/argus/agent/configs",
        Some(&argus.token),
        None,
    );
    assert!(
        layers["data"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|l| l["scope"] == "group"
                && l["name"] == "ui-test"
                && l["text"] == "[agent]\ninterval_secs = 7\n"),
        "{layers}"
    );
    b.screenshot("10-settings");
    b.click("#tab-tokens");
    b.fill("#token-name", "ui-ci");
    b.click("#token-create");
    let token = b.wait_text("#token-value", "the new token", |t| t.trim().len() == 64);
    let (s, who) = call(
        &argus,
        Method::GET,
        "/api/argus/me",
        Some(token.trim()),
        None,
    );
    assert_eq!(s, 200, "{who}");
    assert_eq!(who["name"], "ui-ci", "{who}");
    b.screenshot("10-settings-tokens");
    b.click("#tab-users");
    b.fill("#user-name", "eddie");
    b.fill("#user-password", "editor-pass-1");
    b.choose("#user-role", "editor");
    b.click("#user-create");
    b.el("#users-table tr[data-user='eddie']");
    b.choose("#users-table tr[data-user='eddie'] select", "viewer");
    wait_for("eddie made a viewer", WAIT, || {
        let (s, u) = call(
            &argus,
            Method::GET,
            "/api/argus/users/eddie",
            Some(&argus.token),
            None,
        );
        (s == 200 && u["data"]["role"] == "viewer").then_some(())
    });
    b.route("#/settings?tab=receivers");
    b.click("#receivers-table tr[data-receiver='ops'] button.send-test");
    b.wait_text("#receiver-result", "the test notification delivered", |t| {
        t.contains("delivered")
    });
    assert!(
        hook.bodies()
            .iter()
            .any(|b| b["alerts"][0]["labels"]["alertname"] == "ArgusTestNotification"),
        "{:?}",
        hook.bodies()
    );
    b.screenshot("10-settings-receivers");

    // Chinese: the navigation and the page's labels are translated, and stay so.
    b.route("#/hosts");
    b.choose("#lang", "zh-CN");
    b.wait_text(
        "#header nav a[href='#/']",
        "the translated navigation",
        |t| t == "概览",
    );
    assert_eq!(b.text("label[for='hosts-location']"), "位置");
    assert_eq!(
        b.js("return document.documentElement.lang;"),
        json!("zh-CN")
    );
    b.screenshot("11-hosts-zh");
    // No page so far broke the Content-Security-Policy (this server only, no inline
    // script or style).
    assert_eq!(b.js("return window.argusCspViolations;"), json!(0));
    b.goto("/#/");
    b.wait_text(
        "#header nav a[href='#/hosts']",
        "Chinese after a reload",
        |t| t == "主机",
    );
    b.choose("#lang", "en");

    // The chart speed: 50 series of 2 000 points, drawn in the page.
    let mut runs = Vec::new();
    for _ in 0..4 {
        let r = b.js_async(
            "const done = arguments[arguments.length - 1];
             const el = document.createElement('div');
             el.style.width = '1200px';
             document.body.append(el);
             window.argusBench(el, 50, 2000).then((r) => { el.remove(); done(r); });",
        );
        runs.push(r["ms"].as_f64().unwrap_or(f64::MAX));
    }
    // The first run also compiles uPlot's paths: report it, judge the steady ones.
    let mut steady = runs[1..].to_vec();
    steady.sort_by(f64::total_cmp);
    let median = steady[steady.len() / 2];
    eprintln!(
        "ui: 50 series × 2000 points drawn in {runs:.1?} ms (median after the first: {median:.1} ms)"
    );
    assert!(median < CHART_BUDGET_MS, "chart drawing took {median} ms");

    // A viewer: everything readable, no edit control, and the API refuses a write anyway.
    // The session ends under the page (expired, revoked, logged out elsewhere): the next
    // call returns to the login page, and logging in comes back to where it was.
    b.route("#/hosts?status=up");
    b.el("#hosts-table");
    b.js_async(
        "const done = arguments[arguments.length - 1];
         fetch('/api/argus/logout', {method: 'POST', credentials: 'same-origin'}).then((r) => done(r.status));",
    );
    b.click("#hosts-table th button.sort");
    b.el("#login-name");
    let back = b.js("return location.hash;");
    assert!(
        back.as_str()
            .is_some_and(|h| h.starts_with("#/login?next=%2Fhosts")),
        "{back}"
    );
    b.fill("#login-name", "vera");
    b.fill("#login-password", "viewer-pass-1");
    b.click("#login-submit");
    b.el("#hosts-table");
    assert!(
        b.js("return location.hash;")
            .as_str()
            .is_some_and(|h| h.starts_with("#/hosts")),
        "back on the hosts page"
    );
    b.wait_text("#role", "the viewer's role", |t| t == "viewer");
    b.route("#/hosts");
    b.wait_text(&row, "this host for the viewer", |t| t.contains(&host));
    let edits = [
        "button.edit",
        "#rule-new",
        "#silence-new",
        "#mw-new",
        "#config-new",
        "button.silence",
        "button.danger",
        "button.send-test",
        "button.adopt",
        "button.rule-edit",
        "button.rule-toggle",
        "button.expire",
        "input.host-select",
        "#hosts-bulk",
        "button.silence-edit",
        "button.silence-recreate",
        "button.mw-edit",
        "#nodata-form",
        "button.user-password",
    ];
    let check_no_edit = |page: &str| {
        for css in edits {
            assert!(!b.exists(css), "the viewer sees {css} on {page}");
        }
    };
    check_no_edit("hosts");
    b.screenshot("12-viewer-hosts");
    for tab in ["active", "rules", "silences", "maintenance"] {
        b.route(&format!("#/alerts?tab={tab}"));
        b.el(&format!("#tab-{tab}[aria-selected='true']"));
        b.el("#alerts-panel > *");
        check_no_edit(&format!("alerts {tab}"));
    }
    // The host page (its no-data alert) and the events page: read-only too.
    b.route(&format!("#/host/{host_id}"));
    b.el("#host-nodata > *");
    check_no_edit("host");
    b.route("#/events");
    b.el("#events-table");
    check_no_edit("events");
    for tab in ["receivers", "configs"] {
        b.route(&format!("#/settings?tab={tab}"));
        b.el(&format!("#tab-{tab}[aria-selected='true']"));
        b.el("[role=tabpanel] > *");
        check_no_edit(&format!("settings {tab}"));
    }
    assert!(!b.exists("#tab-users"), "a viewer sees the users tab");
    let refused = b.js_async(&format!(
        "const done = arguments[arguments.length - 1];
         fetch('/api/argus/hosts/{host_id}', {{method: 'PATCH', credentials: 'same-origin',
           headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{location: 'x'}})}})
           .then((r) => done(r.status));"
    ));
    assert_eq!(refused, json!(403));
    b.screenshot("13-viewer-settings");
    // Their own account is theirs to change.
    b.click("#tab-account");
    b.fill("#account-display", "Vera V.");
    b.click("#account-save");
    wait_for("the display name saved", WAIT, || {
        let (s, u) = call(
            &argus,
            Method::GET,
            "/api/argus/users/vera",
            Some(&argus.token),
            None,
        );
        (s == 200 && u["data"]["display_name"] == "Vera V.").then_some(())
    });
    assert_eq!(b.js("return window.argusCspViolations;"), json!(0));
    // Logging out ends the session: the API refuses the cookie, and the login page shows.
    b.click("#logout");
    b.el("#login-name");
    let after = b.js_async(
        "const done = arguments[arguments.length - 1];
         fetch('/api/argus/me', {credentials: 'same-origin'}).then((r) => done(r.status));",
    );
    assert_eq!(after, json!(401));
    let started = Instant::now();
    drop(b);
    eprintln!("ui: browser closed in {:?}", started.elapsed());

    // A browser that prefers Chinese gets the UI in Chinese from the first page.
    let zh = Browser::open(&driver_url, &argus.url, "zh-CN");
    zh.goto("/");
    zh.wait_text("#login-submit", "the Chinese login page", |t| t == "登录");
    assert_eq!(
        zh.js("return document.documentElement.lang;"),
        json!("zh-CN")
    );
    zh.screenshot("14-login-zh");
}

/// The rows' texts of the table `css` (cells joined by tabs), read in one go.
const ROWS: &str = "return [...document.querySelectorAll(arguments[0])].map((tr) => [...tr.cells].map((c) => c.innerText).join('\\t'));";

impl Browser {
    fn rows(&self, css: &str) -> Vec<String> {
        self.rt
            .block_on(self.d().execute(ROWS, vec![json!(css)]))
            .map(|r| {
                r.json()
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|e| panic!("rows of {css}: {e}"))
    }

    /// Answers yes to the page's next confirm() questions (deleting asks first).
    fn confirm_yes(&self) {
        self.js("window.confirm = () => true; return true;");
    }
}

/// One host of the inventory by id: `None` when it is not there (404).
fn host_record(argus: &Argus, id: &str) -> Option<Value> {
    let (s, body) = call(
        argus,
        Method::GET,
        &format!("/api/argus/hosts/{id}"),
        Some(&argus.token),
        None,
    );
    assert!(s == 200 || s == 404, "GET host {id}: {s} {body}");
    (s == 200).then(|| body["data"].clone())
}

/// The API's rule named `name` (`{id, rule, enabled, …}`), if there is one.
fn api_rule(argus: &Argus, name: &str) -> Option<Value> {
    let (_, r) = call(
        argus,
        Method::GET,
        "/api/argus/rules",
        Some(&argus.token),
        None,
    );
    r["data"]
        .as_array()?
        .iter()
        .find(|x| x["source"] == "api" && x["rule"]["name"] == name)
        .cloned()
}

fn silence(argus: &Argus, id: &str) -> Value {
    let (s, body) = call(
        argus,
        Method::GET,
        &format!("/api/v2/silence/{id}"),
        Some(&argus.token),
        None,
    );
    assert_eq!(s, 200, "silence {id}: {body}");
    body
}

/// The forms issue 15 asked for after the first walk: editing silences (Alertmanager's
/// rule: a change of matchers expires the old one and makes a new one) and maintenance
/// windows, event rules and a host's no-data alert, an admin setting another user's
/// password, several queries in Explore, bulk host edits and the fleet's events page.
/// Each is done in the browser and checked in the API's state afterwards.
#[test]
fn the_web_ui_forms_in_a_real_browser() {
    let _one = one_browser();
    let argus = start(
        "up",
        "[agent]\ninterval_secs = 1\napi_listen = \"127.0.0.1:0\"\n\n[alerting]\nevaluation_interval_secs = 1\n",
    );
    let password = argus
        .admin_password
        .clone()
        .unwrap_or_else(|| panic!("argus up printed no admin password"));
    let host = this_host();
    let host_id = wait_for_host(&argus, &host);
    let (_driver_proc, driver_url) = chromedriver();
    let b = Browser::open(&driver_url, &argus.url, "en-US");
    b.login("admin", &password);

    // --- Bulk host edits: select two of three hosts, change them in one action each.
    for name in ["bulk-a", "bulk-b", "bulk-c"] {
        let (s, body) = call(
            &argus,
            Method::POST,
            "/api/argus/hosts",
            Some(&argus.token),
            Some(&json!({"hostname": name, "groups": ["web"], "labels": {"team": "old"}})),
        );
        assert_eq!(s, 201, "{body}");
    }
    b.route("#/hosts?q=bulk-");
    b.wait_text("#hosts-count", "the three bulk hosts", |t| {
        t.starts_with('3')
    });
    assert!(
        b.exists("#hosts-bulk[hidden]"),
        "no action bar before a selection"
    );
    b.click("#hosts-table tr[data-id='bulk-a'] input.host-select");
    b.click("#hosts-table tr[data-id='bulk-b'] input.host-select");
    assert_eq!(b.text("#bulk-count"), "2 selected");
    let apply = |action: &str, value: &str| {
        b.choose("#bulk-action", action);
        if action != "delete" {
            b.fill("#bulk-value", value);
        }
        b.click("#bulk-apply");
    };
    apply("add_groups", "bulkgrp, canary");
    b.wait_text("#bulk-msg", "the groups added", |t| t == "2 hosts changed.");
    apply("labels", "team=ops, tier=1");
    b.wait_text("#bulk-msg", "the labels set", |t| t == "2 hosts changed.");
    // The selection stays for the next change, and the rows show the result.
    assert_eq!(b.text("#bulk-count"), "2 selected");
    b.wait_text(
        "#hosts-table tr[data-id='bulk-b']",
        "bulk-b's new group and label",
        |t| t.contains("bulkgrp") && t.contains("tier=1"),
    );
    apply("remove_groups", "canary");
    b.wait_text("#bulk-msg", "a group removed", |t| t == "2 hosts changed.");
    apply("remove_labels", "tier");
    b.wait_text("#bulk-msg", "a label removed", |t| t == "2 hosts changed.");
    apply("location", "dc-bulk");
    b.wait_text("#bulk-msg", "the location set", |t| t == "2 hosts changed.");
    for id in ["bulk-a", "bulk-b"] {
        let h = host_record(&argus, id).unwrap_or_else(|| panic!("{id} gone"));
        assert_eq!(h["groups"], json!(["bulkgrp", "web"]), "{h}");
        assert_eq!(h["labels"], json!({"team": "ops"}), "{h}");
        assert_eq!(h["location"], "dc-bulk", "{h}");
    }
    let c = host_record(&argus, "bulk-c").unwrap_or_else(|| panic!("bulk-c gone"));
    assert_eq!(c["groups"], json!(["web"]), "bulk-c was not selected: {c}");
    assert_eq!(c["labels"], json!({"team": "old"}), "{c}");
    // A label that is not key=value is refused before anything is sent.
    apply("labels", "oops");
    b.wait_text("#bulk-msg", "the bad label named", |t| {
        t.contains("\"oops\"")
    });
    b.screenshot("20-hosts-bulk");
    // Every host of the page, then deleted at once.
    b.click("#hosts-select-all");
    assert_eq!(b.text("#bulk-count"), "3 selected");
    b.confirm_yes();
    apply("delete", "");
    b.wait_text("#bulk-msg", "the hosts deleted", |t| {
        t == "3 hosts deleted."
    });
    for id in ["bulk-a", "bulk-b", "bulk-c"] {
        assert!(host_record(&argus, id).is_none(), "{id} still there");
    }
    b.wait_text("#hosts-count", "none left", |t| t.starts_with('0'));
    assert!(
        b.exists("#hosts-bulk[hidden]"),
        "the bar goes with the selection"
    );

    // --- Events: the fleet's, newest first, by host, type and time, paged.
    let now = argus_core::now_ms();
    let mut lines = String::new();
    for i in 0..130i64 {
        // Five events share one millisecond, across the first page's end.
        let ts = if (97..=101).contains(&i) {
            now - 97_000
        } else {
            now - i * 1000
        };
        lines.push_str(&format!(
            "{{\"type\":\"uitest\",\"host\":\"ev-1\",\"ts\":{ts},\"n\":{i}}}\n"
        ));
    }
    for i in 0..5 {
        lines.push_str(&format!(
            "{{\"type\":\"uiother\",\"host\":\"ev-2\",\"ts\":{},\"n\":{i}}}\n",
            now - 500 - i
        ));
    }
    lines.push_str(&format!(
        "{{\"type\":\"uiold\",\"host\":\"ev-2\",\"ts\":{},\"n\":0}}\n",
        now - 3 * 3_600_000
    ));
    let (s, body) = argus.post("/api/argus/events", lines);
    assert_eq!(s, 204, "{body}");
    wait_for("the events stored", WAIT, || {
        let (_, r) = argus.get(&format!(
            "/api/argus/events?type=uitest&start={}",
            now / 1000 - 3600
        ));
        (r["data"].as_array().map_or(0, Vec::len) == 130).then_some(())
    });
    b.route("#/events?type=uitest");
    let numbers = |b: &Browser| -> Vec<i64> {
        b.rows("#events-table tbody tr")
            .iter()
            .filter_map(|r| {
                r.split_whitespace()
                    .find_map(|w| w.strip_prefix("n=").and_then(|n| n.parse().ok()))
            })
            .collect()
    };
    b.wait_text("#events-count", "the first page", |t| {
        t.contains("1 to 100")
    });
    let first = numbers(&b);
    assert_eq!(first.len(), 100, "{first:?}");
    assert_eq!(first[0], 0, "newest first: {first:?}");
    assert!(
        b.rows("#events-table tbody tr")
            .iter()
            .all(|r| r.contains("ev-1") && r.contains("uitest"))
    );
    b.screenshot("21-events");
    b.click("#events-older");
    b.wait_text("#events-count", "the second page", |t| {
        t.contains("101 to 130")
    });
    let second = numbers(&b);
    let mut all: Vec<i64> = first.iter().chain(&second).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..130).collect::<Vec<_>>(),
        "each event once, none skipped"
    );
    assert_eq!(
        b.js("return document.querySelector('#events-older').disabled;"),
        json!(true)
    );
    b.click("#events-newer");
    b.wait_text("#events-count", "back on the first page", |t| {
        t.contains("1 to 100")
    });
    assert_eq!(numbers(&b), first);
    // By host: ev-2's within the last day: five, not the one three hours old in the
    // last hour.
    b.fill("#events-type", "");
    b.fill("#events-host", "ev-2");
    b.click("#events-apply");
    b.wait_text("#events-count", "ev-2's events", |t| t.contains("1 to 6"));
    assert!(
        b.rows("#events-table tbody tr")
            .iter()
            .all(|r| r.contains("ev-2"))
    );
    let hash = b.js("return location.hash;");
    assert!(
        hash.as_str()
            .is_some_and(|h| h.contains("host=ev-2") && !h.contains("type=")),
        "{hash}"
    );
    b.choose("#range-preset", "1h");
    b.wait_text("#events-count", "the old one out of the last hour", |t| {
        t.contains("1 to 5")
    });
    b.fill("#events-type", "uiold");
    b.click("#events-apply");
    b.wait_text(
        "#events-table",
        "nothing of that type in the last hour",
        |t| t.contains("No event matches"),
    );
    b.choose("#range-preset", "6h");
    b.wait_text("#events-count", "the old event in 6 hours", |t| {
        t.contains("1 to 1")
    });

    // --- Explore: two queries, each its own series, named after it; both in the URL.
    b.route("#/explore");
    b.fill("#explore-expr", "vector(1)");
    b.click("#explore-add");
    b.fill("#explore-expr-2", "vector(2)");
    b.click("#explore-run");
    b.wait_text("#explore-status", "two series", |t| t.starts_with('2'));
    let legend = b.rows("#explore-chart .u-legend tr.u-series");
    assert!(
        legend.iter().any(|l| l.contains("A: {}")) && legend.iter().any(|l| l.contains("B: {}")),
        "{legend:?}"
    );
    let hash = b.js("return decodeURIComponent(location.hash);");
    assert!(
        hash.as_str()
            .is_some_and(|h| h.contains("expr=vector(1)&expr=vector(2)")),
        "{hash}"
    );
    b.screenshot("22-explore-queries");
    // A shared link opens both; the table says which query each row is from.
    b.goto(&format!("/?queries{}", hash.as_str().unwrap_or("")));
    b.click("#tab-table");
    b.wait_text("#explore-table tbody", "both queries' rows", |t| {
        t.lines().count() == 2
    });
    let rows = b.rows("#explore-table tbody tr");
    assert!(
        rows[0].starts_with("A\t") && rows[0].contains("\t1\t"),
        "{rows:?}"
    );
    assert!(
        rows[1].starts_with("B\t") && rows[1].contains("\t2\t"),
        "{rows:?}"
    );
    // A query that fails says so beside the other's result.
    b.fill("#explore-expr-2", "vector(");
    b.click("#explore-run");
    b.wait_text("#explore-out", "the failed query named", |t| {
        t.contains("Query B:")
    });
    assert_eq!(b.rows("#explore-table tbody tr").len(), 1);
    // Removed: one query left, and in the URL.
    b.click("#explore-queries [data-query='2'] button.query-remove");
    b.wait_text("#explore-status", "one query", |t| t.starts_with('1'));
    let hash = b.js("return decodeURIComponent(location.hash);");
    assert!(
        hash.as_str()
            .is_some_and(|h| h.matches("expr=").count() == 1 && h.contains("expr=vector(1)")),
        "{hash}"
    );

    // --- Silences: edited in place (comment, end), then replaced (matchers).
    let (s, made) = call(
        &argus,
        Method::POST,
        "/api/v2/silences",
        Some(&argus.token),
        Some(&json!({
            "matchers": [{"name": "alertname", "value": "UiEdit", "isRegex": false, "isEqual": true}],
            "startsAt": "2020-01-01T00:00:00Z",
            "endsAt": "2099-01-01T00:00:00Z",
            "createdBy": "test", "comment": "first"})),
    );
    assert_eq!(s, 200, "{made}");
    let id = made["silenceID"].as_str().unwrap_or_default().to_string();
    let starts = silence(&argus, &id)["startsAt"].clone();
    b.route("#/alerts?tab=silences");
    let row = format!("#silences-table tr[data-silence='{id}']");
    b.click(&format!("{row} button.silence-edit"));
    assert_eq!(
        b.js("return document.querySelector('#silence-matchers').value;"),
        json!("alertname=\"UiEdit\"")
    );
    // The end, as the page shows it in the browser's zone (UTC+8; the input leaves out
    // seconds that are zero).
    let ends = b.js("return document.querySelector('#silence-ends').value;");
    assert!(
        ends.as_str()
            .is_some_and(|e| e.starts_with("2099-01-01T08:00")),
        "{ends}"
    );
    b.fill("#silence-comment", "second");
    b.js("const e = document.querySelector('#silence-ends'); e.value = '2098-06-01T08:00:00'; return true;");
    b.screenshot("23-silence-edit");
    b.click("#silence-save");
    b.wait_text("#silence-note", "saved in place", |t| t == "Saved.");
    let same = silence(&argus, &id);
    assert_eq!(same["comment"], "second", "{same}");
    assert_eq!(same["status"]["state"], "active", "{same}");
    assert_eq!(same["startsAt"], starts, "the start kept: {same}");
    assert!(
        same["endsAt"]
            .as_str()
            .is_some_and(|e| e.starts_with("2098-06-01T00:00:00")),
        "{same}"
    );
    b.click(&format!("{row} button.silence-edit"));
    b.fill(
        "#silence-matchers",
        "alertname=\"UiEdit2\", host=~\"web-.*\"",
    );
    b.click("#silence-save");
    let note = b.wait_text("#silence-note", "replaced", |t| t.contains("expired"));
    let old = silence(&argus, &id);
    assert_eq!(old["status"]["state"], "expired", "{old}");
    let (_, list) = argus.get("/api/v2/silences");
    let new: Vec<&Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["status"]["state"] == "active" && s["comment"] == "second")
        .collect();
    assert_eq!(new.len(), 1, "{list}");
    let new_id = new[0]["id"].as_str().unwrap_or_default();
    assert_ne!(new_id, id);
    assert!(note.contains(new_id), "{note}");
    assert_eq!(
        new[0]["matchers"],
        json!([
            {"name": "alertname", "value": "UiEdit2", "isRegex": false, "isEqual": true},
            {"name": "host", "value": "web-.*", "isRegex": true, "isEqual": true}
        ]),
        "{}",
        new[0]
    );
    // The expired one is made again as a new silence, as Alertmanager's "Recreate".
    b.click(&format!("{row} button.silence-recreate"));
    b.fill("#silence-hours", "1");
    b.click("#silence-save");
    wait_for("a silence for UiEdit again", WAIT, || {
        let (_, list) = argus.get("/api/v2/silences");
        list.as_array()?
            .iter()
            .find(|s| {
                s["status"]["state"] == "active"
                    && s["matchers"][0]["value"] == "UiEdit"
                    && s["id"] != json!(id)
            })
            .map(|_| ())
    });

    // --- Maintenance windows: a weekly one and a one-off, edited.
    let (s, w) = call(
        &argus,
        Method::POST,
        "/api/argus/maintenance",
        Some(&argus.token),
        Some(&json!({
            "name": "ui edit window", "groups": ["g1"],
            "matchers": [{"name": "severity", "value": "page", "isRegex": false, "isEqual": true}],
            "schedule": {"type": "weekly", "weekdays": ["sunday"], "start": "02:00", "end": "04:00", "timeZone": "Asia/Shanghai"},
            "comment": "kernel"})),
    );
    assert_eq!(s, 201, "{w}");
    let wid = w["data"]["id"].as_str().unwrap_or_default().to_string();
    let once = json!({"name": "ui once", "hosts": ["h1"], "schedule": {"type": "once",
        "startsAt": "2030-05-01T10:00:00.123Z", "endsAt": "2030-05-01T12:00:00Z"}});
    let (s, o) = call(
        &argus,
        Method::POST,
        "/api/argus/maintenance",
        Some(&argus.token),
        Some(&once),
    );
    assert_eq!(s, 201, "{o}");
    let oid = o["data"]["id"].as_str().unwrap_or_default().to_string();
    b.route("#/alerts?tab=maintenance");
    b.click("#windows-table tr[data-window='ui edit window'] button.mw-edit");
    assert_eq!(
        b.js("return [document.querySelector('#mw-groups').value, document.querySelector('#mw-day-sunday').checked, document.querySelector('#mw-kind').value, document.querySelector('#mw-comment').value];"),
        json!(["g1", true, "weekly", "kernel"])
    );
    b.click("#mw-day-saturday");
    b.fill("#mw-groups", "g1, g2");
    b.js("document.querySelector('#mw-end').value = '05:00'; return true;");
    b.screenshot("24-maintenance-edit");
    b.click("#mw-save");
    b.wait_text(
        "#windows-table tr[data-window='ui edit window']",
        "the window changed",
        |t| t.contains("g2") && t.contains("Saturday"),
    );
    let (_, got) = argus.get(&format!("/api/argus/maintenance/{wid}"));
    let got = &got["data"];
    assert_eq!(got["groups"], json!(["g1", "g2"]), "{got}");
    assert_eq!(
        got["schedule"]["weekdays"],
        json!(["saturday", "sunday"]),
        "{got}"
    );
    assert_eq!(got["schedule"]["end"], "05:00", "{got}");
    assert_eq!(got["schedule"]["timeZone"], "Asia/Shanghai", "{got}");
    assert_eq!(
        got["matchers"][0]["name"], "severity",
        "what the form does not show is kept: {got}"
    );
    assert_eq!(got["comment"], "kernel", "{got}");
    // The one-off keeps its times to the millisecond when only its name changes.
    b.click("#windows-table tr[data-window='ui once'] button.mw-edit");
    assert_eq!(
        b.js("return document.querySelector('#mw-starts').value;"),
        json!("2030-05-01T18:00")
    );
    b.fill("#mw-name", "ui once renamed");
    b.click("#mw-save");
    b.el("#windows-table tr[data-window='ui once renamed']");
    let (_, got) = argus.get(&format!("/api/argus/maintenance/{oid}"));
    assert_eq!(
        got["data"]["schedule"]["startsAt"], "2030-05-01T10:00:00.123Z",
        "{got}"
    );
    assert_eq!(
        got["data"]["schedule"]["endsAt"], "2030-05-01T12:00:00.000Z",
        "{got}"
    );
    assert_eq!(got["data"]["hosts"], json!(["h1"]), "{got}");

    // --- An event rule from the form: previewed, saved, fired by an event, edited.
    let event = |code: &str, mount: &str| {
        format!(
            "{{\"type\":\"uialarm\",\"host\":\"{host}\",\"code\":\"{code}\",\"mount\":\"{mount}\"}}\n"
        )
    };
    let (s, body) = argus.post("/api/argus/events", event("disk_full", "/var"));
    assert_eq!(s, 204, "{body}");
    wait_for("the alarm stored", WAIT, || {
        let (_, r) = argus.get("/api/argus/events?type=uialarm");
        (r["data"].as_array().map_or(0, Vec::len) == 1).then_some(())
    });
    b.route("#/alerts?tab=rules");
    b.click("#rule-new");
    b.fill("#rule-name", "UiDiskFull");
    b.choose("#rule-mode", "event");
    assert_eq!(
        b.js("return document.querySelector('#rule-for').closest('.field').hidden;"),
        json!(true),
        "no 'pending for' for an event rule"
    );
    b.fill("#rule-event-type", "uialarm");
    b.fill("#rule-event-match", "code=disk_full");
    b.fill("#rule-event-labels", "mount");
    b.fill("#rule-event-resolve", "10m");
    b.fill(
        "#rule-summary",
        "{{ $labels.host }} {{ $labels.mount }} full",
    );
    b.click("#rule-preview");
    b.wait_text("#rule-msg", "the preview of the events", |t| {
        t.contains("last hour: 1; matching: 1") && t.contains("mount=/var")
    });
    b.screenshot("25-event-rule");
    b.click("#rule-save");
    b.wait_text("#rules-table", "the event rule listed", |t| {
        t.contains("UiDiskFull") && t.contains("events of type uialarm: code=disk_full")
    });
    let rule = api_rule(&argus, "UiDiskFull").unwrap_or_else(|| panic!("no UiDiskFull rule"));
    assert_eq!(
        rule["rule"]["event"],
        json!({"type": "uialarm", "match": ["code=disk_full"], "labels_from": ["mount"], "resolve_after": "10m"}),
        "{rule}"
    );
    assert_eq!(rule["rule"].get("for"), None, "{rule}");
    let (s, body) = argus.post("/api/argus/events", event("disk_full", "/data"));
    assert_eq!(s, 204, "{body}");
    wait_for(
        "the event rule's alert on the alerts page",
        WAIT * 2,
        || {
            b.click("#tab-active");
            b.exists("#alerts-active tr[data-rule='UiDiskFull'] td.state-firing")
                .then_some(())
        },
    );
    b.wait_text(
        "#alerts-active tr[data-rule='UiDiskFull']",
        "its labels and summary",
        |t| t.contains("mount=/data") && t.contains(&format!("{host} /data full")),
    );
    b.screenshot("25-event-alert");
    b.click("#tab-rules");
    b.click("#rules-table tr[data-rule='UiDiskFull'] button.rule-edit");
    assert_eq!(
        b.js("return [document.querySelector('#rule-mode').value, document.querySelector('#rule-event-type').value, document.querySelector('#rule-event-match').value];"),
        json!(["event", "uialarm", "code=disk_full"])
    );
    b.fill("#rule-event-match", "code=disk_full\nlevel!=debug");
    b.click("#rule-save");
    wait_for("the event rule edited", WAIT, || {
        let r = api_rule(&argus, "UiDiskFull")?;
        (r["rule"]["event"]["match"] == json!(["code=disk_full", "level!=debug"])).then_some(())
    });
    // A bad matcher is refused, naming it.
    b.click("#rules-table tr[data-rule='UiDiskFull'] button.rule-edit");
    b.fill("#rule-event-match", "code");
    b.click("#rule-save");
    b.wait_text("#rule-msg", "the bad matcher named", |t| {
        t.contains("event.match[0]")
    });

    // --- The host's no-data alert, from its page; and in the rule form.
    b.route(&format!("#/host/{host_id}"));
    b.wait_text("#host-nodata", "no no-data alert yet", |t| {
        t.contains("No rule alerts")
    });
    b.fill("#nodata-minutes", "7");
    b.click("#nodata-create");
    b.wait_text("#nodata-rules", "the host's no-data alert", |t| {
        t.contains("HostNoData") && t.contains("down for 7 min")
    });
    let nd = api_rule(&argus, "HostNoData").unwrap_or_else(|| panic!("no HostNoData rule"));
    assert_eq!(
        nd["rule"]["no_data"],
        json!({"host": host, "minutes": 7}),
        "{nd}"
    );
    assert_eq!(nd["enabled"], true, "{nd}");
    b.screenshot("26-host-nodata");
    b.fill("#nodata-minutes", "9");
    b.click("#nodata-save");
    b.wait_text("#nodata-rules", "the new minutes", |t| {
        t.contains("down for 9 min")
    });
    let nd2 = api_rule(&argus, "HostNoData").unwrap_or_else(|| panic!("HostNoData gone"));
    assert_eq!(nd2["id"], nd["id"], "changed, not made again");
    assert_eq!(nd2["rule"]["no_data"]["minutes"], 9, "{nd2}");
    assert!(
        nd2["rule"]["annotations"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("9 minutes")),
        "{nd2}"
    );
    b.route("#/alerts?tab=rules");
    b.click("#rules-table tr[data-rule='HostNoData'] button.rule-edit");
    assert_eq!(
        b.js("return [document.querySelector('#rule-mode').value, document.querySelector('#rule-nodata-kind').value, document.querySelector('#rule-nodata-host').value, document.querySelector('#rule-nodata-minutes').value];"),
        json!(["no_data", "host", host, "9"])
    );
    b.route(&format!("#/host/{host_id}"));
    b.el("#nodata-delete");
    b.confirm_yes();
    b.click("#nodata-delete");
    b.wait_text("#host-nodata", "the alert deleted", |t| {
        t.contains("No rule alerts")
    });
    assert!(api_rule(&argus, "HostNoData").is_none());

    // --- An admin sets another user's password.
    let (s, body) = call(
        &argus,
        Method::POST,
        "/api/argus/users",
        Some(&argus.token),
        Some(&json!({"name": "pat", "password": "pat-pass-123", "role": "editor"})),
    );
    assert_eq!(s, 201, "{body}");
    let login = |name: &str, pw: &str| {
        call(
            &argus,
            Method::POST,
            "/api/argus/login",
            None,
            Some(&json!({"name": name, "password": pw})),
        )
    };
    let (s, pat) = login("pat", "pat-pass-123");
    assert_eq!(s, 200, "{pat}");
    let pat_session = pat["token"].as_str().unwrap_or_default().to_string();
    // Not by anyone but an admin, and not too short.
    let (s, body) = call(
        &argus,
        Method::PATCH,
        "/api/argus/users/admin",
        Some(&pat_session),
        Some(&json!({"password": "taken-over-1"})),
    );
    assert_eq!(s, 403, "{body}");
    let (s, body) = call(
        &argus,
        Method::PATCH,
        "/api/argus/users/pat",
        Some(&argus.token),
        Some(&json!({"password": "short"})),
    );
    assert_eq!(s, 400, "{body}");
    assert!(
        crate::common::error_of(&body).contains("\"password\""),
        "{body}"
    );
    b.route("#/settings?tab=users");
    b.click("#users-table tr[data-user='pat'] button.user-password");
    b.fill("#user-new-password", "pat-new-pass-1");
    b.fill("#user-new-password2", "pat-new-pass-2");
    b.click("#user-password-save");
    b.wait_text("#user-password-msg", "the two passwords differ", |t| {
        t.contains("differ")
    });
    b.fill("#user-new-password2", "pat-new-pass-1");
    b.screenshot("27-user-password");
    b.click("#user-password-save");
    b.wait_text("#users-note", "the password changed", |t| t.contains("pat"));
    assert_eq!(login("pat", "pat-new-pass-1").0, 200);
    assert_eq!(login("pat", "pat-pass-123").0, 401);
    let (s, me) = call(
        &argus,
        Method::GET,
        "/api/argus/me",
        Some(&pat_session),
        None,
    );
    assert_eq!(s, 401, "pat's sessions ended: {me}");
    let (_, audit) = argus.get("/api/argus/audit?object=user:pat&limit=1");
    let entry = &audit["data"][0];
    assert_eq!(entry["action"], "update", "{audit}");
    assert_eq!(entry["after"]["password"], "changed", "{audit}");
    assert!(!entry.to_string().contains("pat-new-pass-1"), "{audit}");

    // Chinese: the new pages and forms are translated.
    b.route("#/events");
    b.choose("#lang", "zh-CN");
    b.wait_text(
        "#header nav a[href='#/events']",
        "the events page in Chinese",
        |t| t == "事件",
    );
    assert_eq!(b.text("label[for='events-host']"), "主机");
    b.route("#/hosts");
    b.click("#hosts-table input.host-select");
    assert_eq!(b.text("#bulk-apply"), "应用");
    b.screenshot("28-hosts-bulk-zh");
    b.choose("#lang", "en");
    assert_eq!(b.js("return window.argusCspViolations;"), json!(0));
}
