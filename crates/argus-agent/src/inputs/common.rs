//! The options every input shares, declared once.
//!
//! Every input's table has `enabled`, `interval_secs` and `timeout_secs`; a
//! **multi-instance** input (`[[agent.inputs.<kind>]]`, one table per instance) also has
//! `name`. [`input_config!`] declares an input's `Config` with those fields first, then its
//! own, each with its default; it is a macro rather than a `#[serde(flatten)]`ed common
//! struct because flattening turns `deny_unknown_fields` off, and an unknown key must stay
//! an error that names the key.

use crate::input::Schedule;

/// What the registry reads of any input's config.
pub trait Common {
    fn enabled(&self) -> bool;
    /// When the input runs, from `interval_secs` and `timeout_secs`.
    fn schedule(&self) -> Schedule;
    /// The `name` of a multi-instance input's table; empty for the others.
    fn instance_name(&self) -> &str;
}

/// Declares `Config` with the shared options and the input's own, as
/// `/// doc` `field: Type = default,`. `table Config { … }` is a single-instance input's
/// `[agent.inputs.<kind>]`; `instance "<kind>" Config { … }` a multi-instance input's
/// `[[agent.inputs.<kind>]]`, which adds `name`.
macro_rules! input_config {
    (
        $(#[$meta:meta])*
        table $Config:ident { $($fields:tt)* }
    ) => {
        $crate::inputs::common::input_config!(@struct [$(#[$meta])*] $Config [] { $($fields)* });
        $crate::inputs::common::input_config!(@common $Config, (|_| ""));
    };
    (
        $(#[$meta:meta])*
        instance $kind:literal $Config:ident { $($fields:tt)* }
    ) => {
        $crate::inputs::common::input_config!(@struct [$(#[$meta])*] $Config [
            #[doc = concat!(
                " The instance's name: the plugin is called `", $kind, ":<name>`, or `",
                $kind, ":<index>` (its position among the `", $kind, "` tables, from 0) when",
                " empty."
            )]
            name: String = String::new(),
        ] { $($fields)* });
        $crate::inputs::common::input_config!(@common $Config, (|c: &$Config| &c.name));
    };
    (
        @struct [$(#[$meta:meta])*] $Config:ident
        [$($(#[$hmeta:meta])* $head:ident: $hty:ty = $hdefault:expr,)*]
        { $($(#[$fmeta:meta])* $field:ident: $ty:ty = $default:expr,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $Config {
            $($(#[$hmeta])* pub $head: $hty,)*
            /// Whether the input runs.
            pub enabled: bool,
            /// Seconds between two runs; 0: the agent's `interval_secs`.
            pub interval_secs: u64,
            /// Seconds a run may take before it is abandoned and reported as hung; 0: its
            /// interval.
            pub timeout_secs: u64,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl Default for $Config {
            fn default() -> Self {
                $Config {
                    $($head: $hdefault,)*
                    enabled: true,
                    interval_secs: 0,
                    timeout_secs: 0,
                    $($field: $default,)*
                }
            }
        }
    };
    (@common $Config:ident, $name:expr) => {
        impl $crate::inputs::common::Common for $Config {
            fn enabled(&self) -> bool {
                self.enabled
            }
            fn schedule(&self) -> $crate::input::Schedule {
                $crate::input::Schedule::from_secs(self.interval_secs, self.timeout_secs)
            }
            fn instance_name(&self) -> &str {
                let name: fn(&Self) -> &str = $name;
                name(self)
            }
        }
    };
}
pub(crate) use input_config;

#[cfg(test)]
mod tests {
    use super::Common;
    use crate::inputs::InputsConfig;
    use std::time::Duration;

    fn parse(toml_text: &str) -> Result<InputsConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let err = parse("[cpu]\nenabled = true\nper_cpu = true\n").expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `per_cpu`"), "{err}");
        let err = parse("[[tcp]]\naddress = \"h:1\"\nadress = \"h:2\"\n").expect_err("typo");
        assert!(err.to_string().contains("unknown field `adress`"), "{err}");
    }

    #[test]
    fn the_shared_keys_keep_their_names_and_defaults() {
        let config = parse(
            "[cpu]\nenabled = false\ninterval_secs = 5\ntimeout_secs = 2\n\
             [[tcp]]\nname = \"ssh\"\naddress = \"h:22\"\ninterval_secs = 30\n",
        )
        .expect("parse");
        assert!(!config.cpu.enabled());
        assert_eq!(config.cpu.schedule().interval, Some(Duration::from_secs(5)));
        assert_eq!(config.cpu.schedule().timeout, Some(Duration::from_secs(2)));
        assert_eq!(config.cpu.instance_name(), "");
        assert_eq!(config.tcp[0].instance_name(), "ssh");
        assert!(config.tcp[0].enabled());
        assert_eq!(config.tcp[0].schedule().timeout, None);
        // Untouched tables keep every default: on, the agent's interval and timeout.
        assert!(config.mem.enabled && config.mem.interval_secs == 0);
        assert_eq!(config.mem.timeout_secs, 0);
    }
}
