//! Remote tasks run plugins installed here: the task runner's [`LocalPlugins`] is the
//! agent's [`Installed`], and every run is verified first.

use super::installed::Installed;
use crate::tasks::{LocalPlugin, LocalPlugins};

/// Remote tasks run plugins installed here: [`Installed::get`], checked with
/// [`super::InstalledPlugin::verify`] before each run.
impl LocalPlugins for Installed {
    fn get(&self, name: &str) -> Option<LocalPlugin> {
        Installed::get(self, name).map(|p| LocalPlugin {
            dir: p.dir,
            entry: p.entry,
            version: p.version,
        })
    }

    fn verify(&self, name: &str) -> Result<(), String> {
        match Installed::get(self, name) {
            Some(p) => p.verify(),
            None => Err(format!("plugin {name:?} is not installed")),
        }
    }
}
