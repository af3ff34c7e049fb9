//! DSN keys can be renamed, disabled, enabled and deleted through Sentry's API and the CLI;
//! ingest and the project configs follow.

use axum::http::StatusCode;
use picket_origin::manage;
use picket_origin::store::{KeyRef, Store};
use serde_json::json;

on_both_stores! {
    async fn disabled_key_is_refused(api) {
        let key = &api.boot.public_key;
        assert_eq!(api.send_event(key, "before").await, StatusCode::OK);
        let key_id = api.get(&api.project_path("keys/")).await.json()[0]["id"].as_str().unwrap().to_string();
        let path = api.project_path(&format!("keys/{key_id}/"));

        let disabled = api.put(&path, json!({ "isActive": false })).await;
        assert_eq!(disabled.status, 200);
        assert_eq!(disabled.json()["isActive"], json!(false));
        assert_eq!(api.get(&api.project_path("keys/")).await.json()[0]["isActive"], json!(false));
        let config = api.store.project_state(key).await.unwrap().unwrap();
        assert!(!config.public_keys[0].is_enabled);
        assert_eq!(api.send_event(key, "while disabled").await, StatusCode::FORBIDDEN);

        // The public key names the key as well as its id.
        let enabled = api.put(&api.project_path(&format!("keys/{key}/")), json!({ "isActive": true })).await;
        assert_eq!(enabled.json()["isActive"], json!(true));
        assert_eq!(api.send_event(key, "after").await, StatusCode::OK);
    }
}

on_both_stores! {
    async fn key_put_sets_name_active_and_rate_limit_together(api) {
        let key_id = api.get(&api.project_path("keys/")).await.json()[0]["id"].as_str().unwrap().to_string();
        let body = json!({ "name": " CI ", "isActive": false, "rateLimit": { "window": 60, "count": 10 } });
        let key = api.put(&api.project_path(&format!("keys/{key_id}/")), body).await.json();
        assert_eq!((&key["name"], &key["label"], &key["isActive"]), (&json!("CI"), &json!("CI"), &json!(false)));
        assert_eq!(key["rateLimit"], json!({ "window": 60, "count": 10 }));
        let cleared = api.put(&api.project_path(&format!("keys/{key_id}/")), json!({ "rateLimit": null })).await.json();
        assert_eq!((&cleared["rateLimit"], &cleared["name"]), (&json!(null), &json!("CI")));
    }
}

on_both_stores! {
    async fn deleted_key_is_gone_from_project_configs(api) {
        let created = api.send("POST", &api.project_path("keys/"), None, r#"{"name":"doomed"}"#).await;
        assert_eq!(created.status, 201);
        let (doomed_id, doomed) = {
            let key = created.json();
            (key["id"].as_str().unwrap().to_string(), key["public"].as_str().unwrap().to_string())
        };
        assert_eq!(api.send_event(&doomed, "while it lives").await, StatusCode::OK);
        let path = api.project_path(&format!("keys/{doomed_id}/"));

        let deleted = api.send("DELETE", &path, None, "").await;
        assert_eq!(deleted.status, 204);
        assert!(deleted.body.is_empty());
        let keys = api.get(&api.project_path("keys/")).await.json();
        assert_eq!(keys.as_array().unwrap().len(), 1);
        assert_ne!(keys[0]["public"], json!(doomed));
        let config = api.store.project_state(&api.boot.public_key).await.unwrap().unwrap();
        assert!(config.public_keys.iter().all(|k| k.public_key != doomed));
        assert_eq!(config.public_keys.len(), 1);
        assert!(api.store.project_state(&doomed).await.unwrap().is_none());
        assert_eq!(api.send_event(&doomed, "after").await, StatusCode::UNAUTHORIZED);
        api.send("DELETE", &path, None, "").await.assert_error(404);
        api.put(&path, json!({ "isActive": true })).await.assert_error(404);
    }
}

on_both_stores! {
    async fn another_organizations_token_cannot_touch_keys(api) {
        let rival = api.rival().await;
        let key_id = api.get(&api.project_path("keys/")).await.json()[0]["id"].as_str().unwrap().to_string();
        let path = api.project_path(&format!("keys/{key_id}/"));
        api.send("PUT", &path, Some(&rival), r#"{"isActive":false}"#).await.assert_error(404);
        api.send("DELETE", &path, Some(&rival), "").await.assert_error(404);
        // Its own project of the same slug does not own this key either.
        let theirs = format!("/api/0/projects/rival/web/keys/{key_id}/");
        api.send("PUT", &theirs, Some(&rival), r#"{"isActive":false}"#).await.assert_error(404);
        api.send("DELETE", &theirs, Some(&rival), "").await.assert_error(404);
        api.send("DELETE", &path, Some(""), "").await.assert_error(401);
        let key = &api.get(&api.project_path("keys/")).await.json()[0];
        assert_eq!(key["isActive"], json!(true));
    }
}

on_both_stores! {
    async fn key_cli_disables_enables_and_deletes(api) {
        let store: &dyn Store = api.store.as_ref();
        let key = api.boot.public_key.clone();
        let id = store.find_key(KeyRef::parse(&key)).await.unwrap().unwrap().id;

        let out = manage::set_key_active(store, &key, false).await.unwrap();
        assert_eq!(out["isActive"], json!(false));
        assert_eq!(api.send_event(&key, "disabled").await, StatusCode::FORBIDDEN);
        manage::set_key_active(store, &id.to_string(), true).await.unwrap();
        assert_eq!(api.send_event(&key, "enabled").await, StatusCode::OK);
        let out = manage::delete_key(store, &key.to_uppercase()).await.unwrap();
        assert_eq!(out["deleted"]["id"], json!(id));
        assert!(store.find_key(KeyRef::Id(id)).await.unwrap().is_none());
        assert!(manage::delete_key(store, &key).await.is_err());
        assert!(manage::set_key_active(store, "12345", false).await.is_err());
    }
}
