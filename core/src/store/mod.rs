//! Storage as data: the records the schema (`migrations/`) holds, and every SQL statement that
//! reads or writes them, built here with bound values. A [`Database`](crate::ports::Database)
//! only executes them: D1 in the worker, SQLite built from the same migration files in native
//! tests, so the native tier runs the real schema and the real queries.

pub mod bridge;
pub mod console;
pub mod decisions;
pub mod history;
pub mod lifecycle;
pub mod records;
pub mod row_codec;
pub mod rows;
pub mod sealed;
pub mod sessions;
pub mod tokens;
pub mod user_sync;
pub mod webhooks;

pub use lifecycle::{Closing, Store, Take, TakenJob, KEEP_EVENTS_MS};
pub use sessions::Sessions;
pub use tokens::SqlTokens;
pub use user_sync::{Lease, SyncCursor};
