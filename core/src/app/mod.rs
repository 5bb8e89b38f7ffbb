//! Request handling: from a routed request to its [`Reply`](crate::http::Reply), natively
//! testable. The worker's `entry` reads the request, calls these, and sends the answer.

pub mod health;
