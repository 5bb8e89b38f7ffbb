//! Storage: the records the schema (`migrations/`) holds, and the statements that read and
//! write them.

pub mod records;
