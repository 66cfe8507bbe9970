//! Server-rendered pages: one layout (maud, which escapes every value unless told otherwise), the
//! header and navigation of a signed-in page, the formats people read (relative times, sizes,
//! counts, status badges), and responses that are never cached and never framed.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use stowage_types::time::{self, Timestamp};

/// Where the console's one script and its stylesheet are served.
const SCRIPT_PATH: &str = "/console/static/console.js";
const STYLE_PATH: &str = "/console/static/console.css";

/// The pages' content security policy: only the stack's own script and stylesheet, no inline
/// script, handler or style.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (headers, body).into_response()
}

/// `GET /console/static/console.js`: the console's script (confirmations, copy buttons, the CSV
/// upload with progress), public like the sign-in page that uses it.
pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../../static/console.js"))
}

/// `GET /console/static/console.css`: the console's stylesheet, public like the script.
pub(crate) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("../../static/console.css"))
}

/// A value as one segment of a URL path (percent-encoded; never HTML-escaped, which maud does
/// to the whole attribute after).
pub(crate) fn url(segment: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// A page without the signed-in header (sign-in, a share link, a refusal, the 404).
pub(crate) fn render(status: StatusCode, title: &str, body: Markup) -> Response {
    layout(status, title, None, None, body)
}

/// The console's 404: a page with the way back, not the API's JSON.
pub(crate) fn not_found_page() -> Response {
    let body = html! {
        p { "There is no such page in the console. It may have been deleted, or the link is wrong." }
        p { a href="/console/projects" { "Go to your projects" } }
    };
    render(StatusCode::NOT_FOUND, "Page not found", body)
}

/// The parts of the console a project's navigation leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Storage,
    Jobs,
    Writer,
    Extractor,
    Tokens,
    Users,
    Events,
}

impl Section {
    const ALL: [Section; 7] = [
        Section::Storage,
        Section::Jobs,
        Section::Writer,
        Section::Extractor,
        Section::Tokens,
        Section::Users,
        Section::Events,
    ];

    fn label(self) -> &'static str {
        match self {
            Section::Storage => "Storage",
            Section::Jobs => "Jobs",
            Section::Writer => "Storage Writer",
            Section::Extractor => "Storage Extractor",
            Section::Tokens => "API Tokens",
            Section::Users => "Users & Settings",
            Section::Events => "Events",
        }
    }

    fn path(self, project_id: i64) -> String {
        let tail = match self {
            Section::Storage => "",
            Section::Jobs => "/jobs",
            Section::Writer => "/components/keboola.wr-storage",
            Section::Extractor => "/components/keboola.ex-storage",
            Section::Tokens => "/tokens",
            Section::Users => "/users",
            Section::Events => "/events",
        };
        format!("/console/projects/{project_id}{tail}")
    }
}

/// What the header of a signed-in page shows: the stack, the project (with the others the
/// session can open), who is signed in, sign-out, and the project's sections.
#[derive(Debug, Clone)]
pub(crate) struct Nav {
    pub stack: String,
    /// Who is signed in: the person's email, or the description of the pasted token.
    pub who: String,
    pub csrf: String,
    /// The projects the session can open, as (id, name).
    pub projects: Vec<(i64, String)>,
    /// The project the page is in, and which of its sections.
    pub here: Option<(i64, Section)>,
}

impl Nav {
    /// A page with the header.
    pub(crate) fn render(&self, status: StatusCode, title: &str, body: Markup) -> Response {
        layout(status, title, None, Some(self), body)
    }

    /// A page that reloads itself every `seconds` (a job that is still running).
    pub(crate) fn reloading(&self, status: StatusCode, title: &str, body: Markup, seconds: u32) -> Response {
        layout(status, title, Some(seconds), Some(self), body)
    }

    fn header(&self) -> Markup {
        let project = self.here.and_then(|(id, _)| self.projects.iter().find(|(p, _)| *p == id));
        html! {
            header.top {
                a.stack href="/console/projects" { "Stowage · " (self.stack) }
                @if self.projects.len() > 1 || project.is_none() {
                    details.projects {
                        summary { @if let Some((_, name)) = project { (name) } @else { "Projects" } }
                        ul { @for (id, name) in &self.projects {
                            li { a href={ "/console/projects/" (id) } { (name) " " span.muted { "(" (id) ")" } } }
                        } }
                    }
                } @else if let Some((_, name)) = project {
                    span.project { (name) }
                }
                div.who {
                    a href="/api-reference" { "API reference" }
                    span { (self.who) }
                    form method="post" action="/console/sign-out" {
                        input type="hidden" name="csrf" value=(self.csrf);
                        button type="submit" { "Sign out" }
                    }
                }
            }
            @if let Some((project_id, current)) = self.here {
                nav.sections aria-label="Project" {
                    @for section in Section::ALL {
                        @if section == current {
                            a href=(section.path(project_id)) aria-current="page" { (section.label()) }
                        } @else {
                            a href=(section.path(project_id)) { (section.label()) }
                        }
                    }
                }
            }
        }
    }
}

fn layout(status: StatusCode, title: &str, reload: Option<u32>, nav: Option<&Nav>, body: Markup) -> Response {
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if let Some(seconds) = reload { meta http-equiv="refresh" content=(seconds); }
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href=(STYLE_PATH);
                script src=(SCRIPT_PATH) defer {}
            }
            body {
                @if let Some(nav) = nav { (nav.header()) }
                main { h1 { (title) } (body) }
            }
        }
    };
    let headers = [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Only the stack's own script and stylesheet (no inline script, handler or style), and no
        // other site may frame a page (clickjacking) or make its forms post elsewhere.
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (status, headers, Html(html.into_string())).into_response()
}

/// A time as people read it ("3 minutes ago"), with the exact time on hover and for machines.
pub(crate) fn ago(at: Timestamp) -> Markup {
    let exact = time::format(at);
    html! { time datetime=(exact) title=(exact) { (relative(at, time::now())) } }
}

/// How long before `now` `at` was, in the largest whole unit.
fn relative(at: Timestamp, now: Timestamp) -> String {
    let seconds = now - at;
    if seconds < 0 {
        return "just now".into();
    }
    let (amount, unit) = match seconds {
        0..=44 => return "just now".into(),
        45..=5399 => ((seconds + 30) / 60, "minute"),
        5400..=129_599 => ((seconds + 1800) / 3600, "hour"),
        129_600..=3_887_999 => ((seconds + 43_200) / 86_400, "day"),
        3_888_000..=47_303_999 => ((seconds + 1_314_000) / 2_628_000, "month"),
        _ => ((seconds + 15_768_000) / 31_536_000, "year"),
    };
    format!("{amount} {unit}{} ago", if amount == 1 { "" } else { "s" })
}

/// A size in bytes as people read it: "48.8 MB" (powers of 1024, as Keboola's UI shows them).
pub(crate) fn size(bytes: i64) -> String {
    stowage_types::text::size(bytes)
}

/// A count with thousands separators: "1,234,567".
pub(crate) fn count(n: i64) -> String {
    stowage_types::text::thousands(n)
}

/// A time as people read it, or "never".
pub(crate) fn ago_or_never(at: Option<Timestamp>) -> Markup {
    match at {
        Some(at) => ago(at),
        None => html! { span.muted { "never" } },
    }
}

/// How long a job ran, or has run so far.
pub(crate) fn duration(start: Option<Timestamp>, end: Option<Timestamp>) -> String {
    let seconds = match (start, end) {
        (Some(start), Some(end)) => (end - start).max(0),
        (Some(start), None) => return format!("{} so far", span((time::now() - start).max(0))),
        _ => return "not started".into(),
    };
    span(seconds)
}

/// Seconds as "45 s", "3 min 5 s" or "2 h 10 min".
fn span(seconds: i64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// An error next to the form that caused it (nothing when there is none).
pub(crate) fn form_error(message: &str) -> Markup {
    html! { @if !message.is_empty() { p class="error" role="alert" { (message) } } }
}

/// A job's status as a coloured badge.
pub(crate) fn badge(status: &str) -> Markup {
    html! { span class={ "badge badge-" (status) } { (status) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sizes_and_counts_read_as_people_write_them() {
        let now = 1_000_000_000;
        let cases = [(0, "just now"), (50, "1 minute ago"), (180, "3 minutes ago"), (7200, "2 hours ago")];
        for (before, text) in cases {
            assert_eq!(relative(now - before, now), text);
        }
        assert_eq!(relative(now - 3 * 86_400, now), "3 days ago");
        assert_eq!(relative(now - 400 * 86_400, now), "13 months ago");
        assert_eq!(relative(now - 600 * 86_400, now), "2 years ago");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(51_154_944), "48.8 MB");
        assert_eq!(size(1_048_575), "1.0 MB");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!((span(45), span(185), span(7800)), ("45 s".into(), "3 min 5 s".into(), "2 h 10 min".into()));
    }

    #[test]
    fn a_value_in_a_page_is_escaped() {
        let nav = Nav {
            stack: "<b>".into(),
            who: "\"x\"".into(),
            csrf: "c".into(),
            projects: vec![(1, "<script>".into())],
            here: Some((1, Section::Jobs)),
        };
        let html = nav.header().into_string();
        assert!(html.contains("&lt;b&gt;") && html.contains("&lt;script&gt;") && html.contains("&quot;x&quot;"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("href=\"/console/projects/1/jobs\" aria-current=\"page\""), "{html}");
    }
}
