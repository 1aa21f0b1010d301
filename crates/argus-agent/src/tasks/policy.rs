//! What this agent lets remote tasks do: its own file, so that the runtime's handle can
//! build it without depending on the task poller.

/// What this agent lets remote tasks do, read from its configuration at each task.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `agent.allow_remote_tasks`.
    pub allow_tasks: bool,
    /// `agent.allow_remote_commands`.
    pub allow_commands: bool,
    /// User, environment and output limit, as for script plugins.
    pub scripts: crate::scripts::ScriptsConfig,
}
