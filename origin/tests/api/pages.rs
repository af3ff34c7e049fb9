//! The web pages through the router, signed in as a browser is: the issues list with a real
//! SDK event, its search, status tabs and paging; the issue page with the event in full, its
//! neighbours and raw JSON; status changes from the issue page and in bulk, refused without
//! CSRF; other organizations' pages answering 404; and event text rendered escaped. Settings,
//! stats, attachments and bad input are in `pages_more`.

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::{json, Value};

use picket_origin::store::Store;

use crate::{Api, Reply, Session};

/// The Python SDK's error event (exception with a stack trace and source context,
/// breadcrumbs, tags, contexts, user, request with a browser User-Agent).
pub const PYTHON_EVENT: &str = include_str!("../../../tests/data/vectors/event-5kb.json");

pub fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// A page's HTML with askama's and the usual entities decoded, to look for plain text in it.
pub fn unescape(html: &str) -> String {
    [("&#34;", "\""), ("&quot;", "\""), ("&#39;", "'"), ("&#60;", "<"), ("&lt;", "<"), ("&#62;", ">"), ("&gt;", ">")]
        .iter()
        .fold(html.to_string(), |s, (from, to)| s.replace(from, to))
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// A page that must be there: its status is 200 and its HTML, decoded.
#[track_caller]
pub fn ok_html(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", text(reply));
    let html = text(reply);
    assert!(!html.contains("NaN") && !html.contains("=\"inf"), "a chart drew nonsense: {html}");
    unescape(&html)
}

/// Signs in a new user of `acme` with `role`.
pub async fn signed_in(api: &Api, email: &str, role: &str) -> Session {
    let password = api.create_user(email, "acme", role).await;
    api.sign_in(email, &password).await
}

/// Posts an envelope to `project_id`'s envelope endpoint with `public_key`: the status.
pub async fn send_envelope(api: &Api, project_id: i64, public_key: &str, body: Vec<u8>) -> StatusCode {
    let auth = format!("Sentry sentry_key={public_key}, sentry_version=7");
    let path = format!("/api/{project_id}/envelope/");
    let headers = [("x-sentry-auth", auth.as_str()), ("content-type", "application/x-sentry-envelope")];
    let reply = api.request("POST", &path, &headers, body).await;
    reply.status
}

/// An envelope of one event, then `(item header, payload)` items.
pub fn envelope(event: &Value, items: &[(Value, &[u8])]) -> Vec<u8> {
    let id = event["event_id"].as_str().unwrap();
    let mut body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n").into_bytes();
    for (header, payload) in items {
        body.extend_from_slice(format!("{header}\n").as_bytes());
        body.extend_from_slice(payload);
        body.push(b'\n');
    }
    body
}

/// The Python SDK's event with event id `n` and timestamp now.
pub fn sdk_event(n: u32) -> Value {
    let mut event: Value = serde_json::from_str(PYTHON_EVENT).unwrap();
    event["event_id"] = json!(format!("{n:032x}"));
    event["timestamp"] = json!(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
    event
}

/// Sends `event` (with `items`) to acme/web and processes it.
pub async fn deliver(api: &Api, event: &Value, items: &[(Value, &[u8])]) {
    let status = send_envelope(api, api.boot.project_id, &api.boot.public_key, envelope(event, items)).await;
    assert_eq!(status, StatusCode::OK);
    api.process_pending().await;
}

/// The id of acme's issue whose title contains `title`.
pub async fn issue_id(api: &Api, title: &str) -> String {
    let issues = api.get(&api.project_path("issues/?query=")).await.json();
    let found = issues.as_array().unwrap().iter().find(|i| i["title"].as_str().unwrap().contains(title));
    found.unwrap_or_else(|| panic!("no issue {title} in {issues}"))["id"].as_str().unwrap().to_string()
}

/// The issue's status as the API tells it.
pub async fn status(api: &Api, id: &str) -> String {
    let issue = api.get(&format!("/api/0/organizations/acme/issues/{id}/")).await.json();
    issue["status"].as_str().unwrap().to_string()
}

/// The `href` of the first link with `rel="{rel}"` in a page (decoded).
pub fn link(html: &str, rel: &str) -> Option<String> {
    let end = html.find(&format!("\" rel=\"{rel}\""))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(unescape(&html[start..end]))
}

/// How many issue rows (checkboxes) a list page has.
pub fn rows(html: &str) -> usize {
    html.matches("type=\"checkbox\" name=\"id\"").count()
}

const LIST: &str = "/organizations/acme/issues/";

on_both_stores! {
    async fn the_list_shows_an_sdk_issue_with_its_count_and_sparkline(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        deliver(&api, &sdk_event(1), &[]).await;
        deliver(&api, &sdk_event(2), &[]).await;
        api.make_issue("Quiet thing").await;
        let id = issue_id(&api, "KeyError").await;

        let page = ok_html(&api.page(&session, LIST).await);
        assert!(page.contains(&format!("href=\"/organizations/acme/issues/{id}/\">KeyError: 'missing'</a>")), "{page}");
        let row = &page[page.find(&format!("value=\"{id}\"")).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains("<td class=\"num wide\">2</td>"), "two events: {row}");
        assert!(row.contains("<td class=\"num wide\">1</td>"), "one user (id 42): {row}");
        assert!(row.contains("<svg class=\"spark\""), "{row}");
        assert!(row.contains("2 events in the last 24 hours"), "the sparkline counts them: {row}");
        assert!(page.contains("Quiet thing"));

        // Text search, case-insensitive; a word nothing has.
        let found = ok_html(&api.page(&session, &format!("{LIST}?query=keyerror")).await);
        assert!(found.contains("KeyError: 'missing'") && !found.contains("Quiet thing"), "{found}");
        assert!(found.contains("value=\"keyerror\""), "the search box keeps the query");
        let none = ok_html(&api.page(&session, &format!("{LIST}?query=nothing-has-this")).await);
        assert_eq!(rows(&none), 0);
        assert!(none.contains("No issues match."));
        // Status filter: nothing is resolved yet; `is:unresolved` and the empty query list both.
        let resolved = ok_html(&api.page(&session, &format!("{LIST}?query=is%3Aresolved")).await);
        assert_eq!(rows(&resolved), 0, "{resolved}");
        let all = ok_html(&api.page(&session, &format!("{LIST}?query=")).await);
        assert_eq!(rows(&all), 2);
        let unknown = ok_html(&api.page(&session, &format!("{LIST}?query=is%3Abogus")).await);
        assert!(unknown.contains("Unknown search term is:bogus"), "{unknown}");
    }

    async fn the_list_pages_through_more_issues_than_fit(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        // Letters, not digits: grouping ignores numbers in messages.
        let name = |n: u8| format!("Paged problem {}{}", (b'a' + n / 10) as char, (b'a' + n % 10) as char);
        for n in 0..27 {
            assert_eq!(api.send_event(&api.boot.public_key, &name(n)).await, StatusCode::OK);
        }
        api.process_pending().await;
        let first = ok_html(&api.page(&session, &format!("{LIST}?query=Paged")).await);
        assert_eq!(rows(&first), 25);
        assert_eq!(link(&first, "prev"), None);
        let next = link(&first, "next").expect("a next page");
        assert_eq!(next, "/organizations/acme/issues/?query=Paged&cursor=25");
        let second = ok_html(&api.page(&session, &next).await);
        assert_eq!(rows(&second), 2, "{second}");
        assert_eq!(link(&second, "next"), None);
        assert_eq!(link(&second, "prev").as_deref(), Some("/organizations/acme/issues/?query=Paged"));
        // Every issue is on exactly one page.
        for n in 0..27 {
            let title = format!("{}<", name(n));
            assert_eq!(first.contains(&title) as u8 + second.contains(&title) as u8, 1, "{title}");
        }
        // Sentry's cursor shape works too.
        let sentry = ok_html(&api.page(&session, &format!("{LIST}?query=Paged&cursor=0:25:0")).await);
        assert_eq!(rows(&sentry), 2);
    }

    async fn the_issue_page_shows_the_event_in_full(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        deliver(&api, &sdk_event(1), &[]).await;
        let id = issue_id(&api, "KeyError").await;
        let page = ok_html(&api.page(&session, &format!("{LIST}{id}/")).await);
        for expected in [
            "<span class=\"type\">KeyError</span>: <span class=\"value\">'missing'</span>",
            "<span class=\"fn\">boom</span>",
            "<span class=\"line current\"><span class=\"ln\">7</span>    return {\"a\": 1}[\"missing\"]</span>",
            "<h2>Breadcrumbs</h2>",
            "https://api.example.com/v1/items/11?page=2",
            "<span class=\"k\">region</span><span class=\"v\">eu-west</span>",
            "<h3>Browser</h3>",
            "<h3>OS</h3>",
            "<td>Linux</td>",
            "<h3>Runtime</h3>",
            "<td>CPython</td>",
            "<h2>User</h2>",
            "<th scope=\"row\">id</th><td>42</td>",
            "<strong>POST</strong> <code>https://shop.example.com/checkout</code>",
            "<th scope=\"row\">step</th><td>2</td>",
            "event_id\": \"00000000000000000000000000000001\"",
        ] {
            assert!(page.contains(expected), "{expected} in {page}");
        }
        assert!(page.contains("<td>Chrome</td>") || page.contains("<td>Chrome 120"), "the browser: {page}");
        // In-app frames first: `boom` (the newest call) before `<module>`.
        assert!(page.find("<span class=\"fn\">boom</span>") < page.find("<span class=\"fn\"><module></span>"));
    }

    async fn events_by_id_latest_neighbours_and_json(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        deliver(&api, &sdk_event(1), &[]).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut second = sdk_event(2);
        second["tags"]["region"] = json!("us-east");
        deliver(&api, &second, &[]).await;
        let id = issue_id(&api, "KeyError").await;
        let (one, two) = (format!("{:032x}", 1), format!("{:032x}", 2));
        let base = format!("{LIST}{id}/events");

        let latest = ok_html(&api.page(&session, &format!("{base}/latest/")).await);
        assert!(latest.contains(&format!("Event <code>{two}</code>")) && latest.contains("us-east"), "{latest}");
        assert_eq!(link(&latest, "prev"), Some(format!("{base}/{one}/")));
        assert_eq!(link(&latest, "next"), None);
        let issue = ok_html(&api.page(&session, &format!("{LIST}{id}/")).await);
        assert!(issue.contains(&format!("Event <code>{two}</code>")), "the issue page shows the latest");

        let older = ok_html(&api.page(&session, &format!("{base}/{one}/")).await);
        assert!(older.contains(&format!("Event <code>{one}</code>")) && older.contains("eu-west"));
        assert!(!older.contains("us-east"));
        assert_eq!(link(&older, "next"), Some(format!("{base}/{two}/")));
        assert_eq!(link(&older, "prev"), None);
        // A hyphenated id is the same event.
        let dashed = "00000000-0000-0000-0000-000000000001";
        assert!(ok_html(&api.page(&session, &format!("{base}/{dashed}/")).await).contains(&one));

        let raw = api.page(&session, &format!("{base}/{one}/json/")).await;
        assert_eq!(raw.status, StatusCode::OK);
        assert_eq!(raw.headers["content-type"], "application/json");
        let event = raw.json();
        assert_eq!(event["event_id"], one);
        assert_eq!(event["exception"]["values"][0]["type"], "KeyError");
        assert_eq!(api.page(&session, &format!("{base}/latest/json/")).await.json()["event_id"], two);
        // An event of another issue is not this issue's.
        let other = api.make_issue("Another problem").await;
        let elsewhere = api.page(&session, &format!("{LIST}{other}/events/{one}/")).await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    }

    async fn resolving_from_the_issue_page_moves_it_between_lists(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        deliver(&api, &sdk_event(1), &[]).await;
        let id = issue_id(&api, "KeyError").await;
        let page = ok_html(&api.page(&session, &format!("{LIST}{id}/")).await);
        assert!(page.contains("name=\"status\" value=\"resolved\""), "a Resolve button");
        let here = format!("{LIST}{id}/");
        let done = api.post_form(&session, &here, &[("status", "resolved"), ("next", &here)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", text(&done));
        assert_eq!(done.headers["location"], here.as_str());
        assert_eq!(status(&api, &id).await, "resolved");
        let page = ok_html(&api.page(&session, &here).await);
        assert!(page.contains("status-resolved") && page.contains("value=\"unresolved\""), "{page}");
        assert!(!page.contains("value=\"resolved\" class=\"primary\""), "no Resolve on a resolved issue");

        let unresolved = ok_html(&api.page(&session, LIST).await);
        assert!(!unresolved.contains("KeyError"), "it left the unresolved list");
        let resolved = ok_html(&api.page(&session, &format!("{LIST}?query=is%3Aresolved")).await);
        assert!(resolved.contains("KeyError: 'missing'"), "{resolved}");
        // A `next` elsewhere is not followed.
        let away = api.post_form(&session, &here, &[("status", "unresolved"), ("next", "https://evil.example/")]).await;
        assert_eq!(away.headers["location"], here.as_str());
        assert_eq!(status(&api, &id).await, "unresolved");
        let bad = api.post_form(&session, &here, &[("status", "deleted")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }

    async fn bulk_resolve_ignore_and_unresolve(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let a = api.make_issue("First problem").await;
        let b = api.make_issue("Second problem").await;
        let c = api.make_issue("Third problem").await;
        let bulk = format!("{LIST}bulk/");
        let back = format!("{LIST}?query=problem");
        let actions = [("resolved", "is:resolved"), ("ignored", "is:ignored"), ("unresolved", "is:unresolved")];
        for (action, listed) in actions {
            let fields = [("id", a.as_str()), ("id", b.as_str()), ("status", action), ("next", back.as_str())];
            let done = api.post_form(&session, &bulk, &fields).await;
            assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", text(&done));
            assert_eq!(done.headers["location"], back.as_str());
            assert_eq!((status(&api, &a).await, status(&api, &b).await), (action.to_string(), action.to_string()));
            assert_eq!(status(&api, &c).await, "unresolved", "an unchecked issue is left alone");
            let page = ok_html(&api.page(&session, &format!("{LIST}?query={listed}")).await);
            assert!(page.contains("First problem") && page.contains("Second problem"), "{action}: {page}");
        }
        // Nothing checked: nothing changes.
        let none = api.post_form(&session, &bulk, &[("status", "resolved")]).await;
        assert_eq!(none.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&api, &a).await, "unresolved");
    }

    async fn forms_without_csrf_are_refused_and_change_nothing(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let id = api.make_issue("Keep me").await;
        let form = ("content-type", "application/x-www-form-urlencoded");
        let cookie = ("cookie", session.cookie.as_str());
        let single = format!("{LIST}{id}/");
        let bulk = format!("{LIST}bulk/");
        let bodies = [
            (single.as_str(), "status=resolved".to_string()),
            (single.as_str(), "status=resolved&csrf=wrong".to_string()),
            (bulk.as_str(), format!("id={id}&status=resolved")),
            (bulk.as_str(), format!("id={id}&status=ignored&csrf=")),
        ];
        for (path, body) in bodies {
            let refused = api.request("POST", path, &[cookie, form], body.clone()).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path} {body}");
        }
        // The right token from another session is refused too.
        let other = signed_in(&api, "bob@example.com", "member").await;
        let body = format!("csrf={}&status=resolved", other.csrf);
        let crossed = api.request("POST", &single, &[cookie, form], body).await;
        assert_eq!(crossed.status, StatusCode::FORBIDDEN);
        // And a form from another site, even with the token.
        let body = format!("csrf={}&status=resolved", session.csrf);
        let headers = [cookie, form, ("origin", "https://evil.example")];
        assert_eq!(api.request("POST", &single, &headers, body).await.status, StatusCode::FORBIDDEN);
        assert_eq!(status(&api, &id).await, "unresolved");
        // Without a session, a form goes to sign-in.
        let anonymous = api.request("POST", &single, &[form], "status=resolved").await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&api, &id).await, "unresolved");
    }

    async fn user_feedback_shows_on_the_issue_page(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let event = sdk_event(3);
        let report = json!({ "event_id": event["event_id"], "name": "Ann <b>", "email": "ann@example.com",
            "comments": "It broke <script>alert(1)</script> at checkout" });
        let item = json!({ "type": "user_report" });
        let payload = report.to_string().into_bytes();
        deliver(&api, &event, &[(item, &payload[..])]).await;
        let id = issue_id(&api, "KeyError").await;
        let raw = text(&api.page(&session, &format!("{LIST}{id}/")).await);
        assert!(!raw.contains("<script>alert") && !raw.contains("Ann <b>"), "escaped");
        let page = unescape(&raw);
        assert!(page.contains("<h2>User feedback</h2>"), "{page}");
        assert!(page.contains("It broke <script>alert(1)</script> at checkout"));
        assert!(page.contains("Ann <b> <ann@example.com>"));
        assert!(page.contains("<dt>Feedback</dt><dd>1</dd>"), "the header counts it");
    }

    async fn a_form_sent_after_the_session_ended_comes_back_somewhere_that_exists(api) {
        let password = api.create_user("ann@example.com", "acme", "member").await;
        let id = api.make_issue("Later problem").await;
        let form = ("content-type", "application/x-www-form-urlencoded");
        let list = format!("{LIST}?query=Later");
        let referer = format!("http://localhost{list}");
        for path in [format!("{LIST}bulk/"), format!("{LIST}{id}/")] {
            let headers = [form, ("referer", referer.as_str())];
            let body = format!("csrf=stale&id={id}&status=resolved");
            let refused = api.request("POST", &path, &headers, body).await;
            assert_eq!(refused.status, StatusCode::SEE_OTHER, "{path}");
            let login = refused.headers["location"].to_str().unwrap().to_string();
            let next = login.strip_prefix("/auth/login/?next=").expect("to sign-in");
            let next: String = form_urlencoded::parse(format!("n={next}").as_bytes()).next().unwrap().1.into_owned();
            // After signing in, the browser GETs `next`: it must be a page, not the form's target.
            let session = api.sign_in("ann@example.com", &password).await;
            let landing = api.page(&session, &next).await;
            assert_eq!(landing.status, StatusCode::OK, "{path} sent sign-in back to {next}");
        }
        assert_eq!(status(&api, &id).await, "unresolved", "nothing was done without a session");
    }

    async fn bulk_forms_with_bad_ids_are_refused(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let id = api.make_issue("Bulk target").await;
        let bulk = format!("{LIST}bulk/");
        let forms = [
            vec![("id", "abc"), ("status", "resolved")],
            vec![("id", id.as_str()), ("status", "gone")],
            vec![("id", id.as_str())],
        ];
        for fields in forms {
            let reply = api.post_form(&session, &bulk, &fields).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{fields:?}: {}", text(&reply));
        }
        let huge = api.post_form(&session, &bulk, &[("id", "99999999999999999999999"), ("status", "resolved")]).await;
        assert!(huge.status.is_client_error());
        assert_eq!(status(&api, &id).await, "unresolved");
    }

    async fn another_organizations_pages_are_not_found(api) {
        api.rival().await;
        let session = signed_in(&api, "ann@example.com", "owner").await;
        let rival = rival_issue(&api).await;
        let (issue, event, attachment) = (&rival.issue, &rival.event, &rival.attachment);
        let paths = [
            "/organizations/rival/issues/".to_string(),
            format!("/organizations/rival/issues/{issue}/"),
            format!("/organizations/acme/issues/{issue}/"),
            format!("/organizations/rival/issues/{issue}/events/{event}/"),
            format!("/organizations/acme/issues/{issue}/events/{event}/"),
            format!("/organizations/rival/issues/{issue}/events/{event}/json/"),
            format!("/organizations/acme/issues/{issue}/events/latest/json/"),
            format!("/organizations/rival/issues/{issue}/events/{event}/attachments/{attachment}/"),
            format!("/organizations/acme/issues/{issue}/events/{event}/attachments/{attachment}/"),
            "/organizations/rival/stats/".to_string(),
            "/settings/rival/projects/".to_string(),
            "/settings/rival/projects/web/".to_string(),
            "/organizations/nobody/issues/".to_string(),
        ];
        for path in &paths {
            let reply = api.page(&session, path).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
            assert!(!text(&reply).contains("Rival secret"), "{path}");
        }
        // Forms too: nothing of the rival's changes.
        let project_path = "/api/0/projects/rival/web/";
        let rival_get = async |path: &str| api.send("GET", path, Some(&rival.token), Body::empty()).await.json();
        let domains = rival_get(project_path).await["allowedDomains"].clone();
        let posts = [
            (format!("/organizations/rival/issues/{issue}/"), vec![("status", "resolved")]),
            (format!("/organizations/acme/issues/{issue}/"), vec![("status", "resolved")]),
            ("/organizations/rival/issues/bulk/".to_string(), vec![("id", issue.as_str()), ("status", "resolved")]),
            ("/settings/rival/projects/web/allowed-domains/".to_string(), vec![("domains", "evil.example")]),
        ];
        for (path, fields) in &posts {
            assert_eq!(api.post_form(&session, path, fields).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        let sneaky = [("id", issue.as_str()), ("status", "resolved")];
        assert_eq!(api.post_form(&session, &format!("{LIST}bulk/"), &sneaky).await.status, StatusCode::SEE_OTHER);
        assert_eq!(rival_get(&format!("/api/0/organizations/rival/issues/{issue}/")).await["status"], "unresolved");
        assert_eq!(rival_get(project_path).await["allowedDomains"], domains);
        // Acme's list does not show it.
        let list = ok_html(&api.page(&session, &format!("{LIST}?query=")).await);
        assert!(!list.contains("Rival secret"));
    }

    async fn event_text_is_escaped(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let xss = "<script>alert(1)</script>";
        let mut event = json!({
            "event_id": format!("{:032x}", 7),
            "message": format!("Boom {xss}"),
            "level": "error",
            "tags": { "evil": xss, xss: "key" },
            "user": { "id": xss, "email": "\"><img src=x onerror=alert(1)>" },
            "breadcrumbs": [{ "message": xss, "category": xss }],
            "request": { "url": format!("https://x.example/?q={xss}"), "headers": { "X-Evil": xss } },
            "contexts": { "evil": { "name": xss } },
            "extra": { "evil": xss },
        });
        event["exception"] = json!({ "values": [{ "type": "Evil", "value": xss,
            "stacktrace": { "frames": [{ "function": xss, "context_line": xss, "in_app": true }] } }] });
        deliver(&api, &event, &[]).await;
        let id = issue_id(&api, "Evil").await;
        let issue = format!("{LIST}{id}/");
        let paths = [LIST.to_string(), format!("{LIST}?query=Evil"), format!("{issue}events/latest/"), issue];
        for path in paths {
            let page = text(&api.page(&session, &path).await);
            assert!(page.contains("alert(1)"), "the text is shown: {path}");
            assert!(!page.contains("<script>alert"), "{path}: {page}");
            assert!(!page.contains("<img src=x"), "{path}");
        }
        let query = format!("{LIST}?query=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
        let page = api.page(&session, &query).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!text(&page).contains("<script>alert"), "the search box echo is escaped");
    }
}

/// An issue of the other organization (`rival`), with an event and an attachment.
pub struct Rival {
    pub issue: String,
    pub event: String,
    pub attachment: String,
    pub token: String,
}

/// Makes `rival`'s project a key and sends it an event with an attachment.
pub async fn rival_issue(api: &Api) -> Rival {
    let token = "sntryu_rival_token".to_string();
    let org = api.store.organization("rival").await.unwrap().unwrap();
    let project = api.store.project(org.id, "web").await.unwrap().unwrap();
    let made =
        api.send("POST", "/api/0/projects/rival/web/keys/", Some(&token), json!({"name": "k"}).to_string()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", text(&made));
    let key = made.json()["public"].as_str().unwrap().to_string();
    let event = json!({ "event_id": format!("{:032x}", 99), "message": "Rival secret", "level": "error" });
    let item = json!({ "type": "attachment", "length": 6, "filename": "rival.txt" });
    let status = send_envelope(api, project.id, &key, envelope(&event, &[(item, &b"secret"[..])])).await;
    assert_eq!(status, StatusCode::OK);
    api.process_pending().await;
    let issues = api.send("GET", "/api/0/projects/rival/web/issues/?query=", Some(&token), Body::empty()).await.json();
    let issue = issues[0]["id"].as_str().expect("the rival's issue").to_string();
    let event = format!("{:032x}", 99);
    let attachments = api.store.attachments(project.id, &event).await.unwrap();
    assert_eq!(attachments.len(), 1);
    Rival { issue, event, attachment: attachments[0].id.to_string(), token }
}
