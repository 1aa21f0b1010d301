//! The host inventory's SQL databases: SQLite (the default) and PostgreSQL, a real server
//! that each test starts for itself ([`Postgres`]).

use crate::external::Postgres;
use std::time::Instant;

/// The harness itself: a server of its own that takes a new database and answers SQL on it,
/// so that a failing database test points at argus, not at the setup.
#[test]
fn postgres_starts_and_answers() {
    let started = Instant::now();
    let pg = Postgres::start();
    eprintln!(
        "postgres_starts_and_answers: PostgreSQL ready in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    pg.create_db("argus_harness");
    assert_eq!(pg.psql("argus_harness", "select 40+2"), "42");
    assert_eq!(
        pg.psql("argus_harness", "select current_database()"),
        "argus_harness"
    );
    let url = pg.url("argus_harness");
    assert!(
        url.starts_with("postgres://postgres@127.0.0.1:") && url.ends_with("/argus_harness"),
        "{url}"
    );
}
