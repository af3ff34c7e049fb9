//! The origins an edge sends to: `ORIGIN_URL` as a comma-separated list, parsed once per
//! request into [`Origins`], and the order to try them in for one attempt. An attempt starts at
//! an origin picked from a spread value (the event id, or a random number the shell passes in)
//! and moves on, each origin at most once, while the answer says "unavailable, later"
//! ([`ForwardOutcome::Unavailable`]: no answer, a timeout, 408, 429 or 5xx). A 2xx or a final
//! 4xx from any origin ends it. Pure: no clock, no randomness, no I/O.

use super::ingest::ForwardOutcome;
use super::EventId;

/// The setting that names the origins.
pub const SETTING: &str = "ORIGIN_URL";

/// The origins, in the order the setting lists them, without trailing slashes; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origins(Vec<String>);

impl Origins {
    /// Parses `ORIGIN_URL`: one base URL, or several separated by commas. Whitespace around an
    /// entry is ignored; an empty entry (`a,,b`, a trailing comma) and an origin named twice
    /// are refused, naming the setting, rather than guessed at.
    pub fn parse(raw: &str) -> Result<Origins, String> {
        if raw.trim().is_empty() {
            return Err(format!("{SETTING} is empty: give the origin's base URL (several separated by commas)"));
        }
        let mut origins: Vec<String> = Vec::new();
        for (n, entry) in raw.split(',').enumerate() {
            let entry = entry.trim().trim_end_matches('/');
            if entry.is_empty() {
                return Err(format!(
                    "{SETTING} has an empty entry (number {} in {raw:?}): separate origins by single commas, without a trailing one",
                    n + 1
                ));
            }
            if entry.chars().any(char::is_whitespace) {
                return Err(format!("{SETTING} entry {entry:?} contains whitespace: separate origins by commas"));
            }
            if origins.iter().any(|o| o == entry) {
                return Err(format!("{SETTING} names {entry} twice"));
            }
            origins.push(entry.to_string());
        }
        Ok(Origins(origins))
    }

    /// Reads and parses the setting through `get`.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Origins, String> {
        Origins::parse(&get(SETTING).ok_or_else(|| format!("{SETTING} is not set"))?)
    }

    /// How many origins there are (at least one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never: parsing refuses an empty list. (Clippy asks for it beside `len`.)
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The origins to try for one attempt, each once: from the one `spread` picks, wrapping
    /// round the list. Different spread values start at different origins, so forwards spread
    /// across them; the same value always gives the same order.
    pub fn order(&self, spread: u64) -> impl Iterator<Item = &str> + '_ {
        let start = (mix(spread) % self.0.len() as u64) as usize;
        self.0[start..].iter().chain(&self.0[..start]).map(String::as_str)
    }
}

/// The spread value of a forward: its event id when it has one (so every edge and every retry
/// of that event starts at the same origin, whatever instance it runs in), else `random`.
pub fn spread(event_id: Option<EventId>, random: u64) -> u64 {
    event_id.map_or(random, |id| {
        let bytes = id.as_bytes();
        let (high, low) = bytes.split_at(8);
        u64::from_le_bytes(high.try_into().expect("8 bytes")) ^ u64::from_le_bytes(low.try_into().expect("8 bytes"))
    })
}

/// Whether an origin's answer (its status, `None` for no answer in time) sends the attempt on
/// to the next origin: exactly when a forward would be kept for later.
pub fn try_next(status: Option<u16>) -> bool {
    ForwardOutcome::from_status(status) == ForwardOutcome::Unavailable
}

/// SplitMix64's finalizer: any bit of the spread value moves the start, so ids that differ only
/// in their high bits (or counters) still spread evenly.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(origins: &Origins, spread: u64) -> Vec<&str> {
        origins.order(spread).collect()
    }

    #[test]
    fn one_url_is_one_origin_as_before() {
        let one = Origins::parse("https://origin.example/").unwrap();
        assert_eq!(one.len(), 1);
        for spread in [0, 1, u64::MAX] {
            assert_eq!(order(&one, spread), ["https://origin.example"]);
        }
        assert_eq!(Origins::parse(" http://127.0.0.1:8000 ").unwrap(), Origins(vec!["http://127.0.0.1:8000".into()]));
    }

    #[test]
    fn a_list_is_split_on_commas_with_whitespace_around_entries_ignored() {
        let list = Origins::parse(" http://a:1/ ,http://b:2,\thttp://c:3 \n").unwrap();
        assert_eq!(list, Origins(vec!["http://a:1".into(), "http://b:2".into(), "http://c:3".into()]));
        assert!(!list.is_empty());
    }

    #[test]
    fn empty_entries_and_repeats_are_refused_naming_the_setting() {
        for raw in ["", "  ", "http://a,,http://b", "http://a,", ",http://a", "http://a, ,http://b", ","] {
            let e = Origins::parse(raw).unwrap_err();
            assert!(e.starts_with("ORIGIN_URL "), "{raw:?}: {e}");
            assert!(e.contains("empty"), "{raw:?}: {e}");
        }
        let twice = Origins::parse("http://a, http://a/").unwrap_err();
        assert_eq!(twice, "ORIGIN_URL names http://a twice");
        assert!(Origins::parse("http://a http://b").unwrap_err().contains("whitespace"));
        assert_eq!(Origins::from_settings(|_| None).unwrap_err(), "ORIGIN_URL is not set");
        let got = Origins::from_settings(|name| (name == "ORIGIN_URL").then(|| "http://a,http://b".to_string()));
        assert_eq!(got.unwrap().len(), 2);
    }

    #[test]
    fn every_order_holds_each_origin_once_and_wraps_round_from_its_start() {
        let list = Origins::parse("http://a,http://b,http://c").unwrap();
        let rotations = [
            ["http://a", "http://b", "http://c"],
            ["http://b", "http://c", "http://a"],
            ["http://c", "http://a", "http://b"],
        ];
        for spread in 0..200u64 {
            let got = order(&list, spread);
            assert!(rotations.iter().any(|r| got == r), "spread {spread}: {got:?}");
            assert_eq!(got, order(&list, spread), "the same spread, the same order");
        }
    }

    #[test]
    fn consecutive_and_random_spreads_start_at_every_origin_about_evenly() {
        let list = Origins::parse("http://a,http://b,http://c").unwrap();
        let mut firsts = [0usize; 3];
        for spread in 0..3000u64 {
            firsts[["http://a", "http://b", "http://c"]
                .iter()
                .position(|o| Some(*o) == list.order(spread).next())
                .unwrap()] += 1;
        }
        assert!(firsts.iter().all(|n| (800..1200).contains(n)), "{firsts:?}");
        // Event ids as test suites make them (a counter in the low bytes) spread too.
        let two = Origins::parse("http://a,http://b").unwrap();
        let starts: Vec<&str> = (0..64u128)
            .map(|i| EventId::from_bytes((0xfa_0000 + i).to_be_bytes()))
            .map(|id| two.order(spread(Some(id), 0)).next().unwrap())
            .collect();
        let at_a = starts.iter().filter(|s| **s == "http://a").count();
        assert!((16..48).contains(&at_a), "{at_a} of 64 start at a");
    }

    #[test]
    fn a_forward_spreads_by_its_event_id_and_without_one_by_the_random_number() {
        let id = EventId::from_bytes([0xab; 16]);
        assert_eq!(spread(Some(id), 1), spread(Some(id), 2), "the event id decides");
        assert_eq!(spread(None, 7), 7);
    }

    #[test]
    fn unavailable_answers_move_on_and_2xx_or_final_4xx_end_the_attempt() {
        for status in [None, Some(408), Some(429), Some(500), Some(502), Some(503), Some(504)] {
            assert!(try_next(status), "{status:?}");
        }
        for status in [200, 202, 400, 401, 403, 404, 413] {
            assert!(!try_next(Some(status)), "{status}");
        }
    }
}
