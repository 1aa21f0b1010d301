//! [`Sender`]: what the notifier hands each delivery to. The channels implement it
//! (`channels.rs`); the notifier holds one and replaces it on a reload.

use argus_notify::Delivery;
use std::future::Future;
use std::pin::Pin;

/// Where each delivery goes: the channels.
pub trait Sender: Send + Sync + 'static {
    /// Sends `delivery` through its integration; `Err` with why when it failed.
    fn send<'a>(
        &'a self,
        delivery: &'a Delivery,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

    /// Sends a test notification through every channel of `receiver`: each channel's
    /// outcome, or `None` when there is no such receiver.
    fn test<'a>(
        &'a self,
        receiver: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Vec<serde_json::Value>>> + Send + 'a>>;

    /// The receivers and the kinds of their channels.
    fn receivers(&self) -> Vec<(String, Vec<String>)>;
}
