//! Alerting as the server runs it. For now: sending alerts to external Alertmanagers
//! ([`alertmanagers`]), so a team can keep its own (`[alerting] alertmanagers`).
//! Rule evaluation (argus-rules) and Argus's own routing and notifications (argus-notify,
//! argus-channels) are wired in here as they land.

pub mod alertmanagers;
