//! The web panel: a page listing the server's Things at `/`, and at `/<thing>/` a panel generated in the
//! browser from the Thing's description alone (`assets/panel.js`) — values, inputs from the JSON schemas,
//! actions, event logs and plots (uPlot, vendored with its licence in `assets/`).
//!
//! The assets are compiled into the binary; nothing is fetched from anywhere else, and the pages' Content
//! Security Policy forbids it (and inline scripts: every value is put in the page as text). When the server
//! requires credentials, the pages ask for them (`401` with the binding's challenge, so a browser prompts
//! for a Basic user); the assets are public, they hold no data.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::handler::{Shared, authorize};
use super::reply;

/// The page both `/` and `/<thing>/` serve; `panel.js` reads the path to know which.
const PAGE: &str = include_str!("assets/page.html");

/// The assets under `/_panel/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("panel.js", "text/javascript; charset=utf-8", include_bytes!("assets/panel.js")),
    ("panel.css", "text/css; charset=utf-8", include_bytes!("assets/panel.css")),
    ("uPlot.iife.min.js", "text/javascript; charset=utf-8", include_bytes!("assets/uPlot.iife.min.js")),
    ("uPlot.min.css", "text/css; charset=utf-8", include_bytes!("assets/uPlot.min.css")),
    ("uPlot.LICENSE", "text/plain; charset=utf-8", include_bytes!("assets/uPlot.LICENSE")),
];

/// Only the server's own scripts, styles and connections; no inline script, no frames, no plugins.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The panel's routes, added to the binding's router when [`HttpOptions::panel`](super::HttpOptions::panel)
/// is on.
pub(super) fn routes(router: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    router
        .route("/", get(index))
        .route("/_panel/things", get(things))
        .route("/_panel/{file}", get(asset))
        .route("/{thing}/", get(thing_page))
        .route("/{thing}", get(thing_without_slash))
}

fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn page(shared: &Shared, headers: &HeaderMap) -> Response {
    if let Err(response) = authorize(shared, headers) {
        return secured(response);
    }
    let mut response = reply::bytes_response(StatusCode::OK, "text/html; charset=utf-8", PAGE.as_bytes().to_vec());
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secured(response)
}

async fn index(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    page(&shared, &headers)
}

async fn thing_page(State(shared): State<Arc<Shared>>, Path(thing): Path<String>, headers: HeaderMap) -> Response {
    match shared.routes.thing(&thing) {
        Some(_) => page(&shared, &headers),
        None => super::handler::unknown_thing(&shared, &thing),
    }
}

/// `/<thing>` is the panel's address without its slash: redirected, so the page's relative links work.
async fn thing_without_slash(State(shared): State<Arc<Shared>>, Path(thing): Path<String>) -> Response {
    if shared.routes.thing(&thing).is_none() {
        return super::handler::unknown_thing(&shared, &thing);
    }
    let mut response = reply::empty(StatusCode::PERMANENT_REDIRECT);
    let location = format!("/{}/", crate::util::percent_encode_unreserved(&thing));
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The Things the index lists: their ids, in the server's order (the page reads each one's description).
async fn things(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(response) = authorize(&shared, &headers) {
        return response;
    }
    let ids = shared.routes.ids();
    let body = serde_json::to_vec(&ids).unwrap_or_default();
    reply::bytes_response(StatusCode::OK, "application/json", body)
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => {
            let mut response = reply::bytes_response(StatusCode::OK, content_type, bytes.to_vec());
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            secured(response)
        }
        None => {
            let names: Vec<&str> = ASSETS.iter().map(|(name, _, _)| *name).collect();
            reply::refusal(
                StatusCode::NOT_FOUND,
                crate::error::ThingError::key_error(format!("the panel has no file `{file}`; it has {names:?}")),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_loads_is_served() {
        for src in PAGE.split("/_panel/").skip(1) {
            let name = src.split('"').next().unwrap_or_default();
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "the page loads `{name}`, which is not served");
        }
        assert!(!PAGE.contains("<script>"), "no inline script: the policy forbids it");
    }

    #[test]
    fn a_redirect_target_is_one_encoded_segment() {
        assert_eq!(crate::util::percent_encode_unreserved("stage"), "stage");
        assert_eq!(crate::util::percent_encode_unreserved("a b/c"), "a%20b%2Fc");
    }
}
