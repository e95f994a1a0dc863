//! The linked accounts of a user record, read from the export's list of them (Cognito's
//! `identities`, Firebase's `providerUserInfo`): each entry an object with a provider and a
//! subject. A problem names the entry by the export's own list and keys, so that a user can
//! find it in the file; the accounts come out sorted and without repeats.

use std::fmt::Display;

use crate::model::LinkedProvider;

/// The export's names for the list and for the two keys of an entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkedKeys {
    /// The list (`identities`).
    pub list: &'static str,
    /// The key of the provider (`providerName`).
    pub provider: &'static str,
    /// The key of the subject (`userId`).
    pub subject: &'static str,
}

/// The linked accounts read so far, and the record's problems they add to.
pub(crate) struct Linked<'p> {
    keys: LinkedKeys,
    problems: &'p mut Vec<String>,
    accounts: Vec<LinkedProvider>,
}

impl<'p> Linked<'p> {
    /// Nothing read yet; problems go to `problems`.
    pub(crate) fn new(keys: LinkedKeys, problems: &'p mut Vec<String>) -> Self {
        Self {
            keys,
            problems,
            accounts: Vec::new(),
        }
    }

    /// The record's problems, for the readers of an entry's values.
    pub(crate) fn problems(&mut self) -> &mut Vec<String> {
        self.problems
    }

    /// Entry `i` is `found` rather than an object.
    pub(crate) fn not_an_object(&mut self, i: usize, found: impl Display) {
        let list = self.keys.list;
        self.problems
            .push(format!("`{list}[{i}]` must be an object, not {found}"));
    }

    /// The conflicts inside entry `i` (a key given twice), each named with the entry.
    pub(crate) fn conflicts(
        &mut self,
        i: usize,
        conflicts: impl IntoIterator<Item = impl Display>,
    ) {
        let list = self.keys.list;
        self.problems
            .extend(conflicts.into_iter().map(|c| format!("`{list}[{i}]`: {c}")));
    }

    /// Entry `i`, a linked account when it has both a provider and a subject, otherwise a
    /// problem naming the key it lacks.
    pub(crate) fn push(&mut self, i: usize, provider: Option<String>, subject: Option<String>) {
        let LinkedKeys { list, .. } = self.keys;
        match (provider, subject) {
            (Some(provider), Some(subject)) => {
                self.accounts.push(LinkedProvider { provider, subject });
            }
            (None, _) => {
                let key = self.keys.provider;
                self.problems.push(format!("`{list}[{i}]` has no `{key}`"));
            }
            (Some(_), None) => {
                let key = self.keys.subject;
                self.problems.push(format!("`{list}[{i}]` has no `{key}`"));
            }
        }
    }

    /// The accounts, sorted and without repeats.
    pub(crate) fn finish(self) -> Vec<LinkedProvider> {
        let mut accounts = self.accounts;
        accounts.sort();
        accounts.dedup();
        accounts
    }
}
