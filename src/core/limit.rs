//! Rate limiting an envelope, sans-IO: [`plan`] works out which counters must be asked
//! (cached upstream limits and `limit: 0` quotas decide at once), the shell asks its counter
//! service (Durable Objects at the edge) using [`try_consume`], and [`enforce`] drops what was
//! refused — an item goes when any category it counts in is refused, an event's dependants
//! (attachments, user reports) go with it — and returns the limits to announce and one outcome
//! per category each dropped item counts in.

use super::envelope::Envelope;
use super::outcome::{Outcome, OutcomeKind};
use super::quota::{item_quantities, CachedLimits, DataCategory, Quota, RateLimit, Scoping};

/// A question for the counter service: may `quantity` more be counted?
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    /// The counter's home (one quota and scope value): the shard a Durable Object serves.
    pub shard: String,
    /// The window it counts in; a new window starts from zero.
    pub window_end: u64,
    pub quantity: u64,
    pub limit: u64,
}

/// What a counter keeps per shard (a Durable Object's storage, Spin's key-value store): the
/// window it counts and the quantity used in it, one value whatever the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub window_end: u64,
    pub used: u64,
}

impl Tally {
    /// Applies `check` to the stored tally: the tally to store when the quantity fits. A later
    /// window starts from zero; a check from an earlier window (another instance's clock behind)
    /// counts against the newer window rather than reopening the old one.
    pub fn consume(stored: Option<Tally>, check: &Check) -> Option<Tally> {
        let current = match stored {
            Some(t) if t.window_end >= check.window_end => t,
            _ => Tally { window_end: check.window_end, used: 0 },
        };
        let used = try_consume(current.used, check.quantity, check.limit)?;
        Some(Tally { used, ..current })
    }
}

/// The counting rule every counter applies: the new total if `quantity` fits under `limit`.
/// Exactness follows from applying it under one lock per shard.
pub fn try_consume(used: u64, quantity: u64, limit: u64) -> Option<u64> {
    used.checked_add(quantity).filter(|total| *total <= limit)
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    category: DataCategory,
    limit: RateLimit,
    /// `None`: refused already (cached limit or `limit: 0`); `Some(i)`: the answer to check `i`.
    check: Option<usize>,
}

/// What must be asked before the envelope can be judged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub checks: Vec<Check>,
    rules: Vec<Rule>,
}

/// Plans the quota checks for `envelope` under `quotas`, honouring limits learned from upstream.
pub fn plan(envelope: &Envelope, quotas: &[Quota], scoping: &Scoping, cached: &CachedLimits, now: u64) -> Plan {
    let mut totals: Vec<(DataCategory, u64)> = Vec::new();
    for (category, quantity) in envelope.items.iter().flat_map(item_quantities) {
        match totals.iter_mut().find(|(c, _)| *c == category) {
            Some((_, total)) => *total = total.saturating_add(quantity),
            None => totals.push((category, quantity)),
        }
    }
    let mut plan = Plan::default();
    for (category, quantity) in totals {
        if let Some(limit) = cached.active(scoping.project_id, category, now) {
            plan.rules.push(Rule { category, limit: limit.clone(), check: None });
            continue;
        }
        for quota in quotas.iter().filter(|q| q.applies(scoping, category)) {
            let Some(max) = quota.limit else { continue };
            let limit = |until| RateLimit {
                categories: quota.categories.iter().map(|c| DataCategory::from_name(c)).collect(),
                scope: quota.scope,
                reason_code: quota.reason_code.clone(),
                until,
            };
            if max == 0 {
                plan.rules.push(Rule { category, limit: limit(now.saturating_add(60)), check: None });
            } else if let Some((shard, window_end)) = quota.counter(scoping, now) {
                plan.checks.push(Check { shard, window_end, quantity, limit: max });
                plan.rules.push(Rule { category, limit: limit(window_end), check: Some(plan.checks.len() - 1) });
            }
        }
    }
    plan
}

/// The envelope after rate limiting.
#[derive(Debug)]
pub struct Enforced {
    /// What may go upstream; empty when everything was limited.
    pub envelope: Envelope,
    /// The limits to announce in `X-Sentry-Rate-Limits` (and `Retry-After` for a 429).
    pub limits: Vec<RateLimit>,
    /// What was dropped, for the origin's stats.
    pub outcomes: Vec<Outcome>,
}

/// Applies the counters' answers (`allowed[i]` for `plan.checks[i]`).
pub fn enforce(mut envelope: Envelope, plan: &Plan, allowed: &[bool]) -> Enforced {
    let mut limits: Vec<RateLimit> = Vec::new();
    let refused = |rule: &&Rule| rule.check.is_none_or(|i| !allowed.get(i).copied().unwrap_or(false));
    for rule in plan.rules.iter().filter(refused) {
        if !limits.contains(&rule.limit) {
            limits.push(rule.limit.clone());
        }
    }
    let limited = |category: DataCategory| plan.rules.iter().filter(refused).any(|r| r.category == category);
    // The reason is the refusing rule's, not that of another quota on the same category.
    let reason_for = |category: DataCategory| {
        plan.rules
            .iter()
            .filter(refused)
            .find(|r| r.category == category)
            .and_then(|r| r.limit.reason_code.clone())
            .unwrap_or_else(|| "generic".into())
    };
    // The first refused category an item counts in, if any.
    let refused_in = |quantities: &[(DataCategory, u64)]| quantities.iter().map(|(c, _)| *c).find(|c| limited(*c));
    // An event that is dropped takes its dependants with it, under the event's reason.
    let event_reason = envelope
        .items
        .iter()
        .filter(|i| i.is_event_payload())
        .find_map(|i| refused_in(&item_quantities(i)))
        .map(reason_for);
    let mut outcomes = Vec::new();
    envelope.items.retain(|item| {
        let quantities = item_quantities(item);
        let reason = match (refused_in(&quantities), &event_reason) {
            (Some(category), _) => reason_for(category),
            (None, Some(reason)) if item.is_event_dependant() => reason.clone(),
            _ => return true,
        };
        // An item without categories is never refused in its own right, and a dependant
        // without any (form data) stays, as before; one that counts is accounted in each.
        if quantities.is_empty() {
            return true;
        }
        outcomes.extend(Outcome::of(quantities, OutcomeKind::RateLimited, &reason));
        false
    });
    Enforced { envelope, limits, outcomes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::quota::{parse_header, QuotaScope};

    fn scoping() -> Scoping {
        Scoping { organization_id: 1, project_id: 42, public_key: "k".into(), key_id: Some(7) }
    }

    fn quota(categories: &[&str], limit: u64) -> Quota {
        Quota {
            id: Some("errors".into()),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            scope: QuotaScope::Project,
            scope_id: None,
            limit: Some(limit),
            window: Some(60),
            reason_code: Some("project_quota".into()),
        }
    }

    fn envelope() -> Envelope {
        Envelope::parse(
            b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"attachment\",\"length\":3}\nabc\n\
              {\"type\":\"event\"}\n{}\n{\"type\":\"session\"}\n{}\n{\"type\":\"client_report\"}\n{}\n",
        )
        .unwrap()
    }

    fn types(e: &Envelope) -> Vec<&str> {
        e.items.iter().map(|i| i.ty()).collect()
    }

    #[test]
    fn counting_is_exact_at_the_limit() {
        assert_eq!(try_consume(9, 1, 10), Some(10));
        assert_eq!(try_consume(10, 1, 10), None);
        assert_eq!(try_consume(u64::MAX, 1, u64::MAX), None);
    }

    #[test]
    fn a_tally_restarts_in_a_new_window_and_never_reopens_an_old_one() {
        let check = |window_end, quantity| Check { shard: "q:project:1".into(), window_end, quantity, limit: 3 };
        let t = Tally::consume(None, &check(60, 2)).unwrap();
        assert_eq!(t, Tally { window_end: 60, used: 2 });
        assert_eq!(Tally::consume(Some(t), &check(60, 2)), None);
        assert_eq!(Tally::consume(Some(t), &check(120, 3)), Some(Tally { window_end: 120, used: 3 }));
        let newer = Tally { window_end: 120, used: 3 };
        assert_eq!(Tally::consume(Some(newer), &check(60, 1)), None);
    }

    #[test]
    fn a_refused_event_takes_its_attachment_and_keeps_the_rest() {
        let plan = plan(&envelope(), &[quota(&["error"], 10)], &scoping(), &CachedLimits::default(), 100);
        assert_eq!(
            plan.checks,
            vec![Check { shard: "errors:project:42".into(), window_end: 120, quantity: 1, limit: 10 }]
        );
        let kept = enforce(envelope(), &plan, &[true]);
        assert_eq!(
            (types(&kept.envelope), kept.limits.len()),
            (vec!["attachment", "event", "session", "client_report"], 0)
        );
        let refused = enforce(envelope(), &plan, &[false]);
        assert_eq!(types(&refused.envelope), vec!["session", "client_report"]);
        assert_eq!(refused.limits[0].retry_after(100), 20);
        let dropped: Vec<(DataCategory, u64, &str)> =
            refused.outcomes.iter().map(|o| (o.category, o.quantity, o.reason.as_str())).collect();
        assert_eq!(
            dropped,
            vec![
                (DataCategory::Attachment, 3, "project_quota"),
                (DataCategory::AttachmentItem, 1, "project_quota"),
                (DataCategory::Error, 1, "project_quota")
            ]
        );
    }

    #[test]
    fn regression_the_reason_is_the_refusing_quotas() {
        let key = Quota {
            id: Some("key".into()),
            scope: QuotaScope::Key,
            reason_code: Some("key_quota".into()),
            ..quota(&["error"], 1)
        };
        let p = plan(&envelope(), &[quota(&["error"], 10), key], &scoping(), &CachedLimits::default(), 100);
        let out = enforce(envelope(), &p, &[true, false]);
        let reasons: Vec<&str> = out.outcomes.iter().map(|o| o.reason.as_str()).collect();
        assert_eq!(reasons, vec!["key_quota", "key_quota", "key_quota"], "attachment bytes and item, error");
        assert_eq!(out.limits.len(), 1);
    }

    #[test]
    fn zero_limits_and_cached_limits_refuse_without_asking() {
        let p = plan(&envelope(), &[quota(&["session"], 0)], &scoping(), &CachedLimits::default(), 100);
        assert!(p.checks.is_empty());
        assert_eq!(types(&enforce(envelope(), &p, &[]).envelope), vec!["attachment", "event", "client_report"]);
        let mut cached = CachedLimits::default();
        cached.learn(42, parse_header("30:error:organization:quota_exceeded", 100), 100);
        let p = plan(&envelope(), &[quota(&["error"], 10)], &scoping(), &cached, 100);
        assert!(p.checks.is_empty(), "a cached limit answers without a counter");
        let out = enforce(envelope(), &p, &[]);
        assert_eq!(out.limits[0].reason_code.as_deref(), Some("quota_exceeded"));
        assert_eq!(types(&out.envelope), vec!["session", "client_report"]);
    }

    #[test]
    fn quotas_on_the_new_categories_limit_their_items() {
        let env = || {
            Envelope::parse(
                b"{}\n{\"type\":\"log\",\"item_count\":4,\"length\":6}\n{}{}{}\n\
                  {\"type\":\"trace_metric\",\"item_count\":2}\n{}\n\
                  {\"type\":\"profile_chunk\",\"platform\":\"python\"}\n{}\n\
                  {\"type\":\"attachment\",\"length\":3}\nabc\n{\"type\":\"client_report\"}\n{}\n",
            )
            .unwrap()
        };
        type Case = (&'static str, u64, &'static str, Vec<(DataCategory, u64)>);
        let cases: [Case; 5] = [
            ("log_item", 4, "log", vec![(DataCategory::LogByte, 6), (DataCategory::LogItem, 4)]),
            ("log_byte", 6, "log", vec![(DataCategory::LogByte, 6), (DataCategory::LogItem, 4)]),
            ("trace_metric", 2, "trace_metric", vec![(DataCategory::TraceMetric, 2)]),
            ("profile_chunk", 1, "profile_chunk", vec![(DataCategory::ProfileChunk, 1)]),
            (
                "attachment_item",
                1,
                "attachment",
                vec![(DataCategory::Attachment, 3), (DataCategory::AttachmentItem, 1)],
            ),
        ];
        for (category, quantity, ty, dropped) in cases {
            let p = plan(&env(), &[quota(&[category], 10)], &scoping(), &CachedLimits::default(), 100);
            assert_eq!(p.checks.len(), 1, "{category}");
            assert_eq!(p.checks[0].quantity, quantity, "{category}");
            assert_eq!(types(&enforce(env(), &p, &[true]).envelope).len(), 5, "{category}");
            let out = enforce(env(), &p, &[false]);
            assert!(!types(&out.envelope).contains(&ty), "{category}");
            assert_eq!(types(&out.envelope).len(), 4, "{category}: only the {ty} goes");
            let got: Vec<(DataCategory, u64)> = out.outcomes.iter().map(|o| (o.category, o.quantity)).collect();
            assert_eq!(got, dropped, "{category}");
            assert_eq!(out.limits[0].categories, vec![DataCategory::from_name(category)]);
        }
    }
}
