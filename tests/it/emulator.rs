//! Emulator behaviour, one test per behaviour, against the real binary.
