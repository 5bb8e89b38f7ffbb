//! HTTP without the runtime: the route table ([`route`]), the answer as a plain value
//! ([`Reply`]) and the one mapping from an error to its status and JSON body ([`ApiError`]).

mod error;
mod reply;
mod router;

pub use error::ApiError;
pub use reply::Reply;
pub use router::{is_page_path, route, ImportKind, Method, Route, PAGE_PATHS};
