//! No secret in any log line (issue 18): a full run of `argus up` at debug level (its
//! local agent delivering, logins good and bad, sessions, API tokens made and used in
//! every form a client may send them, users and passwords set), then the log is searched
//! for every secret that crossed it.

use crate::common::{call, client, start_logged, wait_for};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[test]
fn no_token_or_password_appears_in_the_debug_log() {
    let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = logs.path().join("argus.log");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let argus = start_logged(&["up"], "[agent]\ninterval_secs = 1\n", dir, &log);
    let admin_password = argus.admin_password.clone().unwrap_or_default();
    assert!(
        !admin_password.is_empty(),
        "the first start prints the password"
    );
    let login = |name: &str, password: &str| {
        call(
            &argus,
            Method::POST,
            "/api/argus/login",
            None,
            Some(&json!({"name": name, "password": password})),
        )
    };
    let (s, b) = login("admin", &admin_password);
    assert_eq!(s, 200, "{b}");
    let session = b["token"].as_str().unwrap_or("").to_string();
    let wrong = "Wr0ng-passw0rd-for-the-log-test";
    assert_eq!(login("admin", wrong).0, 401);
    let carol = "carol-Secret-passw0rd-42";
    let (s, b) = call(
        &argus,
        Method::POST,
        "/api/argus/users",
        Some(&session),
        Some(&json!({"name": "carol", "password": carol, "role": "editor"})),
    );
    assert_eq!(s, 201, "{b}");
    let carol2 = "carol-Changed-passw0rd-43";
    let (s, b) = call(
        &argus,
        Method::PATCH,
        "/api/argus/users/carol",
        Some(&session),
        Some(&json!({"password": carol2})),
    );
    assert_eq!(s, 200, "{b}");
    let (s, t) = call(
        &argus,
        Method::POST,
        "/api/argus/tokens",
        Some(&session),
        Some(&json!({"name": "ci"})),
    );
    assert_eq!(s, 201, "{t}");
    let api_token = t["data"]["token"].as_str().unwrap_or("").to_string();
    assert!(!api_token.is_empty(), "{t}");
    // The token in every form a client may send it: bearer, Influx's `Token`, Basic with
    // the token as password, `?p=`; and a wrong one.
    let write = |req: reqwest::blocking::RequestBuilder| {
        req.body("secret_test v=1")
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let url = format!("{}/write", argus.url);
    assert_eq!(write(client().post(&url).bearer_auth(&api_token)), 204);
    assert_eq!(
        write(
            client()
                .post(&url)
                .header("Authorization", format!("Token {api_token}"))
        ),
        204
    );
    assert_eq!(
        write(client().post(&url).basic_auth("x", Some(&api_token))),
        204
    );
    assert_eq!(write(client().post(format!("{url}?p={api_token}"))), 204);
    let wrong_token = "0123456789abcdef-not-a-token-fedcba9876543210";
    assert_eq!(write(client().post(&url).bearer_auth(wrong_token)), 401);
    // The local agent delivers with its own token meanwhile.
    wait_for("the local agent's samples", Duration::from_secs(30), || {
        (!argus.query("system_uptime").is_empty()).then_some(())
    });
    let admin_token = argus.token.clone();
    let (code, _) = argus.terminate();
    assert_eq!(code, Some(0));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.lines().filter(|l| l.contains("DEBUG")).count() > 10,
        "the log holds no debug lines: {text}"
    );
    for (what, secret) in [
        ("the admin API token", admin_token.as_str()),
        ("the admin password", admin_password.as_str()),
        ("a session token", session.as_str()),
        ("a wrong password", wrong),
        ("a new user's password", carol),
        ("a changed password", carol2),
        ("an API token", api_token.as_str()),
        ("a wrong token", wrong_token),
    ] {
        if let Some(line) = text.lines().find(|l| l.contains(secret)) {
            panic!("{what} is in the log: {line}");
        }
    }
}
