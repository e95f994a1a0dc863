//! A local Avnology admin API.
