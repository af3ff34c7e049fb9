//! The origin's layering, read from its sources: the `crate::` paths of every file under
//! `origin/src` (the binary's `main.rs` aside) make a graph between top-level modules, and one
//! between the `http` modules; both are acyclic, the router (`app`) is imported by no module,
//! `http` helpers import no handler module, and storage imports nothing from `http` or
//! `process`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One `crate::` (or, within `http`, `super::`) path: where it is and what it names.
#[derive(Clone, Debug)]
struct Reference {
    file: String,
    line: usize,
    /// The path after `crate::`, e.g. `["http", "auth", "token_digest"]`.
    path: Vec<String>,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: crate::{}", self.file, self.line, self.path.join("::"))
    }
}

/// Module → module it imports → the references that make the edge.
type Graph = BTreeMap<String, BTreeMap<String, Vec<Reference>>>;

/// Source text with comments, strings and character literals blanked (newlines kept), so only
/// code is searched and line numbers still match.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let end = if c == '/' && next == Some('/') {
            chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |n| i + n)
        } else if c == '/' && next == Some('*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < chars.len() && depth > 0 {
                match (chars[j], chars.get(j + 1).copied()) {
                    ('/', Some('*')) => (depth, j) = (depth + 1, j + 2),
                    ('*', Some('/')) => (depth, j) = (depth - 1, j + 2),
                    _ => j += 1,
                }
            }
            j
        } else if c == 'r' && matches!(next, Some('"' | '#')) && (i == 0 || !ident(chars[i - 1]) || chars[i - 1] == 'b')
        {
            // A raw string: `r"…"` or `r#"…"#`, the closing quote followed by as many `#`.
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let mut j = i + 2 + hashes;
            while j < chars.len()
                && !(chars[j] == '"' && chars[j + 1..].iter().take(hashes).filter(|&&c| c == '#').count() == hashes)
            {
                j += 1;
            }
            (j + 1 + hashes).min(chars.len())
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            (j + 1).min(chars.len())
        } else if c == '\'' && next == Some('\\') {
            chars[i + 2..].iter().position(|&c| c == '\'').map_or(chars.len(), |n| i + 3 + n)
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i + 3
        } else {
            out.push(c);
            i += 1;
            continue;
        };
        out.extend(chars[i..end].iter().map(|&c| blank(c)));
        i = end;
    }
    out
}

/// The paths a use tree or path starting at `rest` names, e.g.
/// `{http::{auth, extract::Path}, store}` → `http::auth`, `http::extract::Path`, `store`.
fn use_tree(rest: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    use_tree(&group[start..i], prefix, out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    use_tree(&group[start..i], prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    if name.is_empty() || name == "self" {
        if !prefix.is_empty() {
            out.push(prefix.to_vec());
        }
        return;
    }
    let mut path = prefix.to_vec();
    path.push(name.clone());
    let after = rest[name.len()..].trim_start();
    match after.strip_prefix("::") {
        Some(more) => use_tree(more, &path, out),
        None => out.push(path),
    }
}

/// Every `crate::` path in `code`, with its line; `super::` ones too, as `super` paths.
fn paths_in(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for root in ["crate", "super"] {
        let needle = format!("{root}::");
        for (at, _) in code.match_indices(&needle) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
                continue;
            }
            let line = code[..at].matches('\n').count() + 1;
            let mut paths = Vec::new();
            use_tree(&code[at + needle.len()..], &[], &mut paths);
            for mut path in paths {
                if root == "super" {
                    path.insert(0, "super".into());
                }
                found.push((line, path));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file under `src` is: `["http", "ingest"]` for `http/ingest.rs`, `["store"]`
/// for `store/mod.rs`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    if last != "mod.rs" {
        parts.push(last.trim_end_matches(".rs").to_string());
    }
    parts
}

/// The origin's sources, read: the top-level graph and the `http` one.
struct Layering {
    top: Graph,
    http: Graph,
    /// `http` modules with a `pub fn routes()`: the ones with handlers.
    handlers: BTreeSet<String>,
}

fn layering() -> Layering {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: Vec<(Vec<String>, String, String)> = files
        .iter()
        .map(|f| f.strip_prefix(&src).unwrap())
        .filter(|f| *f != Path::new("main.rs"))
        .map(|f| (module_of(f), f.display().to_string(), std::fs::read_to_string(src.join(f)).unwrap()))
        .collect();
    let top_level: BTreeSet<String> =
        modules.iter().filter_map(|(m, ..)| m.first().cloned()).filter(|m| m != "lib").collect();
    let http_modules: BTreeSet<String> =
        modules.iter().filter(|(m, ..)| m.len() == 2 && m[0] == "http").map(|(m, ..)| m[1].clone()).collect();
    // What the crate root re-exports (`pub use state::AppState;`): `crate::AppState` is `state`.
    let (_, _, lib) = modules.iter().find(|(m, ..)| m == &["lib"]).expect("src/lib.rs");
    let mut reexports = BTreeMap::new();
    for line in code_only(lib).lines().filter_map(|l| l.trim().strip_prefix("pub use ")) {
        let mut paths = Vec::new();
        use_tree(line.trim_end_matches(';'), &[], &mut paths);
        for path in paths.iter().filter(|p| p.len() >= 2) {
            reexports.insert(path[path.len() - 1].clone(), path[0].clone());
        }
    }

    let mut layering = Layering { top: Graph::new(), http: Graph::new(), handlers: BTreeSet::new() };
    for (module, file, text) in modules.iter().filter(|(m, ..)| m != &["lib"]) {
        let code = code_only(text);
        let in_http = module.len() == 2 && module[0] == "http";
        if in_http && code.contains("pub fn routes()") {
            layering.handlers.insert(module[1].clone());
        }
        for (line, path) in paths_in(&code) {
            let reference = |path: Vec<String>| Reference { file: file.clone(), line, path };
            if path[0] == "super" {
                // Within `http`, `super::auth` is `http::auth`; other `super::` paths stay inside a module.
                if in_http && path.get(1).is_some_and(|m| http_modules.contains(m)) && path[1] != module[1] {
                    let to = path[1].clone();
                    let r = reference(vec!["http".into(), to.clone()]);
                    layering.http.entry(module[1].clone()).or_default().entry(to).or_default().push(r);
                }
                continue;
            }
            let target = if top_level.contains(&path[0]) {
                path[0].clone()
            } else {
                reexports
                    .get(&path[0])
                    .cloned()
                    .unwrap_or_else(|| panic!("{file}:{line}: crate::{} names no module", path[0]))
            };
            if target != module[0] {
                layering
                    .top
                    .entry(module[0].clone())
                    .or_default()
                    .entry(target.clone())
                    .or_default()
                    .push(reference(path.clone()));
            }
            if in_http && target == "http" && path.get(1).is_some_and(|m| http_modules.contains(m) && *m != module[1]) {
                let to = path[1].clone();
                layering.http.entry(module[1].clone()).or_default().entry(to).or_default().push(reference(path));
            }
        }
    }
    layering
}

/// A cycle of `graph`, as its modules in order (the first repeated at the end), if it has one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit<'a>(
        graph: &'a Graph,
        node: &'a str,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|&n| n == node) {
            let mut cycle: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for next in graph.get(node).into_iter().flat_map(|edges| edges.keys()) {
            if let Some(cycle) = visit(graph, next, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

/// The cycle with the references that make each of its edges.
fn explain(graph: &Graph, cycle: &[String]) -> String {
    let mut text = format!("import cycle: {}\n", cycle.join(" → "));
    for pair in cycle.windows(2) {
        let _ = writeln!(text, "  {} → {}:", pair[0], pair[1]);
        for r in &graph[&pair[0]][&pair[1]] {
            let _ = writeln!(text, "    {r}");
        }
    }
    text
}

/// Storage's imports from `http` and `process`, which it must not have.
fn storage_violations(top: &Graph) -> Vec<&Reference> {
    let edges = top.get("store").into_iter().flatten();
    edges.filter(|(to, _)| *to == "http" || *to == "process").flat_map(|(_, refs)| refs).collect()
}

#[test]
fn the_parser_reads_paths_not_comments_or_strings() {
    let code = code_only(
        "use crate::{http::{auth, extract::Path}, store};\n\
         // crate::worker\n/* crate::manage /* nested */ crate::ids */\n\
         let s = \"crate::counters\"; let r = r#\"crate::bootstrap\"#; let q = '\"'; let l: &'static str;\n\
         x = crate::error::ApiError::Internal; use super::links;\n",
    );
    let paths: Vec<String> = paths_in(&code).into_iter().map(|(line, p)| format!("{line}:{}", p.join("::"))).collect();
    assert_eq!(
        paths,
        ["1:http::auth", "1:http::extract::Path", "1:store", "5:error::ApiError::Internal", "5:super::links"]
    );
}

#[test]
fn the_graph_is_read() {
    let layering = layering();
    for (from, to) in [("app", "http"), ("http", "state"), ("state", "store"), ("worker", "process")] {
        assert!(layering.top.get(from).is_some_and(|e| e.contains_key(to)), "{from} → {to} not found");
    }
    assert!(layering.http.get("api").is_some_and(|e| e.contains_key("extract")), "http::api → http::extract not found");
    for module in ["api", "filters", "items", "quotas", "relay", "stats"] {
        assert!(layering.handlers.contains(module), "http::{module} has no routes()");
    }
}

/// With the edges [`storage_imports_nothing_from_http_or_process`] forbids left to that test
/// (so that a cycle it explains fails it alone): together the two prove the whole graph acyclic.
#[test]
fn top_level_modules_have_no_import_cycles() {
    let mut top = layering().top;
    if let Some(edges) = top.get_mut("store") {
        edges.retain(|to, _| to != "http" && to != "process");
    }
    if let Some(cycle) = find_cycle(&top) {
        panic!("{}", explain(&top, &cycle));
    }
}

#[test]
fn storage_imports_nothing_from_http_or_process() {
    let layering = layering();
    let violations = storage_violations(&layering.top);
    let mut text = String::new();
    for r in &violations {
        let _ = writeln!(text, "  {r}");
    }
    if let Some(cycle) = find_cycle(&layering.top) {
        text.push_str(&explain(&layering.top, &cycle));
    }
    assert!(violations.is_empty(), "storage imports from http or process:\n{text}");
}

#[test]
fn http_modules_have_no_import_cycles() {
    let http = layering().http;
    if let Some(cycle) = find_cycle(&http) {
        panic!("{}", explain(&http, &cycle));
    }
}

/// Extractors, links, signatures and serializers are used by handlers, never the reverse.
#[test]
fn http_helpers_import_no_handler_module() {
    let layering = layering();
    let mut wrong = Vec::new();
    for (from, edges) in layering.http.iter().filter(|(from, _)| !layering.handlers.contains(*from)) {
        for (to, refs) in edges.iter().filter(|(to, _)| layering.handlers.contains(*to)) {
            wrong.extend(refs.iter().map(|r| format!("  http::{from} → http::{to}: {r}")));
        }
    }
    assert!(wrong.is_empty(), "helpers import handler modules:\n{}", wrong.join("\n"));
}

/// The router is the top: it imports every layer, and none imports it.
#[test]
fn nothing_imports_the_router() {
    let top = layering().top;
    let wrong: Vec<String> =
        top.values().filter_map(|edges| edges.get("app")).flatten().map(|r| format!("  {r}")).collect();
    assert!(wrong.is_empty(), "modules import app:\n{}", wrong.join("\n"));
}
