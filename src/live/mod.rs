//! The Avnology admin API client: the only module that speaks HTTP to Avnology.

pub mod wire;
