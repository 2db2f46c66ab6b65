//! The README's and docs/cli.md's shell blocks, run as a reader pastes
//! them: extracted from the files, run by bash with the built `wxpay` on
//! `PATH` (and a `cargo` that runs it: `cargo run --features cli --bin
//! wxpay -- ARGS` is `wxpay ARGS`). The one change: `/tmp/wxpay` becomes a
//! directory of this run, as other runs share the machine. A backgrounded
//! mock must be ready when the next command runs (issue 27, point 7).
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The ```sh blocks of `file` (relative to the crate) that start a mock in
/// the background and go on.
fn mock_blocks(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                let backgrounds_a_mock = block.lines().any(|l| {
                    let code = l.split('#').next().unwrap_or_default().trim_end();
                    code.contains("mock --dir") && code.ends_with('&')
                });
                if backgrounds_a_mock {
                    blocks.push(block.clone());
                }
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// A directory with `wxpay` and a `cargo` that runs it.
fn bin_dir(root: &Path) -> PathBuf {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wxpay"), bin.join("wxpay")).unwrap();
    let cargo = bin.join("cargo");
    // Only the form the docs use: `cargo run [-q] --features cli --bin wxpay -- ARGS`.
    std::fs::write(
        &cargo,
        "#!/bin/sh\n\
         case \"$*\" in\n\
           'run --features cli --bin wxpay -- '*|'run -q --features cli --bin wxpay -- '*) ;;\n\
           *) echo \"unexpected cargo call: $*\" >&2; exit 97 ;;\n\
         esac\n\
         while [ \"$1\" != -- ]; do shift; done\n\
         shift\n\
         exec wxpay \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// Runs `block` with bash, `set -e`, the mock it backgrounds stopped at the end.
fn run(name: &str, block: &str) -> (bool, String, String) {
    let root = std::env::temp_dir().join(format!("readme-shell-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let bin = bin_dir(&root);
    let dir = root.join("wxpay");
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{}",
        block.replace("/tmp/wxpay", dir.to_str().unwrap())
    );
    let mut command = Command::new("bash");
    command.arg("-c").arg(&script).current_dir(&root).env(
        "PATH",
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("WECHATPAY_")) {
        command.env_remove(key);
    }
    let out = command.output().unwrap();
    let _ = std::fs::remove_dir_all(&root);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn readme_shell_blocks_run_as_pasted() {
    for file in [
        "README.md",
        "README.zh-CN.md",
        "docs/cli.md",
        "docs/zh/cli.md",
    ] {
        let blocks = mock_blocks(file);
        assert!(!blocks.is_empty(), "{file} has no block starting a mock");
        for (i, block) in blocks.iter().enumerate() {
            let name = format!("{}-{i}", file.replace('/', "_"));
            let (ok, stdout, stderr) = run(&name, block);
            assert!(
                ok,
                "{file} block {i} failed:\n{block}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            );
            // The order went through: WeChat Pay's Native answer (FLOWS.md §1.2).
            assert!(
                stdout.contains("\"code_url\""),
                "{file} block {i}:\n{stdout}\n{stderr}"
            );
            assert!(stdout.contains("ready at http://127.0.0.1:"), "{stdout}");
        }
    }
}

/// Without a mock, `wxpay mock wait` gives up after its timeout, saying
/// what to start (exit 4), and with nothing naming a mock it is a usage
/// error (exit 2).
#[test]
fn mock_wait_without_a_mock() {
    let root = std::env::temp_dir().join(format!("readme-shell-wait-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["mock", "wait", "--timeout", "1"])
        .env("WECHATPAY_PROFILE", root.join("mock.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no mock ready within 1 s: "), "{stderr}");
    assert!(
        stderr.contains(
            "start it with `wxpay mock --dir DIR &` and set WECHATPAY_PROFILE=DIR/mock.json"
        ),
        "{stderr}"
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxpay"));
    command.args(["mock", "wait", "--timeout", "1"]);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("WECHATPAY_")) {
        command.env_remove(key);
    }
    let out = command.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
