//! The simulator's own tests: one binary, one module per area.

mod api;
mod control;
mod events;
mod faults;
mod flood;
mod helpers;
mod inspection;
mod reads;
mod token;
