//! The store reads and writes the web pages add, on both backends: an organization's issues
//! across projects with status and text filters and paging, hourly event counts for a set of
//! issues in one query, an event's user reports, older/newer neighbours, and status changes
//! by id that never reach another organization's issues.

use picket_origin::model::{AcceptedEnvelope, IssueQuery, IssueStatus};
use picket_origin::store::Store;
use picket_origin::worker::process_batch;

const HOUR: i64 = 3_600_000;

/// Stores one event per `(project, event id, message, timestamp ms)` and processes them.
async fn store_events(api: &crate::Api, events: &[(i64, String, &str, i64)]) {
    for (project_id, id, message, ts) in events {
        let event = serde_json::json!({
            "event_id": id, "message": message, "level": "error", "timestamp": *ts as f64 / 1000.0,
        });
        let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n").into_bytes();
        let envelope = AcceptedEnvelope {
            project_id: *project_id,
            event_id: Some(id.clone()),
            received_ms: chrono::Utc::now().timestamp_millis(),
            client_ip: None,
            body,
        };
        api.store.accept(envelope).await.unwrap();
    }
    let now = chrono::Utc::now().timestamp_millis();
    let pending = api.store.claim(1_000, now, 60_000).await.unwrap();
    api.store.complete(process_batch(&pending)).await.unwrap();
}

fn id(n: u32) -> String {
    format!("{n:032x}")
}

fn query(status: Option<&str>, text: &[&str], offset: usize, limit: usize) -> IssueQuery {
    IssueQuery { status: status.map(str::to_string), text: text.iter().map(|t| t.to_string()).collect(), offset, limit }
}

on_both_stores! {
    async fn organization_issues_span_projects_and_filter(api) {
        let org = api.store.organization("acme").await.unwrap().unwrap();
        let web = api.boot.project_id;
        let app = api.store.create_project(org.id, "app").await.unwrap().unwrap().id;
        let now = chrono::Utc::now().timestamp_millis();
        store_events(&api, &[
            (web, id(1), "Alpha broke", now - 3 * HOUR),
            (app, id(2), "Beta broke", now - 2 * HOUR),
            (app, id(3), "Gamma broke", now - HOUR),
        ]).await;
        let all = api.store.organization_issues(org.id, None, &query(None, &[], 0, 10)).await.unwrap();
        let titles: Vec<&str> = all.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["Gamma broke", "Beta broke", "Alpha broke"]);
        let only_app = api.store.organization_issues(org.id, Some(app), &query(None, &[], 0, 10)).await.unwrap();
        assert_eq!(only_app.len(), 2);
        let text = api.store.organization_issues(org.id, None, &query(None, &["BETA"], 0, 10)).await.unwrap();
        assert_eq!(text.len(), 1);
        assert_eq!(text[0].title, "Beta broke");
        let page = api.store.organization_issues(org.id, None, &query(None, &[], 1, 1)).await.unwrap();
        assert_eq!(page[0].title, "Beta broke");

        // Bulk status by id; another organization's issue id is left alone.
        let rival = api.store.create_organization("rival").await.unwrap().unwrap();
        let rival_project = api.store.create_project(rival.id, "web").await.unwrap().unwrap().id;
        store_events(&api, &[(rival_project, id(9), "Rival broke", now)]).await;
        let rival_issue = api.store.organization_issues(rival.id, None, &query(None, &[], 0, 10)).await.unwrap();
        let ids = vec![all[0].id, all[2].id, rival_issue[0].id];
        let changed = api.store.set_organization_issue_status(org.id, &ids, IssueStatus::Resolved).await.unwrap();
        assert_eq!(changed, 2);
        let unresolved =
            api.store.organization_issues(org.id, None, &query(Some("unresolved"), &[], 0, 10)).await.unwrap();
        assert_eq!(unresolved.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(), ["Beta broke"]);
        let rival_now = api.store.organization_issues(rival.id, None, &query(Some("unresolved"), &[], 0, 10)).await.unwrap();
        assert_eq!(rival_now.len(), 1, "another organization's issue keeps its status");
        let back = api.store.set_organization_issue_status(org.id, &[all[0].id], IssueStatus::Unresolved).await.unwrap();
        assert_eq!(back, 1);
    }

    async fn hourly_counts_for_a_page_of_issues(api) {
        let org = api.store.organization("acme").await.unwrap().unwrap();
        let web = api.boot.project_id;
        let now = chrono::Utc::now().timestamp_millis();
        let to = (now / HOUR + 1) * HOUR;
        let from = to - 24 * HOUR;
        // Same message → same issue; three events in two hours, one outside the window.
        store_events(&api, &[
            (web, id(1), "Spark", from + 10),
            (web, id(2), "Spark", from + 20),
            (web, id(3), "Spark", from + 5 * HOUR + 1),
            (web, id(4), "Spark", from - 1),
            (web, id(5), "Other", from + 23 * HOUR),
        ]).await;
        let issues = api.store.organization_issues(org.id, None, &query(None, &[], 0, 10)).await.unwrap();
        let spark = issues.iter().find(|i| i.title == "Spark").unwrap().id;
        let other = issues.iter().find(|i| i.title == "Other").unwrap().id;
        let counts = api.store.issue_event_counts(&[spark, other], from, to, HOUR).await.unwrap();
        assert_eq!(counts, vec![(spark, from, 2), (spark, from + 5 * HOUR, 1), (other, from + 23 * HOUR, 1)]);
        let only = api.store.issue_event_counts(&[other], from, to, HOUR).await.unwrap();
        assert_eq!(only, vec![(other, from + 23 * HOUR, 1)]);
        assert!(api.store.issue_event_counts(&[], from, to, HOUR).await.unwrap().is_empty());
    }

    async fn event_neighbours_and_reports(api) {
        let web = api.boot.project_id;
        let now = chrono::Utc::now().timestamp_millis();
        for n in 1..=3 {
            // One at a time, so each is received later than the one before.
            store_events(&api, &[(web, id(n), "Same", now - 1_000 + i64::from(n))]).await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let (older, newer) = api.store.neighbour_events(web, &id(2)).await.unwrap();
        assert_eq!((older.as_deref(), newer.as_deref()), (Some(id(1).as_str()), Some(id(3).as_str())));
        let (older, newer) = api.store.neighbour_events(web, &id(3)).await.unwrap();
        assert_eq!((older.as_deref(), newer), (Some(id(2).as_str()), None));
        assert_eq!(api.store.neighbour_events(web, &id(7)).await.unwrap(), (None, None));

        let report = serde_json::json!({ "event_id": id(2), "name": "Ann", "email": "ann@example.com", "comments": "It <broke>" });
        let body = format!("{{}}\n{{\"type\":\"user_report\"}}\n{report}\n").into_bytes();
        let envelope = AcceptedEnvelope { project_id: web, event_id: None, received_ms: now, client_ip: None, body };
        api.store.accept(envelope).await.unwrap();
        let pending = api.store.claim(1_000, now, 60_000).await.unwrap();
        api.store.complete(process_batch(&pending)).await.unwrap();
        let reports = api.store.event_user_reports(web, &id(2)).await.unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].comments, "It <broke>");
        assert!(api.store.event_user_reports(web, &id(3)).await.unwrap().is_empty());
    }
}
