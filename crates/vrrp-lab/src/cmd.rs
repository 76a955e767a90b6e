//! Running external commands (`ip`, `nft`, `tcpdump`) with errors that say what failed.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::error::{LabError, Result};

/// Renders an argv as one line for error messages.
pub(crate) fn render(argv: &[&str]) -> String {
    argv.join(" ")
}

/// Runs `argv` to completion; a non-zero exit is an error carrying stderr.
pub(crate) fn run(argv: &[&str]) -> Result<Output> {
    run_with_stdin(argv, None)
}

/// Runs `argv` feeding `stdin` (if any); a non-zero exit is an error carrying stderr.
pub(crate) fn run_with_stdin(argv: &[&str], stdin: Option<&str>) -> Result<Output> {
    let output = output_with_stdin(argv, stdin)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(LabError::Command {
            command: render(argv),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// Runs `argv` to completion and returns its output whatever the exit status.
pub(crate) fn output_with_stdin(argv: &[&str], stdin: Option<&str>) -> Result<Output> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| LabError::Invalid("empty command".into()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawn_err = |source| LabError::Spawn {
        command: render(argv),
        source,
    };
    let mut child = command.spawn().map_err(spawn_err)?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(spawn_err)?;
        // Dropping the pipe closes it so the command sees end of input.
    }
    child.wait_with_output().map_err(spawn_err)
}
