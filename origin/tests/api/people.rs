//! People and sign-in: the login form and its cookies, wrong passwords, open redirects, pages
//! without a session, sign-out and CSRF, the sign-in rate limit, personal API tokens, users in
//! several organizations, password resets, and the Secure flag behind an https proxy.

use axum::body::Body;
use axum::http::StatusCode;
use picket_origin::store::Store;
use picket_origin::{app, AppState};
use tower::ServiceExt;

use crate::{csrf_field, set_cookie_value, Api, Reply};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn location(reply: &Reply) -> &str {
    reply.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The whole `Set-Cookie` header for cookie `name`.
fn set_cookie_header(reply: &Reply, name: &str) -> String {
    let all = reply.headers.get_all("set-cookie");
    let found = all.iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(&format!("{name}=")));
    found.unwrap_or_else(|| panic!("no {name} cookie in {:?}", reply.headers)).to_string()
}

/// Posts the login form as a browser that loaded it (its CSRF cookie and field).
async fn post_login(api: &Api, email: &str, password: &str, next: &str) -> Reply {
    let form = api.request("GET", "/auth/login/", &[], Body::empty()).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = set_cookie_value(&form, "picket_login_csrf").unwrap();
    assert_eq!(csrf_field(&text(&form)).as_deref(), Some(csrf.as_str()), "the form repeats the cookie");
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("email", email)
        .append_pair("password", password)
        .append_pair("next", next)
        .finish();
    let cookie = format!("picket_login_csrf={csrf}");
    api.request("POST", "/auth/login/", &[("cookie", &cookie), FORM], body).await
}

on_both_stores! {
    async fn sign_in_sets_a_session_cookie_and_goes_to_next(api) {
        let password = api.create_user("Ann@Example.com", "acme", "member").await;
        let reply = post_login(&api, "ann@example.COM", &password, "/organizations/acme/stats/?x=1").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", text(&reply));
        assert_eq!(location(&reply), "/organizations/acme/stats/?x=1");
        let cookie = set_cookie_header(&reply, "picket_session");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/;", "Max-Age=1209600"] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
        assert!(!cookie.contains("Secure"), "plain http: {cookie}");
        // The session works: the account page shows who is signed in; `/` leads to the issues.
        let token = set_cookie_value(&reply, "picket_session").unwrap();
        let cookie = format!("picket_session={token}");
        let page = api.request("GET", "/settings/account/api/auth-tokens/", &[("cookie", &cookie)], Body::empty()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(text(&page).contains("ann@example.com"));
        let home = api.request("GET", "/", &[("cookie", &cookie)], Body::empty()).await;
        assert_eq!((home.status, location(&home)), (StatusCode::SEE_OTHER, "/organizations/acme/issues/"));
    }

    async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(api) {
        api.create_user("ann@example.com", "acme", "member").await;
        let wrong = post_login(&api, "ann@example.com", "not the password", "").await;
        let unknown = post_login(&api, "nobody@example.com", "not the password", "").await;
        for reply in [&wrong, &unknown] {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert!(text(reply).contains("Invalid email or password."), "{}", text(reply));
            assert!(text(reply).contains("action=\"/auth/login/\""), "the form again");
            assert!(set_cookie_value(reply, "picket_session").is_none());
        }
    }

    async fn next_must_be_a_local_path(api) {
        let password = api.create_user("ann@example.com", "acme", "owner").await;
        for next in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
            let reply = post_login(&api, "ann@example.com", &password, next).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER);
            assert_eq!(location(&reply), "/organizations/acme/issues/", "next={next}");
        }
    }

    async fn a_page_without_a_session_goes_to_sign_in(api) {
        let reply = api.request("GET", "/settings/account/api/auth-tokens/?a=1", &[], Body::empty()).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&reply), "/auth/login/?next=%2Fsettings%2Faccount%2Fapi%2Fauth-tokens%2F%3Fa%3D1");
        let forged = [("cookie", "picket_session=0000000000000000000000000000000000000000000000000000000000000000")];
        let reply = api.request("GET", "/settings/account/api/auth-tokens/", &forged, Body::empty()).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let home = api.request("GET", "/", &[], Body::empty()).await;
        assert_eq!((home.status, location(&home)), (StatusCode::SEE_OTHER, "/auth/login/"));
    }

    async fn the_login_form_needs_its_csrf_cookie_and_this_origin(api) {
        let password = api.create_user("ann@example.com", "acme", "member").await;
        let body = format!("csrf={}&email=ann%40example.com&password={password}", "a".repeat(64));
        let reply = api.request("POST", "/auth/login/", &[FORM], body.clone()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "no cookie");
        let other = format!("picket_login_csrf={}", "b".repeat(64));
        let reply = api.request("POST", "/auth/login/", &[FORM, ("cookie", &other)], body.clone()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "another token");
        let same = format!("picket_login_csrf={}", "a".repeat(64));
        let cross = [FORM, ("cookie", &same), ("host", "picket.example"), ("origin", "https://evil.example")];
        let reply = api.request("POST", "/auth/login/", &cross, body.clone()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "another site");
        let own = [FORM, ("cookie", &same), ("host", "picket.example"), ("origin", "http://picket.example")];
        let reply = api.request("POST", "/auth/login/", &own, body).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", text(&reply));
    }

    async fn sign_out_needs_csrf_and_ends_the_session(api) {
        let password = api.create_user("ann@example.com", "acme", "member").await;
        let session = api.sign_in("ann@example.com", &password).await;
        let headers = [("cookie", session.cookie.as_str()), FORM];
        let refused = api.request("POST", "/auth/logout/", &headers, "").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let refused = api.request("POST", "/auth/logout/", &headers, format!("csrf={}", "0".repeat(64))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let huge = format!("csrf={}&pad={}", session.csrf, "x".repeat(70 * 1024));
        let refused = api.request("POST", "/auth/logout/", &headers, huge).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "a form over 64 KiB");
        let cross = [("cookie", session.cookie.as_str()), FORM, ("host", "picket.example"), ("origin", "https://evil.example")];
        let refused = api.request("POST", "/auth/logout/", &cross, format!("csrf={}", session.csrf)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "another site's form");
        assert_eq!(api.page(&session, "/settings/account/api/auth-tokens/").await.status, StatusCode::OK);
        let out = api.post_form(&session, "/auth/logout/", &[]).await;
        assert_eq!((out.status, location(&out)), (StatusCode::SEE_OTHER, "/auth/login/"));
        assert!(set_cookie_header(&out, "picket_session").contains("Max-Age=0"));
        let after = api.page(&session, "/settings/account/api/auth-tokens/").await;
        assert_eq!(after.status, StatusCode::SEE_OTHER);
        assert!(location(&after).starts_with("/auth/login/?next="));
    }

    async fn sign_in_is_rate_limited_per_email_and_per_address(api) {
        let password = api.create_user("ann@example.com", "acme", "member").await;
        for _ in 0..5 {
            assert_eq!(post_login(&api, "ann@example.com", "wrong password", "").await.status, StatusCode::UNAUTHORIZED);
        }
        let limited = post_login(&api, "ANN@example.com", "wrong password", "").await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(text(&limited).contains("Too many sign-in attempts"));
        let right = post_login(&api, "ann@example.com", &password, "").await;
        assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "refused while limited");
        // The address (every request here comes from the same one) has 20.
        for i in 0..15 {
            let reply = post_login(&api, &format!("u{i}@example.com"), "wrong password", "").await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        }
        let reply = post_login(&api, "fresh@example.com", "wrong password", "").await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    }

    async fn a_successful_sign_in_does_not_count_against_the_limit(api) {
        let password = api.create_user("ann@example.com", "acme", "member").await;
        for _ in 0..8 {
            assert_eq!(post_login(&api, "ann@example.com", &password, "").await.status, StatusCode::SEE_OTHER);
        }
    }

    async fn personal_tokens_see_their_users_organizations(api) {
        api.rival().await;
        let password = api.create_user("ann@example.com", "acme", "member").await;
        let session = api.sign_in("ann@example.com", &password).await;
        let refused = api
            .request("POST", "/settings/account/api/auth-tokens/", &[("cookie", &session.cookie), FORM], "name=x")
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "no CSRF");
        let empty = api.post_form(&session, "/settings/account/api/auth-tokens/", &[("name", "  ")]).await;
        assert_eq!(empty.status, StatusCode::BAD_REQUEST);
        let made = api.post_form(&session, "/settings/account/api/auth-tokens/", &[("name", "laptop <cli>")]).await;
        assert_eq!(made.status, StatusCode::OK);
        let page = text(&made);
        let at = page.find("sntryu_").expect("the secret is shown once");
        let secret = page[at..at + 7 + 64].to_string();
        assert!(page.contains("laptop &#60;cli&#62;") && !page.contains("<cli>"), "escaped name: {page}");
        let listed = text(&api.page(&session, "/settings/account/api/auth-tokens/").await);
        assert!(listed.contains("laptop &#60;cli&#62;") && !listed.contains(&secret));

        let mine = api.send("GET", "/api/0/organizations/acme/projects/", Some(&secret), Body::empty()).await;
        assert_eq!(mine.status, StatusCode::OK);
        assert_eq!(mine.json()[0]["slug"], "web");
        let theirs = api.send("GET", "/api/0/organizations/rival/projects/", Some(&secret), Body::empty()).await;
        theirs.assert_error(404);
        let theirs = api.send("GET", "/api/0/projects/rival/web/issues/", Some(&secret), Body::empty()).await;
        theirs.assert_error(404);
        let all = api.send("GET", "/api/0/projects/", Some(&secret), Body::empty()).await.json();
        assert_eq!(all.as_array().unwrap().len(), 1);
        let root = api.send("GET", "/api/0/", Some(&secret), Body::empty()).await.json();
        assert_eq!(root["user"]["email"], "ann@example.com");
        assert!(root["auth"]["scopes"].is_array());
        let org_root = api.get("/api/0/").await.json();
        assert!(org_root["user"].is_null() && org_root["auth"].is_object(), "an org token is no user");
        let listed = text(&api.page(&session, "/settings/account/api/auth-tokens/").await);
        assert!(!listed.contains("never"), "its use is recorded: {listed}");

        let user = api.store.user_credentials("ann@example.com").await.unwrap().unwrap().user;
        let id = api.store.user_tokens(user.id).await.unwrap()[0].id.to_string();
        let gone = api.post_form(&session, "/settings/account/api/auth-tokens/delete/", &[("id", &id)]).await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        let after = api.send("GET", "/api/0/organizations/acme/projects/", Some(&secret), Body::empty()).await;
        after.assert_error(401);
        let again = api.post_form(&session, "/settings/account/api/auth-tokens/delete/", &[("id", &id)]).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
    }

    async fn a_user_can_belong_to_several_organizations(api) {
        api.rival().await;
        let password = api.create_user("ann@example.com", "acme", "member").await;
        assert_eq!(api.create_user("ANN@example.com", "rival", "owner").await, "", "the password is kept");
        let user = api.store.user_credentials("ann@example.com").await.unwrap().unwrap().user;
        let memberships = api.store.memberships(user.id).await.unwrap();
        let orgs: Vec<(&str, &str)> =
            memberships.iter().map(|m| (m.organization.slug.as_str(), m.role.as_str())).collect();
        assert_eq!(orgs, [("acme", "member"), ("rival", "owner")]);
        let session = api.sign_in("ann@example.com", &password).await;
        let page = text(&api.page(&session, "/settings/account/api/auth-tokens/").await);
        assert!(page.contains("/organizations/rival/issues/"), "the organization menu");
        // Unknown organization, bad email, short password: refused, nothing made.
        let store = &*api.store;
        let role = picket_origin::store::Role::Member;
        assert!(picket_origin::people::create_user(store, "bob@example.com", "nope", role, None).await.is_err());
        assert!(picket_origin::people::create_user(store, "bob", "acme", role, None).await.is_err());
        let short = Some("short".to_string());
        assert!(picket_origin::people::create_user(store, "bob@example.com", "acme", role, short).await.is_err());
        assert!(api.store.user_credentials("bob@example.com").await.unwrap().is_none());
    }

    async fn a_password_reset_ends_sessions(api) {
        let old = api.create_user("ann@example.com", "acme", "member").await;
        let session = api.sign_in("ann@example.com", &old).await;
        let store = &*api.store;
        let new = picket_origin::people::reset_password(store, "Ann@example.com", None).await.unwrap().unwrap();
        assert_ne!(new, old);
        assert_eq!(api.page(&session, "/settings/account/api/auth-tokens/").await.status, StatusCode::SEE_OTHER);
        assert_eq!(post_login(&api, "ann@example.com", &old, "").await.status, StatusCode::UNAUTHORIZED);
        api.sign_in("ann@example.com", &new).await;
        let chosen = Some("a chosen password".to_string());
        assert!(picket_origin::people::reset_password(store, "ann@example.com", chosen).await.unwrap().is_none());
        api.sign_in("ann@example.com", "a chosen password").await;
    }

    async fn expired_sessions_are_not_found_and_are_swept(api) {
        let password = api.create_user("ann@example.com", "acme", "member").await;
        let session = api.sign_in("ann@example.com", &password).await;
        let token = session.cookie.strip_prefix("picket_session=").unwrap();
        let id = picket_origin::ids::token_digest(token);
        let now = chrono::Utc::now().timestamp_millis();
        assert!(api.store.session(&id, now).await.unwrap().is_some());
        let later = now + 15 * 86_400_000;
        assert!(api.store.session(&id, later).await.unwrap().is_none(), "past 14 days");
        api.store.sweep(later).await.unwrap();
        assert!(api.store.session(&id, now).await.unwrap().is_none(), "swept");
    }

    async fn cookies_are_secure_behind_an_https_proxy(api) {
        let password = api.create_user("ann@example.com", "acme", "member").await;
        let state = AppState { trusted_proxies: 1, ..crate::state_for(api.store.clone(), api.url.backend()) };
        let router = app(state);
        let send = async |proto: &str| {
            let csrf = "c".repeat(64);
            let body = format!("csrf={csrf}&email=ann%40example.com&password={password}");
            let request = axum::http::Request::post("/auth/login/")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("picket_login_csrf={csrf}"))
                .header("x-forwarded-for", "203.0.113.9")
                .header("x-forwarded-proto", proto)
                .body(Body::from(body))
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            let all = response.headers().get_all("set-cookie");
            let found = all.iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with("picket_session="));
            found.expect("signed in").to_string()
        };
        assert!(send("https").await.contains("; Secure"));
        assert!(!send("http").await.contains("Secure"));
    }
}
