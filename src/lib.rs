//! `avnology-migrate` moves identity data — users with their password hashes, OAuth client
//! applications and their redirect URIs — from Auth0, Clerk, Firebase Auth or Amazon Cognito
//! into Avnology ID, declaratively: a manifest says what should exist, `plan` diffs it against
//! the live tenant keyed by `external_id`, and `apply` runs only those changes.
//!
//! The crate map follows the data:
//!
//! - [`manifest`] loads `migration.toml` (raw serde types, interpolation, validation).
//! - [`sources`] stream provider exports into provider-neutral [`model`] values.
//! - [`wire`] is the API contract's types, a leaf shared by [`live`] (the only module that
//!   speaks HTTP to Avnology) and the [`emulator`], a local Avnology admin API backed by
//!   SQLite.
//! - [`diff`] compares desired and live records (pure, no I/O); [`plan`] turns the comparison
//!   into a reviewable, fingerprinted plan; [`apply`] executes a plan against [`live`].
//! - [`render`] renders plans and reports for people and machines; [`printer`] is the one
//!   place that writes to the terminal; [`commands`] wires one verb each.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod emulator;
pub mod env_vars;
pub mod error;
pub mod live;
pub mod manifest;
pub mod model;
pub mod plan;
pub mod printer;
pub mod render;
pub mod sources;
pub mod wire;
