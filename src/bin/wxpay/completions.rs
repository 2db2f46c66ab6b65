//! `wxpay completions SHELL`: clap's script, where the PATH of
//! `get/post/put/patch/delete` completes from the endpoint catalog, each
//! verb offering the paths that take it (with the Chinese summary where the
//! shell shows descriptions).
//!
//! The paths go in as the argument's possible values for generation only:
//! parsing still takes any path, so new endpoints keep working. Fish's
//! generator leaves positionals out, so its lines are appended here.

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::Command;
use clap_complete::Shell;
use wechatpay_chain::catalog::{Catalog, Operation};

use crate::exit::Failure;

const VERBS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Writes the completion script for `shell` to stdout.
pub fn print(shell: Shell, mut command: Command) -> Result<(), Failure> {
    let catalog = Catalog::embedded();
    for verb in VERBS {
        let values: Vec<PossibleValue> = taking(catalog, verb)
            .map(|op| PossibleValue::new(op.template()).help(op.summary()))
            .collect();
        command = command.mut_subcommand(verb, |sub| {
            sub.mut_arg("path", |arg| {
                arg.value_parser(PossibleValuesParser::new(values))
                    .hide_possible_values(true)
            })
        });
    }
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "wxpay", &mut script);
    if shell == Shell::Fish {
        script.extend_from_slice(fish_paths(catalog).as_bytes());
    }
    crate::exit::write_stdout(&script)
}

/// The operations `verb` calls.
fn taking<'a>(catalog: &'a Catalog, verb: &'a str) -> impl Iterator<Item = &'a Operation> + 'a {
    catalog
        .operations()
        .iter()
        .filter(move |op| op.method().eq_ignore_ascii_case(verb))
}

/// One `complete` line per operation, under its verb, using the helper
/// clap's fish script defines.
fn fish_paths(catalog: &Catalog) -> String {
    let quote = |text: &str| format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"));
    let mut out = String::from("\n# endpoint paths from the catalog, by verb\n");
    for verb in VERBS {
        for op in taking(catalog, verb) {
            out.push_str(&format!(
                "complete -c wxpay -n \"__fish_wxpay_using_subcommand {verb}\" -f -a {} -d {}\n",
                quote(op.template()),
                quote(op.summary())
            ));
        }
    }
    out
}
