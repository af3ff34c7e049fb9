//! The glob matcher against Relay's own pattern tests (case-insensitive, as the filters use
//! it), its quirks, and two references on generated patterns: globset (what the filters used
//! before) where the two syntaxes agree, and a regex spelled from the same pieces for all of it.

use super::Glob;
use proptest::prelude::*;

fn matches(pattern: &str, text: &str) -> bool {
    Glob::new(pattern).unwrap_or_else(|| panic!("{pattern:?} compiles")).is_match(text)
}

#[track_caller]
fn yes(pattern: &str, texts: &[&str]) {
    for text in texts {
        assert!(matches(pattern, text), "{pattern:?} should match {text:?}");
    }
}

#[track_caller]
fn no(pattern: &str, texts: &[&str]) {
    for text in texts {
        assert!(!matches(pattern, text), "{pattern:?} should not match {text:?}");
    }
}

#[test]
fn literals_prefixes_suffixes_and_contains() {
    no("", &["", "foo"]);
    yes("foo", &["foo", "fOo", "FOO"]);
    no("foo", &["fo", "fooo", "nope"]);
    yes(r"f\{\}o", &["f{}o"]);
    yes(r"f\{b,a,r\}o", &["f{b,a,r}o"]);
    yes(r"f\\o", &[r"f\o"]);
    yes("fඞo", &["fඞo"]);
    yes("foo*", &["foo", "FOO___", "foo/bar", "fooඞ"]);
    no("foo*", &["fo", "/foo", "fob"]);
    yes("*foo", &["foo", "___FOO", "x/foo"]);
    no("*foo", &["foo/", "fo"]);
    yes("*foo*", &["foo", "_/_fOo_/_", "a\nfoo\n"]);
    no("*foo*", &["fඞo", "___fo___"]);
    yes("*", &["", "a", "\n", "/?/?/"]);
    yes("ǧ", &["Ǧ"]);
}

#[test]
fn any_and_wildcards() {
    no("?", &["", "aa"]);
    yes("?", &["ඞ", "?", "\n", "/"]);
    yes("a?a?a", &["abaca", "AaAaA"]);
    no("a?a?a", &["ab_ca"]);
    no("foo*?*", &["foo"]);
    yes("foo*?*?", &["foo__", "foo_____"]);
    no("??*", &["", "a"]);
    yes("*??*", &["ab", "abcde"]);
    yes("*issip*ss*", &["mississipissippi"]);
    no("xxxx*zzy*fffff", &["xxxx*zzzzzzzzy*f"]);
    yes("xy*z*xyz", &["xyxyxyzyxyz"]);
    no("*12*23", &["a12b12"]);
    yes("*a?b", &["caaab"]);
    no("a*aar", &["a*ar"]);
    yes("?*b*?*d*?", &["abcde"]);
    yes("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*", &["aaaaaaaaaaaaaaaaa"]);
    no("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*", &["aaaaaaaaaaaaaaaa"]);
    let long = "a".repeat(10_000);
    no(&"*a".repeat(40), &[&format!("{long}b")]);
}

#[test]
fn classes() {
    yes("[a]", &["a", "A"]);
    no("[a]", &["[a]", "b"]);
    yes("x[ab]x", &["xAX", "XBx"]);
    no("x[ab]x", &["Xcx", "xaax"]);
    yes("[A-z]", &["a", "[", "Z"]);
    no("[A-z]", &["0"]);
    yes("[0-9a-bX-ZfF][0-9a-bX-ZfF]", &["3b", "Yf"]);
    no("[0-9a-bX-ZfF]", &["c", "ඞ"]);
    yes("[0-9!]", &["!"]);
    yes(r"a[\]a\-]b", &["aab", "a]b", "a-b"]);
    yes(r"[\\]", &[r"\"]);
    yes("a[X-]b", &["a-b", "aXb", "axb"]);
    yes("[-a]", &["-", "a"]);
    yes("[ǧ]", &["Ǧ"]);
    yes("[Ǧ]", &["ǧ"]);
    no("[!b]", &["b", "B"]);
    yes("[!ab]", &["c", "C"]);
    yes("[!a-c]", &["d", "ඞ"]);
    no("[!a-c]", &["a", "B"]);
    yes(r"[!\]]", &["a"]);
    no(r"[!\]]", &["]"]);
    yes("[!!]", &["a"]);
    no("[!!]", &["!"]);
    yes("1.18.[!0-4].*", &["1.18.5.aBc"]);
    no("1.18.[!0-4].*", &["1.18.3.abc"]);
    yes("!*!*.md", &["!foo!.md"]);
    // Relay's range quirk: a `-` after a range extends that range.
    yes("[a-c-e]", &["d"]);
}

#[test]
fn alternates() {
    yes("{foo,bar}", &["foo", "BAR"]);
    no("{foo,bar}", &["fooo", "bao"]);
    yes("{[fb][oa][or],baz}", &["foo", "bar", "baz"]);
    no("{baz,b[!aA]r}", &["bar"]);
    yes("{baz,b[!aA]r}", &["bXr"]);
    yes(r"a{[a-z],\?}a", &["a?a", "aXa"]);
    no(r"a{\[\],\{\}}a", &["a[}a", "a{a"]);
    yes("foo/{*.js,*.html}", &["foo/.js", "foo/bar.html"]);
    no("foo/{*.js,*.html}", &["foo/bar.png", "bar/bar.js"]);
    yes("{foo,abc}{def,bar}", &["foodef", "abcbar"]);
    no("{foo,abc}{def,bar}", &["fooabc"]);
    yes("{foo,*}", &["", "anything"]);
    yes(
        "*https://reactjs.org/docs/error-decoder.html?invariant={418,419,422,423,425}*",
        &["Minified React error #423; visit https://reactjs.org/docs/error-decoder.html?invariant=423 for more"],
    );
    yes(
        "*b??{foo,bar,baz,with}*cr{x,y,z,?}zyl[a-z]ng{suffix,pr?*ix}*it?**?uallymatches",
        &["FOOBARWITHACRAZYLONGPREFIXANDANDITACTUALLYMATCHES"],
    );
}

#[test]
fn relays_quirks() {
    // An empty alternative makes the group optional, unless it is the first.
    yes("x{a,}y", &["xy", "xay"]);
    yes("x{a,,b}y", &["xy", "xay", "xby"]);
    yes("x{,a}y", &["xay"]);
    no("x{,a}y", &["xy"]);
    // `{}` is nothing at all; `{,}` has no alternative left, so matches nothing.
    yes("x{}y", &["xy"]);
    no("x{,}y", &["xy", "x,y", "x"]);
    no("{,}", &[""]);
    no("{}", &["", "a"]);
    // An empty class is no token.
    yes("a[]b", &["ab"]);
    yes("a[!]b", &["ab"]);
    no("[]", &["", "a"]);
    // An unclosed `{` drops what follows it.
    yes("foo{bar", &["foo"]);
    no("foo{bar", &["foobar"]);
    // `^` negates nothing; `!` only negates inside a class.
    yes("[^a]", &["^", "a"]);
    no("!a", &["b"]);
}

#[test]
fn what_relay_rejects_is_none() {
    for pattern in [r"\", r"f\", "[", "[a-z", r"[a-z\", "[[]", "[]]", "]", "[b-a]", "[a-A]", "}", "{a,{b}}", "a}"] {
        assert!(Glob::new(pattern).is_none(), "{pattern:?}");
    }
}

/// A piece of a generated pattern, spelled as a glob and as the regex it means.
#[derive(Clone, Debug)]
enum Piece {
    Char(char),
    Escaped(char),
    Any,
    Star,
    Class(bool, Vec<(char, char)>),
    /// The alternatives as written (an empty one allowed only in the Relay-only patterns).
    Group(Vec<Vec<Piece>>),
}

fn plain() -> impl Strategy<Value = Piece> {
    let class_item = prop_oneof![
        proptest::char::range('a', 'd').prop_map(|c| (c, c)),
        (proptest::char::range('a', 'd'), 0u8..3).prop_map(|(c, n)| (c, (c as u8 + n) as char)),
        (proptest::char::range('A', 'D'), 0u8..3).prop_map(|(c, n)| (c, (c as u8 + n) as char)),
        proptest::char::range('0', '3').prop_map(|c| (c, c)),
    ];
    prop_oneof![
        4 => proptest::sample::select(vec!['a', 'b', 'c', 'A', 'B', '.', '/', '-', ' ', '1']).prop_map(Piece::Char),
        1 => proptest::sample::select(vec!['*', '?', '[', ']', '{', '}', ',', '\\']).prop_map(Piece::Escaped),
        2 => Just(Piece::Any),
        2 => Just(Piece::Star),
        2 => (any::<bool>(), proptest::collection::vec(class_item, 1..3)).prop_map(|(n, r)| Piece::Class(n, r)),
    ]
}

fn pieces(empty_alternatives: bool) -> impl Strategy<Value = Vec<Piece>> {
    let min = usize::from(!empty_alternatives);
    let alternative = proptest::collection::vec(plain(), min..4);
    let piece = prop_oneof![5 => plain(), 1 => proptest::collection::vec(alternative, 1..4).prop_map(Piece::Group)];
    proptest::collection::vec(piece, 1..7)
}

fn glob_of(pieces: &[Piece]) -> String {
    let (mut out, mut star) = (String::new(), false);
    for piece in pieces {
        // Never `**`: globset reads that as a path wildcard (and `**` means `*` anyway).
        let was_star = std::mem::replace(&mut star, matches!(piece, Piece::Star));
        match piece {
            Piece::Char(c) => out.push(*c),
            Piece::Escaped(c) => out.extend(['\\', *c]),
            Piece::Any => out.push('?'),
            Piece::Star if was_star => {}
            Piece::Star => out.push('*'),
            Piece::Class(negated, ranges) => {
                out.push('[');
                if *negated {
                    out.push('!');
                }
                for (lo, hi) in ranges {
                    out.push(*lo);
                    if lo != hi {
                        out.extend(['-', *hi]);
                    }
                }
                out.push(']');
            }
            Piece::Group(alternatives) => {
                out.push('{');
                let spelled: Vec<String> = alternatives.iter().map(|a| glob_of(a)).collect();
                out.push_str(&spelled.join(","));
                out.push('}');
            }
        }
    }
    out
}

/// The regex a pattern means, with Relay's rules for empty alternatives restated: the first
/// alternative counts only when it is not empty, a group with alternatives but none non-empty
/// matches nothing, and `{}` is nothing.
fn regex_of(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Char(c) | Piece::Escaped(c) => out.push_str(&regex_lite::escape(&c.to_string())),
            Piece::Any => out.push_str("(?s:.)"),
            Piece::Star => out.push_str("(?s:.*)"),
            Piece::Class(negated, ranges) => {
                out.push_str(if *negated { "[^" } else { "[" });
                for (lo, hi) in ranges {
                    out.push_str(&format!("{lo}-{hi}"));
                }
                out.push(']');
            }
            Piece::Group(alternatives) => {
                let optional = alternatives.iter().skip(1).any(Vec::is_empty);
                let kept: Vec<String> = alternatives.iter().filter(|a| !a.is_empty()).map(|a| regex_of(a)).collect();
                match (kept.is_empty(), alternatives.len()) {
                    (true, 1) => {}
                    (true, _) => out.push_str("[^\\s\\S]"),
                    _ => out.push_str(&format!("(?:{}){}", kept.join("|"), if optional { "?" } else { "" })),
                }
            }
        }
    }
    out
}

fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[abcdABCD0-3./ *?,{}\\[\\]-]{0,10}").unwrap()
}

fn roll(seed: &mut u64, n: usize) -> usize {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*seed >> 33) as usize % n
}

/// A text the pattern probably matches: each piece instantiated, with some noise.
fn instance(pieces: &[Piece], seed: &mut u64) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Char(c) | Piece::Escaped(c) => out.push(*c),
            Piece::Any => out.push(['x', '/', 'a'][roll(seed, 3)]),
            Piece::Star => {
                for _ in 0..roll(seed, 3) {
                    out.push(['b', '.', 'C'][roll(seed, 3)]);
                }
            }
            Piece::Class(_, ranges) => out.push(ranges[roll(seed, ranges.len())].1),
            Piece::Group(alternatives) => {
                let pick = &alternatives[roll(seed, alternatives.len())];
                out.push_str(&instance(pick, seed));
            }
        }
    }
    if roll(seed, 4) == 0 {
        let at = roll(seed, out.len() + 1);
        out.insert(at, 'b');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_globset_where_the_syntaxes_agree(pieces in pieces(false), other in text(), seed in any::<u64>()) {
        let pattern = glob_of(&pieces);
        let ours = Glob::new(&pattern).expect("compiles");
        let theirs = globset::GlobBuilder::new(&pattern)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
            .expect("globset compiles")
            .compile_matcher();
        for text in [instance(&pieces, &mut { seed }), other] {
            prop_assert_eq!(ours.is_match(&text), theirs.is_match(&text), "{:?} on {:?}", pattern, text);
        }
    }

    #[test]
    fn means_the_regex_its_pieces_spell(pieces in pieces(true), other in text(), seed in any::<u64>()) {
        let pattern = glob_of(&pieces);
        let ours = Glob::new(&pattern).expect("compiles");
        // A pattern with no token at all (only `{}`s) matches nothing, not the empty text.
        let spelled = regex_of(&pieces);
        let spelled = if spelled.is_empty() { "[^\\s\\S]".to_string() } else { spelled };
        let regex = regex_lite::RegexBuilder::new(&format!("^(?:{spelled})$"))
            .case_insensitive(true)
            .build()
            .expect("regex compiles");
        for text in [instance(&pieces, &mut { seed }), other] {
            prop_assert_eq!(ours.is_match(&text), regex.is_match(&text), "{:?} on {:?}", pattern, text);
        }
    }
}
