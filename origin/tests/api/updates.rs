//! Every update endpoint checks the whole request before it writes, and writes it in one
//! transaction: a refused request changes nothing.

use picket_origin::store::Store;
use serde_json::json;

on_both_stores! {
    async fn refused_project_put_changes_nothing(api) {
        let path = api.project_path("");
        let before = api.get(&path).await.json();
        let config_before = api.store.project_state(&api.boot.public_key).await.unwrap().unwrap();

        let refused = api.put(&path, json!({ "allowedDomains": ["evil.example"], "eventRetention": 0 })).await;
        refused.assert_error(400);
        let refused = api.put(&path, json!({ "dataScrubber": false, "options": { "filters:releases": 5 } })).await;
        refused.assert_error(400);
        let refused = api
            .put(&path, json!({ "sensitiveFields": ["card"], "options": { "filters:error_messages": "boom" }, "eventRetention": 99999 }))
            .await;
        refused.assert_error(400);

        let after = api.get(&path).await.json();
        assert_eq!(after, before);
        assert_eq!(after["allowedDomains"], json!(["*"]));
        assert_eq!(after["dataScrubber"], json!(true));
        let config_after = api.store.project_state(&api.boot.public_key).await.unwrap().unwrap();
        assert_eq!(config_after, config_before);
    }
}

on_both_stores! {
    async fn accepted_project_put_writes_every_field(api) {
        let path = api.project_path("");
        let reply = api
            .put(
                &path,
                json!({
                    "allowedDomains": [" app.example ", ""],
                    "eventRetention": 30,
                    "dataScrubber": false,
                    "scrubIPAddresses": true,
                    "safeFields": ["id"],
                    "options": { "filters:releases": "1.0.*\n\n2.0", "filters:ignored_transactions": "/health", "other": 1 },
                }),
            )
            .await;
        assert_eq!(reply.status, 200);
        let project = reply.json();
        assert_eq!(project["allowedDomains"], json!(["app.example"]));
        assert_eq!(project["eventRetention"], json!(30));
        assert_eq!(project["dataScrubber"], json!(false));
        assert_eq!(project["dataScrubberDefaults"], json!(true));
        assert_eq!(project["scrubIPAddresses"], json!(true));
        assert_eq!(project["safeFields"], json!(["id"]));
        let config = api.store.project_state(&api.boot.public_key).await.unwrap().unwrap().config;
        assert_eq!(config.filter_settings.releases.releases, ["1.0.*", "2.0"]);
        assert!(config.filter_settings.ignore_transactions.is_enabled);
    }
}

on_both_stores! {
    async fn refused_filter_put_changes_nothing(api) {
        let before = api.get(&api.project_path("filters/")).await.json();
        for body in [
            json!({ "subfilters": 5, "active": true }),
            json!({ "subfilters": ["ie_pre_9", "netscape"] }),
            json!({ "active": "yes" }),
            json!({}),
        ] {
            api.put(&api.project_path("filters/legacy-browsers/"), body).await.assert_error(400);
        }
        api.put(&api.project_path("filters/localhost/"), json!({ "active": 1 })).await.assert_error(400);
        api.put(&api.project_path("filters/no-such-filter/"), json!({ "active": true })).await.assert_error(404);
        assert_eq!(api.get(&api.project_path("filters/")).await.json(), before);

        let on = api.put(&api.project_path("filters/legacy-browsers/"), json!({ "subfilters": ["ie_pre_9"] })).await;
        assert_eq!(on.status, 204);
        let listing = api.get(&api.project_path("filters/")).await.json();
        assert_eq!(listing[2], json!({ "id": "legacy-browsers", "active": ["ie_pre_9"] }));
    }
}

on_both_stores! {
    async fn refused_key_put_changes_nothing(api) {
        let key_id = api.get(&api.project_path("keys/")).await.json()[0]["id"].as_str().unwrap().to_string();
        let path = api.project_path(&format!("keys/{key_id}/"));
        for body in [
            json!({ "isActive": false, "rateLimit": { "window": 0, "count": 1 } }),
            json!({ "isActive": false, "name": "" }),
            json!({ "name": "renamed", "rateLimit": { "window": 60, "count": u64::MAX } }),
            json!({ "isActive": "no" }),
        ] {
            api.put(&path, body).await.assert_error(400);
        }
        let key = &api.get(&api.project_path("keys/")).await.json()[0];
        assert_eq!(key["isActive"], json!(true));
        assert_eq!(key["name"], json!("Default"));
        assert_eq!(key["rateLimit"], json!(null));
    }
}

on_both_stores! {
    async fn refused_quota_put_changes_nothing(api) {
        let good = json!({ "id": "q", "categories": ["error"], "scope": "project", "limit": 5, "window": 60 });
        let bad = json!({ "categories": ["error"], "scope": "project", "limit": 5 });
        let org_path = format!("/api/0/organizations/{}/quotas/", api.boot.organization);
        for path in [api.project_path("quotas/"), org_path] {
            api.put(&path, json!([good, bad])).await.assert_error(400);
            api.put(&path, json!({ "not": "a list" })).await.assert_error(400);
            assert_eq!(api.get(&path).await.json(), json!([]), "{path}");
            assert_eq!(api.put(&path, json!([good])).await.status, 200);
            assert_eq!(api.get(&path).await.json()[0]["id"], json!("q"), "{path}");
        }
    }
}

on_both_stores! {
    async fn refused_issue_status_put_changes_nothing(api) {
        let issue = api.make_issue("first failure").await;
        let bulk = api.project_path(&format!("issues/?id={issue}&id=abc"));
        api.put(&bulk, json!({ "status": "resolved" })).await.assert_error(400);
        let by_status = api.project_path("issues/?status=unresolved&status=sleeping");
        api.put(&by_status, json!({ "status": "resolved" })).await.assert_error(400);
        let one = format!("/api/0/organizations/{}/issues/{issue}/", api.boot.organization);
        api.put(&one, json!({ "status": "fixed" })).await.assert_error(400);
        api.put(&api.project_path(&format!("issues/?id={issue}")), json!({})).await.assert_error(400);
        assert_eq!(api.get(&one).await.json()["status"], json!("unresolved"));

        let resolved = api.put(&api.project_path(&format!("issues/?id={issue}")), json!({ "status": "resolved" })).await;
        assert_eq!(resolved.status, 200);
        assert_eq!(api.get(&one).await.json()["status"], json!("resolved"));
    }
}
