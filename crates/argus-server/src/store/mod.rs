//! Storage implementations the server can run on.

pub mod mem;

pub use mem::MemStore;
