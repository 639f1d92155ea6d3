//! The access use cases, one file each (see `crate::action`).
