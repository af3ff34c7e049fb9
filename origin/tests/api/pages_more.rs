//! More pages through the router: stats drawn from the recorded outcomes, project settings
//! (the DSN and SDK snippets, owners' forms reflected by the API, members read-only and
//! refused), attachment downloads, and bad input answering 4xx or a sane default, never 500.

use axum::body::Body;
use axum::http::StatusCode;
use picket_origin::store::Store;
use serde_json::{json, Value};

use crate::pages::{deliver, envelope, issue_id, ok_html, sdk_event, send_envelope, signed_in, text};
use crate::Api;

const SETTINGS: &str = "/settings/acme/projects/web/";

/// Real SDK and CLI captures (`tests/data/vectors`): errors, messages and a transaction.
const CAPTURES: [&str; 8] = [
    "python-sdk-2.75.0_error_gzip",
    "python-sdk-2.75.0_error_brotli",
    "python-sdk-2.75.0_429-first",
    "python-sdk-2.75.0_message",
    "python-sdk-2.75.0_transaction",
    "sentry-cli-3.8.0_send-event-message",
    "sentry-cli-3.8.0_send-event-file",
    "sentry-cli-3.8.0_429",
];

/// The API's view of acme/web.
async fn project(api: &Api) -> Value {
    api.get(&api.project_path("")).await.json()
}

/// The API's first key of acme/web.
async fn first_key(api: &Api) -> Value {
    api.get(&api.project_path("keys/")).await.json()[0].clone()
}

on_both_stores! {
    async fn stats_chart_the_accepted_events(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let empty = ok_html(&api.page(&session, "/organizations/acme/stats/").await);
        assert!(empty.contains("<svg class=\"bars\""), "{empty}");
        assert!(empty.contains("Nothing was recorded in this period."));
        for n in 1..=3 {
            deliver(&api, &sdk_event(n), &[]).await;
        }
        let page = ok_html(&api.page(&session, "/organizations/acme/stats/").await);
        assert!(page.contains("<svg class=\"bars\""));
        assert!(page.contains("<th scope=\"row\">error</th><td class=\"num\">3</td>"), "three accepted: {page}");
        assert!(page.contains("<rect class=\"s-accepted\""), "a bar of accepted events: {page}");
        for period in ["7d", "14d", "30d", "90d"] {
            let page = ok_html(&api.page(&session, &format!("/organizations/acme/stats/?statsPeriod={period}")).await);
            assert!(page.contains("<td class=\"num\">3</td>"), "{period}");
        }
        let other = ok_html(&api.page(&session, "/organizations/acme/stats/?category=transaction").await);
        assert!(other.contains("transaction over the last 24 hours"), "{other}");
    }

    async fn a_key_rate_limit_set_in_settings_shows_in_stats(api) {
        let session = signed_in(&api, "owner@example.com", "owner").await;
        let key = first_key(&api).await["id"].as_str().unwrap().to_string();
        let fields = [("label", "Default"), ("active", "1"), ("rate_window", "3600"), ("rate_count", "1")];
        let saved = api.post_form(&session, &format!("{SETTINGS}keys/{key}/"), &fields).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER);
        let mut statuses = Vec::new();
        for n in 0..3 {
            statuses.push(api.send_event(&api.boot.public_key, &format!("Limited {n}")).await.as_u16());
        }
        assert_eq!(statuses, [200, 429, 429]);
        api.process_pending().await;
        let page = ok_html(&api.page(&session, "/organizations/acme/stats/").await);
        let row = "<th scope=\"row\">error</th><td class=\"num\">1</td><td class=\"num\">0</td>\
                   <td class=\"num\">2</td>";
        assert!(page.contains(row), "1 accepted, 2 rate-limited: {page}");
        assert!(page.contains("<rect class=\"s-rate_limited\""));
    }

    async fn projects_filter_the_issue_list_and_stats(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        api.make_issue("Web problem").await;
        let org = api.store.organization("acme").await.unwrap().unwrap();
        let app = api.store.create_project(org.id, "app").await.unwrap().unwrap();
        let made = api.send("POST", "/api/0/projects/acme/app/keys/", None, Body::empty()).await.json();
        let key = made["public"].as_str().unwrap();
        let event = json!({ "event_id": format!("{:032x}", 8), "message": "App problem", "level": "warning" });
        let status = send_envelope(&api, app.id, key, envelope(&event, &[])).await;
        assert_eq!(status, StatusCode::OK);
        api.process_pending().await;
        let all = ok_html(&api.page(&session, "/organizations/acme/issues/").await);
        assert!(all.contains("Web problem") && all.contains("App problem") && all.contains("APP-1"), "{all}");
        assert!(all.contains(&format!("<option value=\"{}\">app</option>", app.id)), "a project filter");
        let only = ok_html(&api.page(&session, &format!("/organizations/acme/issues/?project={}", app.id)).await);
        assert!(only.contains("App problem") && !only.contains("Web problem"), "{only}");
        assert!(only.contains(&format!("<option value=\"{}\" selected>app</option>", app.id)));
        let tab = format!("/organizations/acme/issues/?query=is%3Aresolved&project={}", app.id);
        assert!(only.contains(&format!("href=\"{}\"", tab)), "tabs keep the project: {only}");
        let stats = ok_html(&api.page(&session, &format!("/organizations/acme/stats/?project={}", app.id)).await);
        assert!(stats.contains("<th scope=\"row\">error</th><td class=\"num\">1</td>"), "{stats}");
        let stats = ok_html(&api.page(&session, "/organizations/acme/stats/").await);
        assert!(stats.contains("<th scope=\"row\">error</th><td class=\"num\">2</td>"));
    }

    async fn settings_show_the_dsn_and_snippets(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let headers = [("cookie", session.cookie.as_str()), ("host", "picket.example:9000")];
        let reply = api.request("GET", SETTINGS, &headers, Body::empty()).await;
        let page = ok_html(&reply);
        let dsn = format!("http://{}@picket.example:9000/{}", api.boot.public_key, api.boot.project_id);
        assert!(page.contains(&format!("<pre class=\"copy\">{dsn}</pre>")), "{dsn} in {page}");
        for snippet in [
            format!("dsn=\"{dsn}\""),
            format!("dsn: \"{dsn}\""),
            format!("sentry::init((\"{dsn}\""),
            "pip install sentry-sdk".to_string(),
            "npm install @sentry/browser".to_string(),
            "cargo add sentry".to_string(),
        ] {
            assert!(page.contains(&snippet), "{snippet}");
        }
        let list = ok_html(&api.request("GET", "/settings/acme/projects/", &headers, Body::empty()).await);
        assert!(list.contains(&dsn), "{list}");
    }

    async fn owners_change_settings_and_the_api_reflects_them(api) {
        let session = signed_in(&api, "owner@example.com", "owner").await;
        let page = ok_html(&api.page(&session, SETTINGS).await);
        assert!(!page.contains("<fieldset disabled>") && page.contains("Save domains"));
        let saved = |reply: crate::Reply, what: &str| {
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{what}: {}", text(&reply));
            assert_eq!(reply.headers["location"], format!("{SETTINGS}?saved={what}").as_str());
        };

        let domains = "example.com\n*.example.org\n";
        let path = format!("{SETTINGS}allowed-domains/");
        saved(api.post_form(&session, &path, &[("domains", domains)]).await, "domains");
        assert_eq!(project(&api).await["allowedDomains"], json!(["example.com", "*.example.org"]));

        let filters = [("localhost", "1"), ("web_crawlers", "1"), ("error_messages", "*ResizeObserver*")];
        saved(api.post_form(&session, &format!("{SETTINGS}filters/"), &filters).await, "filters");
        let listed = api.get(&api.project_path("filters/")).await.json();
        let active = |id: &str| listed.as_array().unwrap().iter().find(|f| f["id"] == id).unwrap()["active"].clone();
        assert_eq!((active("localhost"), active("web-crawlers")), (json!(true), json!(true)));
        assert_eq!(active("browser-extensions"), json!(false));

        let scrub = [("scrub_data", "1"), ("scrub_ip_addresses", "1"), ("sensitive_fields", "card_pin\nsecret_answer")];
        saved(api.post_form(&session, &format!("{SETTINGS}data-scrubbing/"), &scrub).await, "scrubbing");
        let details = project(&api).await;
        assert_eq!(details["dataScrubber"], true);
        assert_eq!(details["dataScrubberDefaults"], false, "an unchecked box turns it off");
        assert_eq!(details["scrubIPAddresses"], true);
        assert_eq!(details["sensitiveFields"], json!(["card_pin", "secret_answer"]));

        let key = first_key(&api).await["id"].as_str().unwrap().to_string();
        let fields = [("label", "Browser"), ("active", "1"), ("rate_window", "60"), ("rate_count", "100")];
        saved(api.post_form(&session, &format!("{SETTINGS}keys/{key}/"), &fields).await, "key");
        let changed = first_key(&api).await;
        assert_eq!((changed["label"].clone(), changed["isActive"].clone()), (json!("Browser"), json!(true)));
        assert_eq!(changed["rateLimit"], json!({ "window": 60, "count": 100 }));
        let bad = [("rate_window", "60"), ("rate_count", "")];
        let refused = api.post_form(&session, &format!("{SETTINGS}keys/{key}/"), &bad).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(first_key(&api).await["rateLimit"], json!({ "window": 60, "count": 100 }), "unchanged");
        let missing = api.post_form(&session, &format!("{SETTINGS}keys/999999/"), &fields).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        saved(api.post_form(&session, &format!("{SETTINGS}retention/"), &[("days", "30")]).await, "retention");
        assert_eq!(project(&api).await["eventRetention"], 30);

        let never = api.post_form(&session, &format!("{SETTINGS}retention/"), &[("days", "forever")]).await;
        assert_eq!(never.status, StatusCode::BAD_REQUEST);
        // A key of another project of the organization is not this project's.
        let org = api.store.organization("acme").await.unwrap().unwrap();
        api.store.create_project(org.id, "app").await.unwrap().unwrap();
        let app_key = api.send("POST", "/api/0/projects/acme/app/keys/", None, Body::empty()).await.json();
        let app_key = app_key["id"].as_str().unwrap();
        let crossed = api.post_form(&session, &format!("{SETTINGS}keys/{app_key}/"), &fields).await;
        assert_eq!(crossed.status, StatusCode::NOT_FOUND);

        // The page shows what was saved.
        let page = ok_html(&api.page(&session, &format!("{SETTINGS}?saved=filters")).await);
        for shown in [
            "Inbound filters were saved.",
            ">example.com\n*.example.org</textarea>",
            ">*ResizeObserver*</textarea>",
            ">card_pin\nsecret_answer</textarea>",
            "name=\"localhost\" value=\"1\" checked",
            "name=\"rate_count\" value=\"100\"",
            "name=\"days\" value=\"30\"",
        ] {
            assert!(page.contains(shown), "{shown} in {page}");
        }
    }

    async fn members_see_settings_read_only_and_cannot_post(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let page = ok_html(&api.page(&session, SETTINGS).await);
        assert!(page.contains("Only owners of this organization can change these settings."));
        assert_eq!(page.matches("<fieldset disabled>").count(), 5, "every form is read-only");
        assert!(!page.contains("Save domains") && !page.contains("Save key"), "no save buttons");
        let before = (project(&api).await, first_key(&api).await);
        let key = before.1["id"].as_str().unwrap().to_string();
        let posts: [(String, Vec<(&str, &str)>); 5] = [
            (format!("{SETTINGS}allowed-domains/"), vec![("domains", "evil.example")]),
            (format!("{SETTINGS}filters/"), vec![("localhost", "1")]),
            (format!("{SETTINGS}data-scrubbing/"), vec![("scrub_data", "")]),
            (format!("{SETTINGS}keys/{key}/"), vec![("rate_window", "1"), ("rate_count", "1")]),
            (format!("{SETTINGS}retention/"), vec![("days", "1")]),
        ];
        for (path, fields) in &posts {
            let reply = api.post_form(&session, path, fields).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        }
        assert_eq!((project(&api).await, first_key(&api).await), before, "nothing changed");
        let filters = api.get(&api.project_path("filters/")).await.json();
        assert!(filters.as_array().unwrap().iter().all(|f| f["active"] == false), "{filters}");
    }

    async fn attachments_download_from_the_issue_page(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let event = sdk_event(5);
        let item =
            json!({ "type": "attachment", "length": 12, "filename": "log \"1\".txt", "content_type": "text/html" });
        deliver(&api, &event, &[(item, &b"<b>hello</b>"[..])]).await;
        let id = issue_id(&api, "KeyError").await;
        let page = ok_html(&api.page(&session, &format!("/organizations/acme/issues/{id}/")).await);
        assert!(page.contains("<h2>Attachments</h2>"), "{page}");
        let prefix = format!("/organizations/acme/issues/{id}/events/{:032x}/attachments/", 5);
        let at = page.find(&format!("href=\"{prefix}")).expect("a download link") + "href=\"".len();
        let href = page[at..].split('"').next().unwrap().to_string();
        assert!(page.contains("log \"1\".txt</a>"));
        let file = api.page(&session, &href).await;
        assert_eq!(file.status, StatusCode::OK, "{}", text(&file));
        assert_eq!(file.body, b"<b>hello</b>".to_vec());
        assert_eq!(file.headers["content-disposition"], "attachment; filename=\"log _1_.txt\"");
        assert_eq!(file.headers["content-type"], "application/octet-stream", "never shown inline");
        assert_eq!(file.headers["x-content-type-options"], "nosniff");
        // Unknown or malformed attachment ids, and the wrong event's path, are not found.
        let other_event = href.replace(&format!("{:032x}", 5), &format!("{:032x}", 6));
        for bad in [format!("{prefix}999999/"), format!("{prefix}abc/"), other_event] {
            assert_eq!(api.page(&session, &bad).await.status, StatusCode::NOT_FOUND, "{bad}");
        }
        // Without a session: sign in first.
        let anonymous = api.request("GET", &href, &[], Body::empty()).await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    }

    async fn every_real_capture_renders(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        for name in CAPTURES {
            let file = format!("{}/../tests/data/vectors/{name}.envelope", env!("CARGO_MANIFEST_DIR"));
            let body = std::fs::read(file).unwrap();
            let status = send_envelope(&api, api.boot.project_id, &api.boot.public_key, body).await;
            assert_eq!(status, StatusCode::OK, "{name}");
        }
        api.process_pending().await;
        let issues = api.get(&api.project_path("issues/?query=")).await.json();
        let mut titles: Vec<&str> = issues.as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
        titles.sort();
        assert_eq!(titles.len(), 5, "three KeyErrors are one issue; a transaction is none: {titles:?}");
        let mut pages = String::new();
        for issue in issues.as_array().unwrap() {
            let id = issue["id"].as_str().unwrap();
            let page = ok_html(&api.page(&session, &format!("/organizations/acme/issues/{id}/")).await);
            let raw = api.page(&session, &format!("/organizations/acme/issues/{id}/events/latest/json/")).await;
            assert_eq!(raw.status, StatusCode::OK);
            assert!(raw.json()["event_id"].is_string());
            pages.push_str(&page);
        }
        for expected in [
            "<h2>Message</h2><pre class=\"message\">second event after 429</pre>",
            "hello from sentry-cli",
            "<span class=\"type\">ValueError</span>: <span class=\"value\">bad input</span>",
            "<span class=\"fn\">handler</span> <span class=\"muted\">in</span> <span class=\"loc\">app.views</span>",
            "<h3>Device</h3>",
            "<td>6.18.44-fc-v657</td>",
            "<span class=\"type\">KeyError</span>",
        ] {
            assert!(pages.contains(expected), "{expected}");
        }
        let list = ok_html(&api.page(&session, "/organizations/acme/issues/").await);
        assert_eq!(list.matches("<svg class=\"spark\"").count(), 5);
    }

    async fn ui_addresses_without_their_slash_redirect_and_unknown_ones_are_404_pages(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        for (path, to) in [
            ("/organizations/acme/issues", "/organizations/acme/issues/"),
            ("/organizations/acme/issues?query=is:resolved", "/organizations/acme/issues/?query=is:resolved"),
            ("/settings/acme/projects/web", "/settings/acme/projects/web/"),
            ("/auth/login", "/auth/login/"),
        ] {
            let reply = api.page(&session, path).await;
            assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT, "{path}");
            assert_eq!(reply.headers.get("location").unwrap(), to, "{path}");
        }
        for path in ["/organizations/acme/nothing/", "/settings/acme/nothing/here/", "/auth/nothing/"] {
            let reply = api.page(&session, path).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
            assert!(text(&reply).contains("Not found."), "{path}: a 404 page, not JSON");
        }
    }

    async fn bad_input_is_a_client_error_never_a_500(api) {
        let session = signed_in(&api, "ann@example.com", "member").await;
        let id = api.make_issue("Something").await;
        let missing = api.page(&session, "/organizations/acme/issues/999999999/").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(text(&missing).contains("Not found."), "a 404 page");
        let long = "9".repeat(5000);
        let list = "/organizations/acme/issues/";
        let paths = [
            "/organizations/acme/issues/abc/".to_string(),
            "/organizations/acme/issues/-1/".to_string(),
            "/organizations/acme/issues/99999999999999999999999/".to_string(),
            format!("/organizations/acme/issues/{id}/events/not-an-id/"),
            format!("/organizations/acme/issues/{id}/events/{long}/"),
            format!("/organizations/acme/issues/{id}/events/not-an-id/json/"),
            format!("/organizations/acme/issues/{id}/events/latest/attachments/1/"),
            format!("{list}?cursor=-1"),
            format!("{list}?cursor=abc"),
            format!("{list}?cursor=99999999999999999999999"),
            format!("{list}?cursor=9223372036854775807"),
            format!("{list}?cursor=4611686018427387903"),
            format!("{list}?cursor=1:2:3:4"),
            format!("{list}?project=abc"),
            format!("{list}?project=-5"),
            format!("{list}?query=%FF%FE"),
            format!("{list}?query=a&query=b"),
            format!("{list}?query={}", "word%20".repeat(2000)),
            format!("{list}?query=is%3A{}", "x".repeat(3000)),
            format!("{list}?{}", "a=1&".repeat(2000)),
            "/organizations/acme/stats/?statsPeriod=999y".to_string(),
            "/organizations/acme/stats/?statsPeriod=".to_string(),
            "/organizations/acme/stats/?statsPeriod=-1h".to_string(),
            "/organizations/acme/stats/?project=abc".to_string(),
            "/organizations/acme/stats/?project=99999".to_string(),
            format!("/organizations/acme/stats/?category={}", "c".repeat(5000)),
            "/organizations/acme/stats/?category=%3Cscript%3E".to_string(),
            format!("{SETTINGS}?saved=%3Cscript%3E"),
            "/settings/acme/projects/nope/".to_string(),
            // Addresses no page has: a 404 page.
            format!("/organizations/acme/issues/{id}/events/"),
        ];
        for path in &paths {
            let reply = api.page(&session, path).await;
            let status = reply.status.as_u16();
            assert!(status == 200 || (400..500).contains(&status), "{status} for {}", &path[..path.len().min(120)]);
            let html = reply.headers.get("content-type").is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
            assert!(html, "a page, not JSON, for {}", &path[..path.len().min(120)]);
            assert!(!text(&reply).contains("<script>"), "{path}");
        }
        // Offsets past the end are an empty page with a way back.
        let far = ok_html(&api.page(&session, &format!("{list}?cursor=1000")).await);
        assert!(far.contains("No issues match.") && far.contains("rel=\"prev\""), "{far}");
    }
}
