//! The state design system (DSFR, npm `@gouvfr/dsfr` pinned by web/package-lock.json), as the
//! pages use it: vendored in `vendor/dist` by `scripts/dsfr-vendor.sh`, compiled into the binary,
//! and served by the provider and the demo themselves (no CDN, no file on disk, the CSP stays
//! `'self'`).
//!
//! Every file is under one path holding a hash of the whole bundle, `/static/dsfr/<hash>/…`, so
//! the files can be cached for a year as immutable and an upgrade changes every URL at once,
//! while the stylesheet's relative URLs (`fonts/…`, `../../icons/…`) keep working.

use std::sync::LazyLock;

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use sha2::{Digest, Sha256};

/// Where the router is mounted.
pub const MOUNT: &str = "/static/dsfr";

/// Cache lifetime of the files: their URL changes with their content.
pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

#[derive(rust_embed::Embed)]
#[folder = "vendor/dist"]
struct Dist;

/// The bundle's hash: 16 hex digits of a SHA-256 over every file's path and content hash.
static HASH: LazyLock<String> = LazyLock::new(|| {
    let mut files: Vec<_> = Dist::iter().collect();
    files.sort();
    let mut digest = Sha256::new();
    for path in files {
        let file = Dist::get(&path).expect("an embedded file");
        digest.update(path.as_bytes());
        digest.update([0]);
        digest.update(file.metadata.sha256_hash());
    }
    digest.finalize()[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
});

static BASE: LazyLock<String> = LazyLock::new(|| format!("{MOUNT}/{}", *HASH));

/// The URL prefix of the files, `/static/dsfr/<hash>`, for the layouts' links.
pub fn base() -> &'static str {
    &BASE
}

/// The files, to mount at [`MOUNT`]. An unknown file, or a hash other than the current bundle's
/// (a page cached before an upgrade), is a 404 that is not cached.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/{hash}/{*path}", get(serve))
        // Not the sites' « page not found » page: a file is missing, not a page.
        .fallback(|| async { StatusCode::NOT_FOUND })
}

async fn serve(Path((hash, path)): Path<(String, String)>) -> Response {
    let file = match Dist::get(&path) {
        Some(file) if hash == *HASH => file,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&path)),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            ),
        ],
        file.data,
    )
        .into_response()
}

/// The media type of the kinds of file the bundle holds.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_has_a_known_type() {
        for path in Dist::iter() {
            assert_ne!(content_type(&path), "application/octet-stream", "{path}");
        }
    }

    #[test]
    fn the_base_holds_a_hash_of_the_bundle() {
        let hash = base().strip_prefix("/static/dsfr/").expect("prefix");
        assert_eq!(hash.len(), 16);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
    }
}
