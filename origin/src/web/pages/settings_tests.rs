//! The settings forms' parsing and the project page's rendering.

use super::*;
use crate::model::FilterSettings;
use crate::web::pages::test_chrome;

fn key_form(window: &str, count: &str, active: bool) -> KeyForm {
    KeyForm {
        label: Some(" Browser ".into()),
        active: active.then(|| "1".to_string()),
        rate_window: window.into(),
        rate_count: count.into(),
    }
}

#[test]
fn key_forms() {
    let c = key_changes(&key_form("60", "10", true)).unwrap();
    assert_eq!(
        c,
        KeyChanges { label: Some("Browser".into()), is_active: Some(true), rate_limit: Some(Some((60, 10))) }
    );
    let c = key_changes(&key_form("", " ", false)).unwrap();
    assert_eq!((c.is_active, c.rate_limit), (Some(false), Some(None)));
    assert!(key_changes(&key_form("60", "", true)).is_err());
    assert!(key_changes(&key_form("0", "1", true)).is_err());
    assert!(key_changes(&key_form("x", "1", true)).is_err());
}

#[test]
fn filter_forms() {
    let form = FiltersForm {
        localhost: Some("1".into()),
        legacy_browsers: Some("1".into()),
        legacy: vec!["ie9".into(), "ie10".into()],
        error_messages: "*timeout*\n\n ResizeObserver* ".into(),
        ..Default::default()
    };
    let mut s = FilterSettings::default();
    s.web_crawlers.is_enabled = true;
    for c in filter_changes(&form).unwrap() {
        c.apply(&mut s);
    }
    assert!(s.localhost.is_enabled && !s.web_crawlers.is_enabled);
    assert!(s.legacy_browsers.is_enabled);
    assert_eq!(s.legacy_browsers.options, ["ie9", "ie10"]);
    assert_eq!(s.error_messages.patterns, ["*timeout*", "ResizeObserver*"]);
    // Off clears the subfilters.
    for c in filter_changes(&FiltersForm::default()).unwrap() {
        c.apply(&mut s);
    }
    assert!(!s.legacy_browsers.is_enabled && s.legacy_browsers.options.is_empty());
    let bad = FiltersForm { legacy: vec!["netscape".into()], ..Default::default() };
    assert!(filter_changes(&bad).is_err());
    let scrub = scrub_changes(&ScrubForm {
        scrub_data: Some("1".into()),
        sensitive_fields: "a\nb".into(),
        ..Default::default()
    });
    assert_eq!(scrub.scrub_data, Some(true));
    assert_eq!(scrub.scrub_defaults, Some(false));
    assert_eq!(scrub.sensitive_fields, Some(vec!["a".to_string(), "b".to_string()]));
}

fn page(can_edit: bool) -> ProjectPage {
    let key = ProjectKey {
        id: 3,
        project_id: 42,
        public_key: "a0b1c2".into(),
        label: "<Default>".into(),
        is_active: true,
        rate_limit: Some((60, 10)),
        date_created_ms: 0,
    };
    let k = key_view("http://127.0.0.1:8787", &key);
    ProjectPage {
        chrome: test_chrome("settings"),
        org: "acme".into(),
        slug: "web".into(),
        name: "web".into(),
        can_edit,
        saved: Some("The key was saved.".into()),
        snippets: snippets(&k.dsn),
        dsn: k.dsn.clone(),
        keys: vec![k],
        org_quotas: vec![],
        project_quotas: vec![],
        filters: filters_view(&FilterSettings::default()),
        domains: "*.example.com".into(),
        scrubbing: Default::default(),
        sensitive_fields: String::new(),
        safe_fields: String::new(),
        retention: 90,
    }
}

#[test]
fn project_page_shows_dsn_snippets_and_forms() {
    let html = page(true).render().unwrap();
    assert!(html.contains("<pre class=\"copy\">http://a0b1c2@127.0.0.1:8787/42</pre>"), "{html}");
    assert!(html.contains("sentry_sdk.init("));
    assert!(html.contains("dsn=&#34;http://a0b1c2@127.0.0.1:8787/42&#34;") || html.contains("dsn=&quot;"), "{html}");
    assert!(
        html.contains("@sentry/browser") && html.contains("@sentry/node") && html.contains("sentry::ClientOptions")
    );
    assert!(html.contains("action=\"/settings/acme/projects/web/keys/3/\""));
    assert!(html.contains("name=\"rate_count\" value=\"10\""));
    assert!(html.contains("&#60;Default&#62;"));
    assert!(html.contains("Save filters"));
    assert!(!html.contains(" disabled"));
    let member = page(false).render().unwrap();
    assert!(member.contains("<fieldset disabled>"));
    assert!(!member.contains("Save filters"));
}
