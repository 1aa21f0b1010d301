//! Real peers that Argus's tests and benchmarks start for themselves, rather than mock:
//! a **PostgreSQL server** ([`postgres::Postgres`]) and an **Alertmanager**
//! ([`alertmanager::Alertmanager`]) of their own, and a small filesystem to fill
//! ([`smallfs::SmallFs`]).
//!
//! Not part of any shipped binary: `argus` and `argus-server` take it as a dev-dependency
//! only, and the benchmark harness (`argus-bench`) as a dependency.
//!
//! ```no_run
//! use argus_testkit::postgres::Postgres;
//!
//! // Fast and disposable (fsync off): what a test wants.
//! let pg = Postgres::start(false)?;
//! pg.create_db("argus")?;
//! assert_eq!(pg.psql("argus", "select 40+2")?, "42");
//! let url = pg.url("argus"); // postgres://postgres@127.0.0.1:<port>/argus
//! # let _ = url;
//! # Ok::<(), String>(())
//! ```

pub mod alertmanager;
pub mod postgres;
mod process;
pub mod smallfs;
