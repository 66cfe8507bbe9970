//! Server-rendered pages: one layout, escaping, and responses that are never cached and never framed.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// Where the console's one script is served.
const SCRIPT_PATH: &str = "/console/static/console.js";

/// The pages' content security policy. Styles are still inline in the layout.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// `GET /console/static/console.js`: the console's script (confirmations, copy buttons, the CSV
/// upload with progress), public like the sign-in page that uses it.
pub(crate) async fn script() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (headers, include_str!("../../static/console.js")).into_response()
}

/// Escapes text for HTML.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A full page; usable from phone width up.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    layout(status, title, "", body)
}

/// The console's 404: a page with the way back, not the API's JSON.
pub(crate) fn not_found_page() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "<p>There is no such page in the console. It may have been deleted, or the link is wrong.</p>\
         <p><a href=\"/console/projects\">Go to your projects</a></p>",
    )
}

/// A page that reloads itself every `seconds` (a job that is still running).
pub(crate) fn reloading_page(status: StatusCode, title: &str, body: &str, seconds: u32) -> Response {
    layout(status, title, &format!("<meta http-equiv=\"refresh\" content=\"{seconds}\">"), body)
}

fn layout(status: StatusCode, title: &str, head: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{head}\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         code{{display:block;word-break:break-all;background:#f3f3f3;padding:.75rem;border-radius:4px}}\
         label{{display:block;margin:.5rem 0 .2rem}}input{{font-size:1rem;padding:.4rem;width:100%;max-width:24rem;box-sizing:border-box}}\
         button{{font-size:1rem;padding:.5rem 1rem;margin-top:.75rem}}.error{{color:#b00020}}\
         table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:.3rem;border-bottom:1px solid #ddd}}td{{overflow-wrap:anywhere}}\
         select{{font-size:1rem;padding:.3rem;max-width:100%}}.muted{{color:#666}}.nowrap{{white-space:nowrap}}[hidden]{{display:none!important}}\
         form.inline{{display:inline-block;margin:0 .3rem 0 0}}form.inline button{{margin-top:.2rem;padding:.3rem .6rem;font-size:.9rem}}\
         @media (max-width:40rem){{table.cards thead{{display:none}}table.cards tr{{display:block;padding:.4rem 0;border-bottom:1px solid #ddd}}\
         table.cards td{{display:block;border:0;padding:.1rem 0}}table.cards td[data-label]::before{{content:attr(data-label) \": \";font-weight:600}}}}</style>\
         <script src=\"{SCRIPT_PATH}\" defer></script></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape(title)
    );
    let headers = [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Only the stack's own script runs (no inline script or handler), and no other site may
        // frame a page (clickjacking) or make its forms post elsewhere.
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (status, headers, Html(html)).into_response()
}
