//! Relay's glob patterns as its inbound filters compile them (`relay-pattern`, case-insensitive):
//! `*` any run of characters (`/` and newlines too), `?` one character, `[a-z]`/`[!a-z]` one
//! character in/not in a class, `{a,b}` one of the alternatives (not nested), `\` escapes; the
//! whole text must match, the empty pattern matches nothing, and a pattern Relay rejects is
//! `None`. Matching is a set-of-states walk over the text: time is patterns × characters, never
//! exponential, whatever the pattern.
//!
//! Relay's quirks are kept: an unclosed `{` drops what follows it, an empty class (`[]`, `[!]`)
//! is no token at all, an empty alternative makes the group optional unless it comes first
//! (`{a,}` is `a` or nothing, `{,a}` is `a`), and `{,}` matches nothing. Case folding is per
//! character (Relay lowercases literals as whole strings; the two differ only for `İ` and a
//! word-final `Σ`).

/// One step of a compiled pattern: a character test, or a jump between steps.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// One character, case-folded.
    Char(char),
    /// Any one character.
    Any,
    /// One character in (or, negated, not in) the ranges, tested as Relay does: its lowercase
    /// or its uppercase form (when that is one character) is in a range.
    Class { negated: bool, ranges: Vec<(char, char)> },
    /// Any run of characters: stays here on a character, or moves on without one.
    Star,
    /// Goes on at each of these steps without a character (the branches of `{...}`).
    Fork(Vec<usize>),
    /// Goes on at this step without a character (the end of a branch).
    Jump(usize),
    /// A group with no alternative left (`{,}`): no way on.
    Fail,
}

/// A parsed piece of a pattern, before compiling.
#[derive(Clone, Debug)]
enum Token {
    Step(Step),
    /// `{...}`: the alternatives, an empty one when the group is optional.
    Alternates(Vec<Vec<Token>>),
}

/// A compiled glob pattern.
#[derive(Clone, Debug)]
pub struct Glob {
    steps: Vec<Step>,
}

fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

fn in_class(c: char, ranges: &[(char, char)]) -> bool {
    let within = |c: char| ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
    single(c.to_lowercase()).is_some_and(within) || single(c.to_uppercase()).is_some_and(within)
}

/// Appends `token` where the parser is: into the open group's last alternative (starting
/// one if there is none yet), else at the top level.
fn push(top: &mut Vec<Token>, group: &mut Option<Vec<Vec<Token>>>, token: Token) {
    match group {
        Some(alternatives) => match alternatives.last_mut() {
            Some(last) => last.push(token),
            None => alternatives.push(vec![token]),
        },
        None => top.push(token),
    }
}

/// A closed group as Relay normalizes it: empty alternatives dropped (the group optional if
/// there were any), none left (`{,}`) matches nothing.
fn group(alternatives: Vec<Vec<Token>>) -> Token {
    let optional = alternatives.iter().any(Vec::is_empty);
    let mut alternatives: Vec<_> = alternatives.into_iter().filter(|a| !a.is_empty()).collect();
    if alternatives.is_empty() {
        return Token::Step(Step::Fail);
    }
    if optional {
        alternatives.push(Vec::new());
    }
    Token::Alternates(alternatives)
}

/// `[...]` after its `[`: the class's ranges (empty for `[]`), `None` where Relay errs.
fn class(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<Step> {
    let negated = chars.next_if_eq(&'!').is_some();
    let mut ranges: Vec<(char, char)> = Vec::new();
    let (mut first, mut in_range) = (true, false);
    let set_end = |ranges: &mut Vec<(char, char)>, end: char| {
        let last = ranges.last_mut()?;
        (last.0 <= end).then(|| last.1 = end)
    };
    loop {
        match chars.next()? {
            '[' => return None,
            ']' => break,
            '-' if first => ranges.push(('-', '-')),
            '-' if in_range => {
                set_end(&mut ranges, '-')?;
                in_range = false;
            }
            '-' => in_range = true,
            c => {
                let c = if c == '\\' { chars.next()? } else { c };
                if in_range {
                    set_end(&mut ranges, c)?;
                    in_range = false;
                } else {
                    ranges.push((c, c));
                }
            }
        }
        first = false;
    }
    if in_range {
        ranges.push(('-', '-'));
    }
    Some(Step::Class { negated, ranges })
}

fn parse(pattern: &str) -> Option<Vec<Token>> {
    let mut chars = pattern.chars().peekable();
    let (mut top, mut open) = (Vec::new(), None::<Vec<Vec<Token>>>);
    while let Some(c) = chars.next() {
        let token = match c {
            '?' => Step::Any,
            '*' => Step::Star,
            '[' => match class(&mut chars)? {
                Step::Class { ranges, .. } if ranges.is_empty() => continue,
                class => class,
            },
            ']' => return None,
            '{' if open.is_some() => return None,
            '{' => {
                open = Some(Vec::new());
                continue;
            }
            '}' => {
                let alternatives = open.take()?;
                if !alternatives.is_empty() {
                    push(&mut top, &mut open, group(alternatives));
                }
                continue;
            }
            ',' if open.is_some() => {
                if let Some(alternatives) = &mut open {
                    alternatives.push(Vec::new());
                }
                continue;
            }
            '\\' => Step::Char(fold(chars.next()?)),
            c => Step::Char(fold(c)),
        };
        push(&mut top, &mut open, Token::Step(token));
    }
    Some(top)
}

fn compile(tokens: Vec<Token>, steps: &mut Vec<Step>) {
    for token in tokens {
        match token {
            Token::Step(step) => steps.push(step),
            Token::Alternates(alternatives) => {
                let fork = steps.len();
                steps.push(Step::Fork(Vec::new()));
                let (mut starts, mut ends) = (Vec::new(), Vec::new());
                for alternative in alternatives {
                    starts.push(steps.len());
                    compile(alternative, steps);
                    ends.push(steps.len());
                    steps.push(Step::Jump(0));
                }
                let after = steps.len();
                for end in ends {
                    steps[end] = Step::Jump(after);
                }
                steps[fork] = Step::Fork(starts);
            }
        }
    }
}

impl Glob {
    /// Compiles `pattern`; `None` where Relay rejects it (an unbalanced `[`, `]` or `}`, a
    /// nested `{`, a range that runs backwards, a trailing `\`).
    pub fn new(pattern: &str) -> Option<Glob> {
        let tokens = parse(pattern)?;
        let mut steps = Vec::new();
        if !tokens.is_empty() {
            compile(tokens, &mut steps);
        }
        Some(Glob { steps })
    }

    /// Adds step `at` to `set`, and the steps reached from it without a character.
    fn enter(&self, set: &mut Vec<usize>, seen: &mut [bool], at: usize) {
        if seen[at] {
            return;
        }
        seen[at] = true;
        match self.steps.get(at) {
            Some(Step::Fork(targets)) => targets.iter().for_each(|&t| self.enter(set, seen, t)),
            Some(Step::Jump(target)) => self.enter(set, seen, *target),
            Some(Step::Star) => {
                set.push(at);
                self.enter(set, seen, at + 1);
            }
            Some(Step::Fail) => {}
            _ => set.push(at),
        }
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        if self.steps.is_empty() {
            return false;
        }
        let end = self.steps.len();
        let (mut now, mut next) = (Vec::new(), Vec::new());
        let mut seen = vec![false; end + 1];
        self.enter(&mut now, &mut seen, 0);
        for c in text.chars() {
            seen.fill(false);
            let folded = fold(c);
            for &at in &now {
                let on = match &self.steps.get(at) {
                    Some(Step::Char(want)) => *want == folded,
                    Some(Step::Any) => true,
                    Some(Step::Class { negated, ranges }) => in_class(c, ranges) != *negated,
                    Some(Step::Star) => {
                        self.enter(&mut next, &mut seen, at);
                        false
                    }
                    _ => false,
                };
                if on {
                    self.enter(&mut next, &mut seen, at + 1);
                }
            }
            std::mem::swap(&mut now, &mut next);
            next.clear();
            if now.is_empty() {
                return false;
            }
        }
        now.contains(&end)
    }
}

#[cfg(test)]
mod tests;
