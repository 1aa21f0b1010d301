//! Users, roles, tokens, the audit log and the host inventory over HTTP, each run against
//! SQLite (the default) and a real PostgreSQL started by the test.

use crate::common::{Argus, call, client, error_of, start, value, wait_for};
use crate::external::Postgres;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// Where a test's server keeps its database: `""` (SQLite) or a PostgreSQL database of its
/// own, on a server started for the test (kept alive with the returned guard).
fn backends(test: &str) -> Vec<(&'static str, String, Option<Postgres>)> {
    let pg = Postgres::start();
    pg.create_db(test);
    let config = format!("[database]\nurl = \"{}\"\n", pg.url(test));
    vec![
        ("sqlite", String::new(), None),
        ("postgres", config, Some(pg)),
    ]
}

/// Makes a user with `role` and logs them in: their session token.
fn user_session(argus: &Argus, name: &str, role: &str) -> String {
    let (s, b) = call(
        argus,
        Method::POST,
        "/api/argus/users",
        Some(&argus.token),
        Some(&json!({"name": name, "password": format!("{name}-password"), "role": role})),
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = call(
        argus,
        Method::POST,
        "/api/argus/login",
        None,
        Some(&json!({"name": name, "password": format!("{name}-password")})),
    );
    assert_eq!(s, 200, "{b}");
    assert!(b["expires_at"].as_i64().unwrap_or(0) > 0, "{b}");
    b["token"].as_str().unwrap_or("").to_string()
}

#[test]
fn every_route_group_answers_401_403_or_2xx_by_role() {
    for (backend, config, _pg) in backends("roles") {
        let argus = start("server", &config);
        let viewer = user_session(&argus, "vera", "viewer");
        let editor = user_session(&argus, "ed", "editor");
        let admin = user_session(&argus, "ada", "admin");
        // (method, path, body, what viewer, editor and admin get)
        type Case = (Method, &'static str, Option<Value>, [u16; 3]);
        let cases: Vec<Case> = vec![
            (Method::GET, "/api/v1/query?query=1", None, [200, 200, 200]),
            (Method::GET, "/api/v1/labels", None, [200, 200, 200]),
            (
                Method::GET,
                "/api/argus/events?type=alarm",
                None,
                [200, 200, 200],
            ),
            (Method::GET, "/api/argus/hosts", None, [200, 200, 200]),
            (Method::GET, "/api/argus/locations", None, [200, 200, 200]),
            (Method::GET, "/api/argus/groups", None, [200, 200, 200]),
            (
                Method::GET,
                "/api/argus/agent/configs",
                None,
                [200, 200, 200],
            ),
            (Method::POST, "/api/argus/hosts", None, [403, 201, 201]),
            (
                Method::PATCH,
                "/api/argus/hosts/editor-host",
                Some(json!({"owner": "x"})),
                [403, 200, 200],
            ),
            (
                Method::DELETE,
                "/api/argus/hosts/editor-host",
                None,
                [403, 204, 404],
            ),
            (Method::GET, "/api/argus/tokens", None, [200, 200, 200]),
            (Method::GET, "/api/argus/me", None, [200, 200, 200]),
            (Method::GET, "/api/argus/users", None, [403, 403, 200]),
            (Method::GET, "/api/argus/audit", None, [403, 403, 200]),
            (Method::GET, "/api/argus/admin/tsdb", None, [403, 403, 200]),
            (
                Method::POST,
                "/api/argus/admin/flush",
                None,
                [403, 403, 200],
            ),
        ];
        for (method, path, body, want) in &cases {
            // No credentials and wrong ones: 401 everywhere but /health and login.
            let (s, _) = call(&argus, method.clone(), path, None, body.as_ref());
            assert_eq!(s, 401, "{backend}: {method} {path} without credentials");
            let (s, _) = call(&argus, method.clone(), path, Some("wrong"), body.as_ref());
            assert_eq!(s, 401, "{backend}: {method} {path} with a wrong token");
            for (cred, role, want) in [
                (&viewer, "viewer", want[0]),
                (&editor, "editor", want[1]),
                (&admin, "admin", want[2]),
            ] {
                // A second create must not clash: give each role its own host.
                let body = match (method, *path) {
                    (&Method::POST, "/api/argus/hosts") => {
                        Some(json!({"hostname": format!("{role}-host")}))
                    }
                    _ => body.clone(),
                };
                let (s, b) = call(&argus, method.clone(), path, Some(cred), body.as_ref());
                assert_eq!(s, want, "{backend}: {method} {path} as {role}: {b}");
                if s == 403 {
                    assert!(error_of(&b).contains("role"), "{backend}: {b}");
                }
            }
        }
        // Configuration changes need an editor.
        for (cred, want) in [(&viewer, 403), (&editor, 204), (&admin, 204)] {
            let r = client()
                .put(format!("{}/api/argus/agent/config?group=web", argus.url))
                .bearer_auth(cred)
                .body("[agent]\ninterval_secs = 5\n")
                .send()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.status().as_u16(), want, "{backend}");
        }
        // Ingest keeps its token rules: any valid credential, within its namespaces.
        for cred in [&viewer, &editor, &admin, &argus.token] {
            let r = client()
                .post(format!("{}/write?precision=s", argus.url))
                .bearer_auth(cred)
                .body("m,host=x v=1 1700000000")
                .send()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.status().as_u16(), 204, "{backend}");
        }
        let r = client()
            .post(format!("{}/write", argus.url))
            .body("m v=1")
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 401);
        // /health and login need nothing; a wrong password is 401, naming nothing.
        assert_eq!(call(&argus, Method::GET, "/health", None, None).0, 200);
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/login",
            None,
            Some(&json!({"name": "vera", "password": "not-hers-at-all"})),
        );
        assert_eq!(s, 401, "{b}");
        // A token limited to a namespace is refused where a role is needed, even an admin's.
        let (s, t) = call(
            &argus,
            Method::POST,
            "/api/argus/tokens",
            Some(&admin),
            Some(&json!({"name": "team-a", "namespaces": ["team-a"]})),
        );
        assert_eq!(s, 201, "{t}");
        let ns_token = t["data"]["token"].as_str().unwrap_or("").to_string();
        let (s, b) = call(
            &argus,
            Method::GET,
            "/api/argus/hosts",
            Some(&ns_token),
            None,
        );
        assert_eq!(s, 403, "{b}");
        assert!(error_of(&b).contains("namespace"), "{b}");
    }
}

#[test]
fn sessions_tokens_users_and_the_audit_log() {
    for (backend, config, _pg) in backends("users") {
        let argus = start("server", &config);
        let password = argus
            .admin_password
            .clone()
            .unwrap_or_else(|| panic!("{backend}: no admin password printed"));
        // Login sets an HttpOnly cookie that authenticates like the bearer token.
        let r = client()
            .post(format!("{}/api/argus/login", argus.url))
            .json(&json!({"name": "admin", "password": password}))
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 200);
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let pair = cookie.split(';').next().unwrap_or("").to_string();
        let me = |extra: &str| {
            let r = client()
                .get(format!("{}/api/argus/me", argus.url))
                .header("cookie", extra)
                .send()
                .unwrap_or_else(|e| panic!("{e}"));
            r.status().as_u16()
        };
        assert_eq!(me(&pair), 200);
        // Users: create (duplicate 409, unknown field 400 naming it), list, change.
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/users",
            Some(&argus.token),
            Some(
                &json!({"name": "bob", "password": "bob-password", "role": "editor", "email": "bob@example.com"}),
            ),
        );
        assert_eq!(s, 201, "{b}");
        assert!(b["data"].get("password_hash").is_none(), "{b}");
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/users",
            Some(&argus.token),
            Some(&json!({"name": "bob", "password": "other-password"})),
        );
        assert_eq!(s, 409, "{b}");
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/users",
            Some(&argus.token),
            Some(&json!({"name": "carl", "password": "carl-password", "rol": "admin"})),
        );
        assert_eq!(s, 400, "{b}");
        assert!(error_of(&b).contains("rol"), "{b}");
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/users",
            Some(&argus.token),
            Some(&json!({"name": "carl", "password": "short"})),
        );
        assert_eq!(s, 400, "{b}");
        assert!(error_of(&b).contains("\"password\""), "{b}");
        let (_, b) = call(
            &argus,
            Method::GET,
            "/api/argus/users",
            Some(&argus.token),
            None,
        );
        let names: Vec<&str> = b["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["name"].as_str())
            .collect();
        assert_eq!(names, ["admin", "bob"]);
        // Bob changes his own password but not his role.
        let bob = {
            let (_, b) = call(
                &argus,
                Method::POST,
                "/api/argus/login",
                None,
                Some(&json!({"name": "bob", "password": "bob-password"})),
            );
            b["token"].as_str().unwrap_or("").to_string()
        };
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/users/bob",
            Some(&bob),
            Some(&json!({"role": "admin"})),
        );
        assert_eq!(s, 403, "{b}");
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/users/admin",
            Some(&bob),
            Some(&json!({"password": "taken-over!"})),
        );
        assert_eq!(s, 403, "{b}");
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/users/bob",
            Some(&bob),
            Some(&json!({"password": "bob-new-password"})),
        );
        assert_eq!(s, 200, "{b}");
        let (s, _) = call(
            &argus,
            Method::POST,
            "/api/argus/login",
            None,
            Some(&json!({"name": "bob", "password": "bob-password"})),
        );
        assert_eq!(s, 401);
        // Bob's API token: shown once, limited to a namespace and to viewer.
        let (s, t) = call(
            &argus,
            Method::POST,
            "/api/argus/tokens",
            Some(&bob),
            Some(&json!({"name": "grafana", "role": "viewer", "namespaces": ["team-b"]})),
        );
        assert_eq!(s, 201, "{t}");
        let token = t["data"]["token"].as_str().unwrap_or("").to_string();
        let id = t["data"]["id"].as_str().unwrap_or("").to_string();
        assert_eq!(token.len(), 64);
        // A token limited to a namespace manages no tokens and changes no password.
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/tokens",
            Some(&token),
            Some(&json!({"name": "more"})),
        );
        assert_eq!(s, 403, "{b}");
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/users/bob",
            Some(&token),
            Some(&json!({"password": "stolen-password"})),
        );
        assert_eq!(s, 403, "{b}");
        // Nor does an unlimited token of bob's: a password changes in a logged-in session.
        let (_, t3) = call(
            &argus,
            Method::POST,
            "/api/argus/tokens",
            Some(&bob),
            Some(&json!({"name": "ci", "role": "viewer"})),
        );
        let ci = t3["data"]["token"].as_str().unwrap_or("").to_string();
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/users/bob",
            Some(&ci),
            Some(&json!({"password": "stolen-password"})),
        );
        assert_eq!(s, 403, "{b}");
        assert!(error_of(&b).contains("log in"), "{b}");
        // A viewer token cannot make a token above itself, even for an admin user.
        let (_, t4) = call(
            &argus,
            Method::POST,
            "/api/argus/tokens",
            Some(&argus.token),
            Some(&json!({"name": "ro", "role": "viewer"})),
        );
        let ro = t4["data"]["token"].as_str().unwrap_or("").to_string();
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/tokens",
            Some(&ro),
            Some(&json!({"name": "up", "role": "admin"})),
        );
        assert_eq!(s, 400, "{b}");
        assert!(error_of(&b).contains("\"role\""), "{b}");
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/tokens",
            Some(&ro),
            Some(&json!({"name": "same"})),
        );
        assert_eq!(
            (s, b["data"]["role"].as_str()),
            (201, Some("viewer")),
            "{b}"
        );
        for id in [&t3["data"]["id"], &t4["data"]["id"], &b["data"]["id"]] {
            let (s, _) = call(
                &argus,
                Method::DELETE,
                &format!("/api/argus/tokens/{}", id.as_str().unwrap_or("")),
                Some(&argus.token),
                None,
            );
            assert_eq!(s, 204);
        }
        let (s, t2) = call(
            &argus,
            Method::POST,
            "/api/argus/tokens",
            Some(&bob),
            Some(&json!({"name": "too-much", "role": "admin"})),
        );
        assert_eq!(s, 400, "{t2}");
        assert!(error_of(&t2).contains("\"role\""), "{t2}");
        let (_, list) = call(&argus, Method::GET, "/api/argus/tokens", Some(&bob), None);
        assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
        let (s, b) = call(
            &argus,
            Method::GET,
            "/api/argus/audit?colour=red",
            Some(&argus.token),
            None,
        );
        assert_eq!(s, 400, "{b}");
        assert!(error_of(&b).contains("colour"), "{b}");
        assert!(!list.to_string().contains(&token));
        // It writes into its namespace only, and reads only it.
        let write = |ns: &str| {
            client()
                .post(format!("{}/write?db={ns}&precision=s", argus.url))
                .bearer_auth(&token)
                .body("tb v=7 1700000000")
                .send()
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        };
        assert_eq!(write("team-b"), 204);
        assert_eq!(write("team-c"), 403);
        argus.drained();
        let (s, q) = call(
            &argus,
            Method::GET,
            "/api/v1/query?query=count(tb_v%20@%201700000000)",
            Some(&token),
            None,
        );
        assert_eq!(
            (s, q["data"]["result"][0]["value"][1].as_str()),
            (200, Some("1")),
            "{q}"
        );
        // Revoked: refused at once.
        let (s, _) = call(
            &argus,
            Method::DELETE,
            &format!("/api/argus/tokens/{id}"),
            Some(&bob),
            None,
        );
        assert_eq!(s, 204);
        assert_eq!(write("team-b"), 401);
        // Logout ends the session (and clears the cookie).
        let r = client()
            .post(format!("{}/api/argus/logout", argus.url))
            .header("cookie", &pair)
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 204);
        assert!(
            r.headers()
                .get("set-cookie")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.contains("Max-Age=0"))
        );
        assert_eq!(me(&pair), 401);
        // The audit log: who did what, filtered by user and object.
        let (s, log) = call(
            &argus,
            Method::GET,
            "/api/argus/audit?user=bob",
            Some(&argus.token),
            None,
        );
        assert_eq!(s, 200, "{log}");
        let actions: Vec<(String, String)> = log["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or("").to_string(),
                    e["object_kind"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(
            actions,
            [
                ("revoke", "token"),
                ("create", "token"),
                ("create", "token"),
                ("update", "user"),
                ("login", "session")
            ]
            .map(|(a, o)| (a.to_string(), o.to_string()))
        );
        let (_, log) = call(
            &argus,
            Method::GET,
            "/api/argus/audit?object=user:bob",
            Some(&argus.token),
            None,
        );
        let first = &log["data"][log["data"]
            .as_array()
            .map_or(0, |a| a.len().saturating_sub(1))];
        assert_eq!(
            (first["action"].as_str(), first["after"]["role"].as_str()),
            (Some("create"), Some("editor")),
            "{log}"
        );
        assert_eq!(log["data"][0]["after"]["password"], "changed", "{log}");
        let (_, none) = call(
            &argus,
            Method::GET,
            "/api/argus/audit?start=2000000000",
            Some(&argus.token),
            None,
        );
        assert_eq!(none["data"], json!([]));
        let (s, bad) = call(
            &argus,
            Method::GET,
            "/api/argus/audit?start=yesterday",
            Some(&argus.token),
            None,
        );
        assert_eq!(s, 400, "{bad}");
        assert!(error_of(&bad).contains("\"start\""), "{bad}");
    }
}

fn heartbeat(argus: &Argus, host: &str, machine: &str) {
    let (s, b) = call(
        argus,
        Method::POST,
        "/api/argus/heartbeat",
        Some(&argus.token),
        Some(
            &json!({"facts": {"hostname": host, "machine_id": machine, "os": "Debian GNU/Linux 12",
            "kernel": "6.1.0", "agent_version": "0.1.0", "ips": ["10.1.0.1"]},
            "interval_secs": 10, "config": {"etag": "\"e1\"", "error": null}}),
        ),
    );
    assert_eq!(s, 204, "{b}");
}

#[test]
fn the_inventory_registers_edits_filters_and_feeds_promql() {
    for (backend, config, _pg) in backends("inventory") {
        let config = format!("{config}[inventory]\nevaluation_interval_secs = 1\n");
        let argus = start("server", &config);
        let t = Some(argus.token.as_str());
        heartbeat(&argus, "web1", "m-web1");
        heartbeat(&argus, "web2", "m-web2");
        let hosts = wait_for("two hosts registered", Duration::from_secs(15), || {
            let (_, b) = call(
                &argus,
                Method::GET,
                "/api/argus/hosts?sort=hostname",
                t,
                None,
            );
            (b["total"] == 2).then_some(b)
        });
        assert_eq!(hosts["data"][0]["id"], "m-web1", "{backend}: {hosts}");
        assert_eq!(hosts["data"][0]["status"], "up");
        assert_eq!(hosts["data"][0]["os"], "Debian GNU/Linux 12");
        assert_eq!(hosts["data"][0]["config_version"], "\"e1\"");
        // A host added by hand, never reported: down.
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/hosts",
            t,
            Some(
                &json!({"hostname": "db1", "location": "dc2", "groups": ["db"], "owner": "dba@example.com"}),
            ),
        );
        assert_eq!(s, 201, "{b}");
        assert_eq!(
            (b["data"]["id"].as_str(), b["data"]["status"].as_str()),
            (Some("db1"), Some("down"))
        );
        // Bad input names the field and changes nothing.
        for (body, field, code) in [
            (json!({"hostname": "web1"}), "hostname", 409),
            (json!({"hostname": "x", "id": "bad id"}), "id", 400),
            (json!({"hostname": "y", "colour": "red"}), "colour", 400),
            (json!({"hostname": "z", "ips": ["999.1.1.1"]}), "ips", 400),
        ] {
            let (s, b) = call(&argus, Method::POST, "/api/argus/hosts", t, Some(&body));
            assert_eq!(s, code, "{backend}: {body}: {b}");
            assert!(error_of(&b).contains(field), "{backend}: {b}");
        }
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/hosts/m-web1",
            t,
            Some(&json!({"locaton": "dc1"})),
        );
        assert_eq!(s, 400, "{b}");
        assert!(error_of(&b).contains("locaton"), "{b}");
        let (s, _) = call(
            &argus,
            Method::PATCH,
            "/api/argus/hosts/nobody",
            t,
            Some(&json!({"owner": "x"})),
        );
        assert_eq!(s, 404);
        let (_, all) = call(&argus, Method::GET, "/api/argus/hosts", t, None);
        assert_eq!(all["total"], 3, "{all}");
        // Edit web1 and web2.
        for (id, loc, groups, team) in [
            ("m-web1", "dc1", json!(["web", "edge"]), "a"),
            ("m-web2", "dc1", json!(["web"]), "b"),
        ] {
            let (s, b) = call(
                &argus,
                Method::PATCH,
                &format!("/api/argus/hosts/{id}"),
                t,
                Some(
                    &json!({"location": loc, "groups": groups, "labels": {"team": team}, "namespaces": ["prod"]}),
                ),
            );
            assert_eq!(s, 200, "{b}");
        }
        // Many at once: groups added and removed, all or none.
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/hosts",
            t,
            Some(&json!({"ids": ["m-web1", "ghost"], "add_groups": ["canary"]})),
        );
        assert_eq!(s, 404, "{b}");
        assert!(error_of(&b).contains("ghost"), "{b}");
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/hosts",
            t,
            Some(
                &json!({"ids": ["m-web1", "m-web2"], "add_groups": ["canary"], "remove_groups": ["edge"], "set": {"owner": "web-team"}}),
            ),
        );
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"][0]["groups"], json!(["canary", "web"]), "{b}");
        assert_eq!(b["data"][1]["owner"], "web-team", "{b}");
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/hosts",
            t,
            Some(&json!({"ids": ["m-web1"], "remove_groups": ["canary"], "add_groups": ["edge"]})),
        );
        assert_eq!(s, 200, "{b}");
        let (s, b) = call(
            &argus,
            Method::PATCH,
            "/api/argus/hosts",
            t,
            Some(&json!({"ids": [], "set": {"owner": "x"}})),
        );
        assert_eq!(s, 400, "{b}");
        assert!(error_of(&b).contains("\"ids\""), "{b}");
        let names = |q: &str| {
            let (s, b) = call(
                &argus,
                Method::GET,
                &format!("/api/argus/hosts?{q}"),
                t,
                None,
            );
            assert_eq!(s, 200, "{q}: {b}");
            b["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h["hostname"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        };
        assert_eq!(names("location=dc1&sort=-hostname"), ["web2", "web1"]);
        assert_eq!(names("group=edge"), ["web1"]);
        assert_eq!(names("label=team:b"), ["web2"]);
        assert_eq!(names("status=down"), ["db1"]);
        assert_eq!(names("q=DBA@"), ["db1"]);
        assert_eq!(names("sort=hostname&limit=2&page=2"), ["web2"]);
        let (s, b) = call(&argus, Method::GET, "/api/argus/hosts?sort=colour", t, None);
        assert_eq!(s, 400, "{b}");
        assert!(error_of(&b).contains("\"sort\""), "{b}");
        let (s, b) = call(&argus, Method::GET, "/api/argus/hosts?colour=red", t, None);
        assert_eq!(s, 400, "{b}");
        assert!(error_of(&b).contains("colour"), "{b}");
        // Locations and groups with counts.
        let (_, l) = call(&argus, Method::GET, "/api/argus/locations", t, None);
        assert_eq!(
            l["data"],
            json!([{"name": "dc1", "hosts": 2, "up": 2, "down": 0}, {"name": "dc2", "hosts": 1, "up": 0, "down": 1}])
        );
        let (_, g) = call(&argus, Method::GET, "/api/argus/groups", t, None);
        let groups: Vec<(String, i64)> = g["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                (
                    g["name"].as_str().unwrap_or("").to_string(),
                    g["hosts"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            groups,
            [
                ("canary".to_string(), 1),
                ("db".to_string(), 1),
                ("edge".to_string(), 1),
                ("web".to_string(), 2)
            ]
        );
        // Unmanaged: no location, also hosts only seen in the store (Telegraf data).
        let r = client()
            .post(format!("{}/write", argus.url))
            .bearer_auth(&argus.token)
            .body("cpu,host=telegraf-only usage_idle=90")
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 204);
        let (s, b) = call(
            &argus,
            Method::POST,
            "/api/argus/hosts",
            t,
            Some(&json!({"hostname": "spare"})),
        );
        assert_eq!(s, 201, "{b}");
        argus.drained();
        let (_, u) = call(
            &argus,
            Method::GET,
            "/api/argus/hosts?unmanaged=true",
            t,
            None,
        );
        let un: Vec<(&str, bool)> = u["data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| {
                (
                    h["hostname"].as_str().unwrap_or(""),
                    h["registered"].as_bool().unwrap_or(true),
                )
            })
            .collect();
        assert_eq!(
            un,
            [("spare", true), ("telegraf-only", false)],
            "{backend}: {u}"
        );
        // The inventory in PromQL: up, and info joined by host.
        let up = wait_for("argus_host_up", Duration::from_secs(15), || {
            let r = argus.query("sort_desc(argus_host_up)");
            (r.len() == 4).then_some(r)
        });
        let by_host: Vec<(String, f64)> = up
            .iter()
            .map(|e| {
                (
                    e["metric"]["host"].as_str().unwrap_or("").to_string(),
                    value(e),
                )
            })
            .collect();
        assert!(
            by_host.contains(&("web1".to_string(), 1.0))
                && by_host.contains(&("db1".to_string(), 0.0)),
            "{by_host:?}"
        );
        let joined = wait_for("a join on argus_host_info", Duration::from_secs(15), || {
            let r = argus.query(r#"argus_host_up * on(host) group_left(location, label_team) argus_host_info{groups=~".*,web,.*"}"#);
            (r.len() == 2).then_some(r)
        });
        for e in &joined {
            assert_eq!(e["metric"]["location"], "dc1", "{e}");
            assert!(e["metric"]["label_team"].is_string(), "{e}");
        }
        // by-label finds a location's hosts from the inventory.
        let (s, b) = call(
            &argus,
            Method::GET,
            "/api/argus/analysis/by-label?label=location&value=dc1&metric=argus_host_up",
            t,
            None,
        );
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["hosts"], json!(["web1", "web2"]), "{b}");
        // Agent configuration: default, then groups (edge before web), then the host.
        for (q, text) in [
            ("", "[agent]\ninterval_secs = 30\n"),
            ("group=web", "[agent]\ninterval_secs = 20\n"),
            (
                "group=edge",
                "[agent]\ninterval_secs = 25\nlog_dirs = [\"/e\"]\n",
            ),
            ("host=m-web1", "[agent.labels]\nrole = \"front\"\n"),
        ] {
            let r = client()
                .put(format!("{}/api/argus/agent/config?{q}", argus.url))
                .bearer_auth(&argus.token)
                .body(text)
                .send()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.status().as_u16(), 204, "{q}");
        }
        let cfg = |q: &str| -> toml::Table {
            client()
                .get(format!("{}/api/argus/agent/config?{q}", argus.url))
                .bearer_auth(&argus.token)
                .send()
                .and_then(|r| r.text())
                .unwrap_or_default()
                .parse()
                .unwrap_or_default()
        };
        let web1 = cfg("host=web1&id=m-web1");
        assert_eq!(
            web1["agent"]["interval_secs"].as_integer(),
            Some(20),
            "{web1}"
        );
        assert_eq!(web1["agent"]["log_dirs"][0].as_str(), Some("/e"));
        assert_eq!(web1["agent"]["labels"]["role"].as_str(), Some("front"));
        let web2 = cfg("host=web2&id=m-web2");
        assert_eq!(web2["agent"]["interval_secs"].as_integer(), Some(20));
        assert!(web2["agent"].get("labels").is_none());
        assert_eq!(
            cfg("host=new-host")["agent"]["interval_secs"].as_integer(),
            Some(30)
        );
        // What the agent's /me/ns asks.
        let (s, me) = call(
            &argus,
            Method::GET,
            "/api/argus/agent/me?host=web1&id=m-web1",
            t,
            None,
        );
        assert_eq!(s, 200, "{me}");
        assert_eq!(
            me,
            json!({"id": "m-web1", "hostname": "web1", "namespaces": ["prod"], "groups": ["edge", "web"]})
        );
        let (s, _) = call(
            &argus,
            Method::GET,
            "/api/argus/agent/me?host=ghost",
            t,
            None,
        );
        assert_eq!(s, 404);
        // Delete; the audit log kept before and after.
        let (s, _) = call(&argus, Method::DELETE, "/api/argus/hosts/db1", t, None);
        assert_eq!(s, 204);
        let (s, _) = call(&argus, Method::GET, "/api/argus/hosts/db1", t, None);
        assert_eq!(s, 404);
        let (_, log) = call(
            &argus,
            Method::GET,
            "/api/argus/audit?object=host:m-web1",
            t,
            None,
        );
        // Newest first: the first edit is the last entry; the bulk edits came after it.
        let entries = log["data"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.len(), 3, "{log}");
        assert_eq!(entries[2]["before"]["location"], "", "{log}");
        assert_eq!(entries[2]["after"]["location"], "dc1", "{log}");
        assert_eq!(
            entries[1]["after"]["groups"],
            json!(["canary", "web"]),
            "{log}"
        );
        let (_, log) = call(
            &argus,
            Method::GET,
            "/api/argus/audit?object=config",
            t,
            None,
        );
        assert_eq!(log["data"].as_array().map(Vec::len), Some(4), "{log}");
    }
}

#[test]
fn a_restart_keeps_users_tokens_and_hosts() {
    for (backend, config, _pg) in backends("restart") {
        let argus = start("server", &config);
        let session = user_session(&argus, "dora", "editor");
        let (s, _) = call(
            &argus,
            Method::POST,
            "/api/argus/hosts",
            Some(&session),
            Some(&json!({"hostname": "kept", "location": "dc9"})),
        );
        assert_eq!(s, 201);
        let (_, dir) = argus.terminate();
        let argus = crate::common::start_in("server", &config, dir);
        assert_eq!(
            argus.admin_password, None,
            "{backend}: a second start prints no password"
        );
        let (s, b) = call(
            &argus,
            Method::GET,
            "/api/argus/hosts?location=dc9",
            Some(&session),
            None,
        );
        assert_eq!((s, b["total"].as_i64()), (200, Some(1)), "{backend}: {b}");
    }
}
