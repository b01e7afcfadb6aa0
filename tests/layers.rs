//! The shape of the code, checked: each module of the server uses only the layers below it (the
//! order `docs/architecture.md` draws), and the bot's dependency tree holds nothing server-only.
//! Both read files only, so they run in CI with every other test.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Layer of each top-level module of `src/`. A module may use modules of a lower layer and
/// itself; never a peer of its own layer, never one above.
const LAYERS: &[(&str, u8)] = &[
    ("domain", 0),
    ("config", 0),
    ("shutdown", 0),
    ("trace", 0),
    ("store", 1),
    ("auth", 1),
    ("bus", 2),
    ("chat", 3),
    ("realtime", 4),
    ("http", 5),
    ("startup", 6),
];

/// Crates that must never reach the bot: they are what the server carries and the bot does not
/// need (HTTP serving, SQL, password hashing, the embedded web client).
const SERVER_ONLY: &[&str] = &[
    "warp",
    "sqlx",
    "argon2",
    "rust-embed",
    "jsonwebtoken",
    "tickertalk",
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// Every `crate::<module>` a file's code names (comments skipped: a doc may point anywhere).
fn uses(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `tickertalk_wire::...` and other crates' paths end in "crate::" only by accident.
            let before = &rest[..at];
            if !name.is_empty() && !before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

/// The violations of one file of `module`: "module -> used (layer a -> b)".
fn violations(module: &str, source: &str) -> Vec<String> {
    let Some(own) = layer(module) else {
        return vec![format!(
            "{module}: not in the layer table (add it, and to docs/architecture.md)"
        )];
    };
    uses(source)
        .into_iter()
        .filter(|used| used != module)
        .filter_map(|used| match layer(&used) {
            Some(l) if l < own => None,
            Some(l) => Some(format!("{module} (layer {own}) uses {used} (layer {l})")),
            None => Some(format!("{module} uses {used}, which is not in the layer table")),
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .to_string();
        let module = first.trim_end_matches(".rs");
        // The crate root and the binary sit above every layer: they only declare and call.
        if matches!(module, "lib" | "main") {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        for v in violations(module, &source) {
            problems.push(format!("{}: {v}", rel.display()));
        }
    }
    assert!(
        files.len() > 20,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    assert!(problems.is_empty(), "layer violations:\n{}", problems.join("\n"));
}

/// SQL lives in `store` (layer 1) and nowhere else: the real-time side reads what it needs
/// through `store` functions (gap fills), the HTTP side through the use cases.
#[test]
fn sql_is_written_only_in_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for dir in ["realtime", "http", "bus", "chat"] {
        let mut files = Vec::new();
        rust_files(&src.join(dir), &mut files);
        assert!(!files.is_empty(), "no files under src/{dir}");
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for (n, line) in source.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if ["sqlx::query", "query_as(", "query_scalar("]
                    .iter()
                    .any(|q| code.contains(q))
                {
                    problems.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "SQL outside store:\n{}", problems.join("\n"));
}

#[test]
fn the_check_catches_an_upward_use_and_a_peer_use_but_not_comments() {
    assert_eq!(
        violations("store", "use crate::http::error::ApiError;"),
        vec!["store (layer 1) uses http (layer 5)"]
    );
    assert_eq!(
        violations("auth", "fn f() -> crate::store::StoreResult<()> { todo!() }"),
        vec!["auth (layer 1) uses store (layer 1)"]
    );
    assert_eq!(
        violations(
            "store",
            r#"#[serde(serialize_with = "crate::realtime::protocol::micros")]"#
        ),
        vec!["store (layer 1) uses realtime (layer 4)"]
    );
    assert!(
        violations(
            "store",
            "// see crate::http for the mapping\nuse crate::domain::Email;"
        )
        .is_empty()
    );
    assert!(violations("http", "use tickertalk_wire::Event; use crate::chat::Chat;").is_empty());
    assert!(
        !violations("newthing", "").is_empty(),
        "an unlisted module must be placed"
    );
}

/// `Cargo.lock` as name -> the names it depends on (all kinds: normal, build and dev).
fn lock_graph() -> HashMap<String, Vec<String>> {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap();
    let mut graph: HashMap<String, Vec<String>> = HashMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let name = package
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .unwrap()
            .trim_matches('"')
            .to_string();
        let deps = match package.split_once("dependencies = [") {
            Some((_, list)) => list
                .split(']')
                .next()
                .unwrap()
                .split(',')
                .map(|d| d.trim().trim_matches('"'))
                .filter(|d| !d.is_empty())
                .map(|d| d.split(' ').next().unwrap().to_string())
                .collect(),
            None => Vec::new(),
        };
        graph.entry(name).or_default().extend(deps);
    }
    graph
}

#[test]
fn the_bot_depends_on_no_server_only_crate() {
    let graph = lock_graph();
    let mut seen = BTreeSet::new();
    let mut todo = vec!["tickertalk-bot".to_string()];
    while let Some(name) = todo.pop() {
        for dep in graph.get(&name).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    assert!(
        seen.contains("tickertalk-wire") && seen.contains("lapin"),
        "{seen:?}"
    );
    let leaked: Vec<&&str> = SERVER_ONLY.iter().filter(|c| seen.contains(**c)).collect();
    assert!(
        leaked.is_empty(),
        "the bot reaches server-only crates: {leaked:?}"
    );
}
