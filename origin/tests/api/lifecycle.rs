//! An issue's life on both stores: seen again it counts, resolved and seen again it regresses,
//! its accepted events show in the stats, and past the project's retention it is swept away.

use picket_origin::store::Store;

on_both_stores! {
    async fn a_resolved_issue_regresses_when_seen_again(api) {
        let id = api.make_issue("lifecycle regression").await;
        let path = format!("/api/0/organizations/{}/issues/{id}/", api.boot.organization);
        let resolved = api.put(&path, serde_json::json!({ "status": "resolved" })).await;
        assert_eq!(resolved.status, 200, "{}", String::from_utf8_lossy(&resolved.body));
        assert_eq!(api.get(&path).await.json()["status"], "resolved");
        assert_eq!(api.send_event(&api.boot.public_key, "lifecycle regression").await, 200);
        api.process_pending().await;
        let issue = api.get(&path).await.json();
        assert_eq!((issue["status"].as_str(), issue["substatus"].as_str()), (Some("unresolved"), Some("regressed")));
        assert_eq!(issue["count"], "2");
    }

    async fn accepted_events_show_in_the_stats(api) {
        api.make_issue("lifecycle stats one").await;
        api.make_issue("lifecycle stats two").await;
        let path = format!(
            "/api/0/organizations/{}/stats_v2/?field=sum(quantity)&groupBy=outcome&groupBy=category&statsPeriod=1h&interval=1h",
            api.boot.organization
        );
        let stats = api.get(&path).await.json();
        let accepted: u64 = stats["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["by"]["outcome"] == "accepted" && g["by"]["category"] == "error")
            .map(|g| g["totals"]["sum(quantity)"].as_u64().unwrap())
            .sum();
        assert_eq!(accepted, 2, "{stats}");
    }

    async fn retention_sweeps_what_the_project_keeps_no_longer(api) {
        api.make_issue("lifecycle retention").await;
        let now = chrono::Utc::now().timestamp_millis();
        let kept = api.store.sweep(now).await.unwrap();
        assert_eq!((kept.events, kept.issues), (0, 0), "nothing is old yet");
        // 91 days on, past the default 90 days' retention.
        let swept = api.store.sweep(now + 91 * 86_400_000).await.unwrap();
        assert_eq!((swept.events, swept.issues, swept.envelopes), (1, 1, 1));
        let issues = api.get(&api.project_path("issues/?query=")).await.json();
        assert_eq!(issues, serde_json::json!([]));
    }
}
