//! Every error under `/api/0/` is `{"detail": ...}` JSON with the right status, whether a
//! handler or the framework refused the request; other paths still go to ingest.

use serde_json::json;

on_both_stores! {
    async fn bad_query_string_is_json_400(api) {
        for query in ["limit=abc", "limit=5&limit=6", "limit=-1", "limit=99999999999999999999999", "cursor=0:x:0"] {
            api.get(&api.project_path(&format!("issues/?{query}"))).await.assert_error(400);
            api.get(&api.project_path(&format!("events/?{query}"))).await.assert_error(400);
        }
        api.get(&api.project_path("issues/?query=is:sleeping")).await.assert_error(400);
    }
}

on_both_stores! {
    async fn bad_path_id_is_json_404(api) {
        let org = &api.boot.organization;
        for id in ["abc", "99999999999999999999999", "1.5", "-"] {
            api.get(&format!("/api/0/organizations/{org}/issues/{id}/")).await.assert_error(404);
            api.get(&format!("/api/0/organizations/{org}/issues/{id}/events/")).await.assert_error(404);
            api.put(&format!("/api/0/organizations/{org}/issues/{id}/"), json!({ "status": "resolved" }))
                .await
                .assert_error(404);
        }
        // Without a token the answer is still 401, before the path is looked at.
        api.send("GET", &format!("/api/0/organizations/{org}/issues/abc/"), Some(""), "").await.assert_error(401);
    }
}

on_both_stores! {
    async fn wrong_method_is_json_405(api) {
        for (method, path) in [
            ("DELETE", api.project_path("")),
            ("POST", "/api/0/".to_string()),
            ("PATCH", api.project_path("issues/")),
            ("POST", api.project_path("filters/")),
            ("GET", api.project_path("keys/1/")),
        ] {
            let reply = api.send(method, &path, None, "").await;
            reply.assert_error(405);
            assert!(reply.headers.contains_key("allow"), "{method} {path}");
        }
    }
}

on_both_stores! {
    async fn oversized_api_body_is_json_413(api) {
        let path = api.project_path("");
        let before = api.get(&path).await.json();
        let huge = format!(r#"{{"allowedDomains": ["evil.example"], "padding": "{}"}}"#, "x".repeat(3 << 20));
        api.send("PUT", &path, None, huge.clone()).await.assert_error(413);
        api.send("PUT", &api.project_path("quotas/"), None, huge).await.assert_error(413);
        assert_eq!(api.get(&path).await.json(), before);
    }
}

on_both_stores! {
    async fn bad_json_body_is_json_400(api) {
        for path in [api.project_path(""), api.project_path("quotas/"), api.project_path("filters/localhost/")] {
            api.send("PUT", &path, None, "{not json").await.assert_error(400);
            api.send("PUT", &path, None, "").await.assert_error(400);
        }
    }
}

on_both_stores! {
    async fn unknown_api_route_is_json_404(api) {
        let org = &api.boot.organization;
        for path in [
            "/api/0/nope/".to_string(),
            format!("/api/0/organizations/{org}/"),
            format!("/api/0/organizations/{org}/releases/"),
            api.project_path("nope/"),
            api.project_path("issues"),
        ] {
            api.get(&path).await.assert_error(404);
            api.send("POST", &path, None, "{}").await.assert_error(404);
        }
    }
}

on_both_stores! {
    async fn other_paths_still_go_to_ingest(api) {
        // The core answers ingest paths (here: no DSN key) and its own 404s, as before.
        let reply = api.send("POST", &format!("/api/{}/store/", api.boot.project_id), Some(""), "{}").await;
        assert_eq!(reply.status, 401);
        assert!(reply.json()["detail"].is_string());
        assert_eq!(api.send("GET", "/nope", Some(""), "").await.status, 404);
    }
}

#[tokio::test]
async fn panicking_handler_is_json_500() {
    use tower::ServiceExt;
    let router = axum::Router::new()
        .route("/boom", axum::routing::get(|| async { panic!("a bug") as &'static str }))
        .route_layer(picket_origin::http::fallback::catch_panic());
    let request = axum::http::Request::get("/boom").body(axum::body::Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 500);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(body["detail"].is_string());
}
