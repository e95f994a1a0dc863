//! A CLI run through a [`super::Workdir`]: the builder calls of `assert_cmd::Command` that
//! the tests use, and on `output` a record of what the run did for the work dir's leak scan
//! ([`super::leaks`]). Every CLI test gets the scan by running the binary this way.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::leaks::{self, EmulatorView, Invocation, Record};

/// The binary, about to run in a work dir.
pub struct Cmd {
    inner: assert_cmd::Command,
    run: Invocation,
    record: Arc<Mutex<Record>>,
}

impl Cmd {
    pub(super) fn new(
        inner: assert_cmd::Command,
        root: &Path,
        envs: Vec<(String, String)>,
        emu: Option<EmulatorView>,
        record: Arc<Mutex<Record>>,
    ) -> Self {
        Cmd {
            inner,
            run: Invocation {
                root: root.to_path_buf(),
                cwd: root.to_path_buf(),
                args: Vec::new(),
                envs,
                emu,
            },
            record,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.run
            .args
            .push(arg.as_ref().to_string_lossy().into_owned());
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args(&mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> &mut Self {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.run.envs.push((
            key.as_ref().to_string_lossy().into_owned(),
            value.as_ref().to_string_lossy().into_owned(),
        ));
        self.inner.env(key, value);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.inner.env_remove(key);
        self
    }

    /// Runs in another directory (relative paths in arguments are taken from there).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.run.cwd = self.run.root.join(dir.as_ref());
        self.inner.current_dir(dir);
        self
    }

    /// Feeds stdin.
    pub fn write_stdin(&mut self, input: impl Into<Vec<u8>>) -> &mut Self {
        self.inner.write_stdin(input);
        self
    }

    /// Limits the run's time.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.inner.timeout(timeout);
        self
    }

    /// Runs the binary to completion and records the run for the leak scan.
    pub fn output(&mut self) -> std::io::Result<Output> {
        let before = leaks::snapshot(&self.run.root);
        let out = self.inner.output()?;
        self.record
            .lock()
            .unwrap()
            .command(&self.run, &before, &out);
        Ok(out)
    }
}
