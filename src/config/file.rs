//! The optional TOML settings file (`--config FILE` or `MA_CONFIG`). Its keys are `serve`'s long flag names without
//! the dashes (`listen`, `database`, `kaltura-partner-id`, …). Its values become the flags' defaults, so clap checks
//! them like any flag and the precedence is flag > environment > file > built-in default. Other commands that take
//! `--config` (`healthcheck`, `backup`, `doctor`) use the keys they share with `serve` and ignore the rest. The
//! parents the console serves are an array of tables, `[[parents]]`, one per parent partner.

use clap::Command;
use clap::error::ErrorKind;
use std::ffi::OsString;
use std::path::Path;

use super::kaltura::ParentEntry;

/// The command whose flags define the file's keys.
const SETTINGS_COMMAND: &str = "serve";
/// Flags that are not settings.
const NOT_KEYS: &[&str] = &["config", "help"];
/// The array of tables naming the parents (see [`ParentEntry`]); not a flag.
const PARENTS: &str = "parents";

/// Parses `args` again with the file's values as the defaults of `subcommand`'s flags.
pub fn matches_with_file(
    cmd: Command,
    subcommand: &str,
    path: &Path,
    args: &[OsString],
) -> Result<(clap::ArgMatches, Vec<ParentEntry>), clap::Error> {
    let fail = |kind: ErrorKind, msg: String| cmd.clone().error(kind, format!("config file {}: {msg}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| fail(ErrorKind::Io, e.to_string()))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| fail(ErrorKind::InvalidValue, e.to_string()))?;
    let parents = match table.remove(PARENTS) {
        None => Vec::new(),
        Some(value) => value.try_into::<Vec<ParentEntry>>().map_err(|e| {
            let msg = format!("[[{PARENTS}]]: {}", e.message());
            fail(ErrorKind::InvalidValue, msg)
        })?,
    };

    let keys = setting_keys(&cmd);
    let mut values = Vec::with_capacity(table.len());
    for (key, value) in table {
        if !keys.contains(&key) {
            let msg = format!("unknown key `{key}`; the keys are: {}, [[{PARENTS}]]", keys.join(", "));
            return Err(fail(ErrorKind::UnknownArgument, msg));
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => value.to_string(),
            // A list (`trusted-proxies = ["10.0.0.5", "10.1.0.0/16"]`) as the flag takes it, comma-separated.
            toml::Value::Array(items) if items.iter().all(toml::Value::is_str) => {
                items.iter().filter_map(toml::Value::as_str).collect::<Vec<_>>().join(",")
            }
            _ => {
                let msg = format!("`{key}` must be a string, a number or a list of strings");
                return Err(fail(ErrorKind::InvalidValue, msg));
            }
        };
        values.push((key, value));
    }

    match with_defaults(cmd.clone(), subcommand, &values).try_get_matches_from(args) {
        Ok(matches) => Ok((matches, parents)),
        // The command line parsed without the file, so a file value is wrong: find which, to name it.
        Err(e) => {
            let culprit = values.iter().find_map(|(key, value)| {
                let one = [(key.clone(), value.clone())];
                with_defaults(cmd.clone(), subcommand, &one).try_get_matches_from(args).err().map(|e| (key, e))
            });
            match culprit {
                Some((key, e)) => Err(fail(ErrorKind::ValueValidation, format!("`{key}`: {}", first_line(&e)))),
                None => Err(e),
            }
        }
    }
}

/// `serve`'s long flag names that the file may set.
fn setting_keys(cmd: &Command) -> Vec<String> {
    cmd.find_subcommand(SETTINGS_COMMAND)
        .map(|serve| {
            serve
                .get_arguments()
                .filter_map(|a| a.get_long())
                .filter(|l| !NOT_KEYS.contains(l))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn with_defaults(cmd: Command, subcommand: &str, values: &[(String, String)]) -> Command {
    cmd.mut_subcommand(subcommand, |mut sub| {
        for (key, value) in values {
            let Some(id) = sub.get_arguments().find(|a| a.get_long() == Some(key)).map(|a| a.get_id().clone()) else {
                continue;
            };
            sub = sub.mut_arg(id, |arg| arg.default_value(value.clone()));
        }
        sub
    })
}

/// clap's message without its `error: ` prefix and usage hint.
fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}
