//! Numbers from a request never overflow: a cursor, period or interval too large for the
//! arithmetic behind it is a 400 with a detail, not a panic.

on_both_stores! {
    async fn cursor_offset_overflow_is_400(api) {
        let issue = api.make_issue("paged").await;
        let lists = [
            api.project_path("issues/?query="),
            api.project_path("events/?"),
            format!("/api/0/organizations/{}/issues/{issue}/events/?", api.boot.organization),
        ];
        for list in &lists {
            for cursor in ["0:18446744073709551600:0", "0:18446744073709551615:1", "0:9223372036854775807:0"] {
                api.get(&format!("{list}&cursor={cursor}")).await.assert_error(400);
            }
            api.get(&format!("{list}&cursor=0:99999999999999999999999:0")).await.assert_error(400);
            // The furthest offset that still fits answers an empty page.
            let far = api.get(&format!("{list}&cursor=0:9223372036854775000:0&limit=100")).await;
            assert_eq!(far.status, 200, "{list}");
            assert_eq!(far.json(), serde_json::json!([]));
        }
    }
}

on_both_stores! {
    async fn stats_period_overflow_is_400(api) {
        let stats = format!("/api/0/organizations/{}/stats_v2/?field=sum(quantity)", api.boot.organization);
        for query in [
            "statsPeriod=99999999999999d",
            "statsPeriod=9999999999999999999999d",
            "statsPeriod=100000000d",
            "interval=99999999999999w",
            "statsPeriod=1h&interval=0m",
            "start=-262143-01-01T00:00:00Z&end=2024-01-01T00:00:00Z",
            "start=not-a-time",
        ] {
            api.get(&format!("{stats}&{query}")).await.assert_error(400);
        }
        // Extreme but representable ranges still answer, with at most 10,000 buckets.
        for query in ["statsPeriod=1000000d&interval=1s", "start=1970-01-01T00:00:00Z&end=2024-01-01T00:00:00Z&interval=1s"]
        {
            let reply = api.get(&format!("{stats}&{query}")).await;
            assert_eq!(reply.status, 200, "{query}");
            assert!(reply.json()["intervals"].as_array().unwrap().len() <= 10_000);
        }
    }
}
