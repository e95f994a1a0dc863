//! Feeding apply: a plan file's changes paired with the desired records they need, read in
//! one pass over the plan and the sources together.
//!
//! The plan lists identity changes in source order, each with its source and its record's
//! position among that source's identity records, so a single reader thread walks both: for
//! every record a source yields it looks at the next planned change and, when that change is
//! for this record, checks the record's digest against the plan and hands the pair on. What
//! it hands on goes through a bounded channel to the executor, so memory holds a few
//! thousand changes whatever the plan's size, and the first request leaves as soon as the
//! first change is read. Password hashes exist only in the records in that channel.

use std::iter::Peekable;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::manifest::Manifest;
use crate::model::ExternalId;
use crate::plan::file::{ChangeReader, PlanFile};
use crate::plan::{Action, Change, DesiredIdentity, DesiredSet, ObjectKind, desired_identity};
use crate::sources::{self, UserItem};

/// One change to apply, with the desired identity it needs (creates, updates, state
/// changes of identities).
#[derive(Debug)]
pub struct Work {
    /// The planned change.
    pub change: Change,
    /// The record re-read from its source, checked against the plan's digest.
    pub identity: Option<DesiredIdentity>,
}

/// How many changes may wait between the reader and the executor.
pub const QUEUE: usize = 2048;

/// Starts the reader thread over `plan` and the sources of `manifest`. The receiver yields
/// every change in plan order, the organization's excluded (the executor settles it first);
/// an `Err` ends the stream and means nothing after it may be applied.
pub fn spawn(
    plan: &PlanFile,
    manifest: Manifest,
    clients: Arc<DesiredSet>,
) -> anyhow::Result<(mpsc::Receiver<anyhow::Result<Work>>, JoinHandle<()>)> {
    let changes = plan.changes()?.peekable();
    let (tx, rx) = mpsc::channel(QUEUE);
    let handle = std::thread::Builder::new()
        .name("plan-reader".into())
        .spawn(move || {
            let mut feed = Feed {
                tx,
                changes,
                clients,
                closed: false,
            };
            if let Err(e) = feed.run(&manifest) {
                feed.send(Err(e));
            }
        })?;
    Ok((rx, handle))
}

struct Feed {
    tx: mpsc::Sender<anyhow::Result<Work>>,
    changes: Peekable<ChangeReader>,
    clients: Arc<DesiredSet>,
    /// The executor stopped listening (Ctrl-C, or an error): read no further.
    closed: bool,
}

/// Whether a change needs its desired identity from the sources.
fn needs_record(change: &Change) -> bool {
    change.kind == ObjectKind::Identity && change.action != Action::Delete
}

/// Checks that every value `change` shows for review is the one apply will send: the
/// desired value of its field, re-derived from the sources. A plan's digest binds the desired
/// record, but an update's `after` values are what a reviewer read; a plan edited and sealed
/// again could show one email and send another.
fn shows_desired(
    change: &Change,
    desired: &std::collections::BTreeMap<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let key = serde_json::Value::String(change.key.to_string());
    for f in &change.fields {
        let want = match f.path.split_once('[') {
            // An adoption sets the record's key.
            None if f.path == "external_id" => Some(&key),
            Some((list, index)) => index
                .strip_suffix(']')
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| desired.get(list)?.get(i)),
            None => desired.get(&f.path),
        };
        // A minted secret is shown as a placeholder, never as a value.
        if want.is_none() && f.sensitive {
            continue;
        }
        if f.after.as_ref() != want {
            anyhow::bail!(
                "the plan shows `{}` of {} `{}` as a value its source does not declare (was the plan edited?); nothing after it was applied",
                f.path,
                change.kind.noun(),
                change.key
            );
        }
    }
    Ok(())
}

impl Feed {
    fn send(&mut self, item: anyhow::Result<Work>) {
        if !self.closed && self.tx.blocking_send(item).is_err() {
            self.closed = true;
        }
    }

    /// The next change, unless it needs a source record. A client or service account change
    /// is checked against the declaration re-read from the manifest and client sources.
    fn next_plain(&mut self) -> anyhow::Result<Option<Change>> {
        let change = match self.changes.peek() {
            None => return Ok(None),
            Some(Ok(c)) if needs_record(c) => return Ok(None),
            Some(_) => self.changes.next().transpose()?,
        };
        if let Some(c) = &change
            && matches!(c.kind, ObjectKind::OAuthClient | ObjectKind::ServiceAccount)
            && let Some(want) = &c.desired_digest
        {
            match self.clients.clients.get(&(c.kind, c.key.clone())) {
                Some(d) if d.digest == *want => shows_desired(c, &d.fields)?,
                Some(d) => anyhow::bail!(
                    "the {} `{}` of source `{}` no longer matches the plan; nothing after it was applied",
                    c.kind.noun(),
                    c.key,
                    d.source
                ),
                None => anyhow::bail!(
                    "the {} `{}` is no longer declared by any source; nothing after it was applied",
                    c.kind.noun(),
                    c.key
                ),
            }
        }
        Ok(change)
    }

    fn run(&mut self, manifest: &Manifest) -> anyhow::Result<()> {
        // The organization and OAuth clients come before the identities.
        while let Some(change) = self.next_plain()? {
            if change.kind != ObjectKind::Organization {
                self.send(Ok(Work {
                    change,
                    identity: None,
                }));
            }
            if self.closed {
                return Ok(());
            }
        }
        for source in &manifest.users {
            if self.closed || !self.next_is_from(&source.name) {
                continue;
            }
            let mut record = 0u64;
            let mut failure: Option<anyhow::Error> = None;
            sources::read_user_source(source, &mut |item| {
                let UserItem::Identity(identity, _) = item else {
                    return;
                };
                let at = record;
                record += 1;
                if self.closed || failure.is_some() {
                    return;
                }
                let wanted = match self.changes.peek() {
                    Some(Ok(c)) => {
                        needs_record(c)
                            && c.source.as_deref() == Some(source.name.as_str())
                            && c.record == Some(at)
                    }
                    _ => false,
                };
                if !wanted {
                    return;
                }
                let change = match self.changes.next() {
                    Some(Ok(c)) => c,
                    Some(Err(e)) => {
                        failure = Some(e.into());
                        return;
                    }
                    None => return,
                };
                let d = desired_identity(*identity, &source.name);
                if d.identity.external_id != change.key
                    || change.desired_digest.as_deref() != Some(d.digest.as_str())
                {
                    failure = Some(anyhow::anyhow!(
                        "the identity `{}` of source `{}` no longer matches the plan (record {} of the source is now `{}`); nothing after it was applied",
                        change.key,
                        source.name,
                        at + 1,
                        d.identity.external_id
                    ));
                    return;
                }
                if let Err(e) = shows_desired(&change, &d.fields) {
                    failure = Some(e);
                    return;
                }
                self.send(Ok(Work {
                    change,
                    identity: Some(d),
                }));
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
            if self.next_is_from(&source.name) {
                let key = match self.changes.peek() {
                    Some(Ok(c)) => c.key.clone(),
                    _ => ExternalId::default(),
                };
                anyhow::bail!(
                    "the identity `{key}` is no longer declared by source `{}`; nothing after it was applied",
                    source.name
                );
            }
        }
        if let Some(Ok(c)) = self.changes.peek()
            && needs_record(c)
        {
            anyhow::bail!(
                "the identity `{}` of source `{}` is not declared by any source of the manifest",
                c.key,
                c.source.as_deref().unwrap_or("?")
            );
        }
        // Service accounts and deletes need no source record.
        while self.changes.peek().is_some() {
            let Some(change) = self.next_plain()? else {
                let key = match self.changes.next() {
                    Some(Ok(c)) => c.key,
                    _ => ExternalId::default(),
                };
                anyhow::bail!("the plan lists identity `{key}` out of source order");
            };
            self.send(Ok(Work {
                change,
                identity: None,
            }));
            if self.closed {
                break;
            }
        }
        Ok(())
    }

    /// Whether the next change is an identity change of `source`.
    fn next_is_from(&mut self, source: &str) -> bool {
        matches!(self.changes.peek(), Some(Ok(c)) if needs_record(c) && c.source.as_deref() == Some(source))
    }
}
