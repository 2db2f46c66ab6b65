//! The layout's one rule (DESIGN.md, "Layout"): dependencies point one way,
//! each layer importing only itself and the layers above it. This test
//! reads every module under `src/` (the `wxpay` binary is a user of the
//! library, not a part) and fails when one names a module of a lower layer
//! through `crate::…`, `self::…` or `super::…`, in a `use` line or a path
//! in code. Comments and `#[cfg(test)]` code are not read.
//!
//! And no circle: no module may import, directly or through others, a
//! module that imports it back. A module's paths into its own descendants
//! (`client`'s `pub use self::transport::…`) are how Rust makes one module
//! of several files, not imports, and are left out of the graph; a child's
//! paths to its parent, and every other path, count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top first: a module belongs to the layer of the longest
/// entry that is the module or one of its ancestors (`mock` covers
/// `mock::server`). Written once, here; a new module fails the test until
/// it is placed.
///
/// Where this list differs from DESIGN.md's groups, the code is why:
/// - APIv2's protocol (`v2`'s preparation and settings, `v2::xml`,
///   `v2::sign`, `v2::rules`, `v2::verify`) sits with the request model,
///   because the engine prepares and verifies every request, APIv2 ones
///   included; what runs over the engine (`v2::download`, `v2::notify`)
///   is a feature like the others.
/// - `certs` is part of the engine: the builder downloads the certificates
///   (`build_with_certificates`) and starts their refresh.
/// - `hex`, `clock` and `encryptor` (crate helpers DESIGN.md does not list)
///   are pure core; `profile` builds a builder, a feature.
/// - The mock (DESIGN.md's pipeline "wire → flows → wire; pages over the
///   flows") is five layers, top first: the wire's services (`mock::wire`:
///   what every request and answer goes through, and the notifier every
///   flow sends with); the flows (`mock::flows`: one module per product,
///   over the store they share, `mock::flows::kept`), which use those
///   services; the wire's server (`mock::wire::server`), which holds the
///   state and dispatches a request to a flow's entry point; the pages and
///   controls (`mock::pages`), which use the flows and the server's state;
///   and `mock` itself, `MockServer`, which starts the server and hands it
///   the pages' entry point as a function (`server::Controls`). So the
///   pages may use the flows and the wire, the flows never the pages nor
///   the server, the server never a page. No exceptions.
const LAYERS: &[(&str, &[&str])] = &[
    ("error", &["error"]),
    (
        "pure core: no client, no network, no async",
        &[
            "crypto",
            "keys",
            "sign",
            "verify",
            "path",
            "hex",
            "text",
            "clock",
            "encryptor",
        ],
    ),
    (
        "request model",
        &[
            "options",
            "media",
            "request",
            "response",
            "retry",
            "v2",
            "v2::xml",
            "v2::sign",
            "v2::rules",
            "v2::verify",
        ],
    ),
    ("engine", &["client", "chain", "certs"]),
    (
        "features: impl Client blocks over the engine",
        &[
            "notify",
            "sensitive",
            "download",
            "v2::download",
            "v2::notify",
            "catalog",
            "profile",
            "invoke",
            "models",
        ],
    ),
    ("outside the library's core", &["blocking", "guide"]),
    (
        "the mock's wire services: answers and their signer, authentication, body rules, \
         catalog, faults, guard, notifier, request log, uploads",
        &["mock::wire"],
    ),
    (
        "the mock's flows: one module per product over the store they share",
        &["mock::flows"],
    ),
    (
        "the mock's server: holds the state, routes to the flows' entry points",
        &["mock::wire::server"],
    ),
    (
        "the mock's pages and controls: views and actions over the flows",
        &["mock::pages"],
    ),
    ("the mock's front door: MockServer", &["mock"]),
];

/// The layer index of `module` (`a::b`), by its longest listed ancestor.
fn layer_of(module: &str) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (index, (_, entries)) in LAYERS.iter().enumerate() {
        for entry in *entries {
            let covers = module == *entry || module.starts_with(&format!("{entry}::"));
            if covers && best.is_none_or(|(len, _)| entry.len() > len) {
                best = Some((entry.len(), index));
            }
        }
    }
    best.map(|(_, index)| index)
}

/// Every library module file under `src/` (not `bin/`, not the crate root),
/// by module path: `client/mod.rs` → `client`, `v2/xml.rs` → `v2::xml`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(src).unwrap().to_path_buf();
            if path.is_dir() {
                if relative != Path::new("bin") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || relative == Path::new("lib.rs") {
                continue;
            }
            let mut parts: Vec<String> = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            found.insert(parts.join("::"), path);
        }
    }
    found
}

/// The code of a file: comment lines and everything from the first
/// `#[cfg(test)]` on left out.
fn code(text: &str) -> String {
    let mut kept = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if !trimmed.starts_with("//") {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// Every path starting with `root::` in `code` (`crate`, `self` or
/// `super`), brace groups expanded: `crate::{a::B, c}` → `a::B`, `c`.
fn paths_after(code: &str, root: &str) -> Vec<String> {
    let pattern = format!("{root}::");
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = code[from..].find(&pattern) {
        let start = from + offset;
        from = start + pattern.len();
        // A whole word only: not `$crate::`, not `my_crate::`, not `super::super`'s tail.
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b':')
        {
            continue;
        }
        found.extend(expand(&code[from..], String::new()));
    }
    found
}

/// The paths `text` starts with: `a::b::C`, or a `{…}` group of them.
fn expand(text: &str, prefix: String) -> Vec<String> {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        let mut depth = 0usize;
        let mut items = Vec::new();
        let mut item_start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&group[item_start..i]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&group[item_start..i]);
                    item_start = i + 1;
                }
                _ => {}
            }
        }
        return items
            .into_iter()
            .filter(|item| !item.trim().is_empty())
            .flat_map(|item| expand(item, prefix.clone()))
            .collect();
    }
    let mut path = prefix;
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        if !path.is_empty() {
            path.push_str("::");
        }
        path.push_str(&rest[..end]);
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(after) if after.starts_with('{') => return expand(after, path),
            Some(after) => rest = after,
            None => break,
        }
    }
    vec![path]
}

/// The module a path names: its longest prefix that is a module, or for a
/// name the crate root re-exports (`crate::Error`), the module it comes
/// from. `None` for what is not the crate's (`crate::Method` is reqwest's).
fn target(
    path: &str,
    modules: &BTreeMap<String, PathBuf>,
    reexports: &BTreeMap<String, String>,
) -> Option<String> {
    let segments: Vec<&str> = path.split("::").collect();
    for len in (1..=segments.len()).rev() {
        let candidate = segments[..len].join("::");
        if modules.contains_key(&candidate) {
            return Some(candidate);
        }
    }
    reexports.get(segments[0]).cloned()
}

/// `pub use crate::a::b::{C, D};` in lib.rs: `C` and `D` come from `a::b`.
fn root_reexports(lib: &str, modules: &BTreeMap<String, PathBuf>) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for line in code(lib).lines() {
        let Some(rest) = line.trim().strip_prefix("pub use crate::") else {
            continue;
        };
        for path in expand(rest.trim_end_matches(';'), String::new()) {
            let mut segments: Vec<&str> = path.split("::").collect();
            let name = segments.pop().unwrap_or_default().to_owned();
            let module = segments.join("::");
            if modules.contains_key(&module) {
                names.insert(name, module);
            }
        }
    }
    names
}

/// The module `self::` and `super::` mean in `module`.
fn relative_roots(module: &str) -> [(&'static str, String); 2] {
    let parent = module.rsplit_once("::").map(|(p, _)| p).unwrap_or("");
    [("self", module.to_owned()), ("super", parent.to_owned())]
}

/// Every path of the crate that `module` (whose code is `code`) names, and
/// the module each one points to: `(path, module)`.
fn imports(
    module: &str,
    code: &str,
    modules: &BTreeMap<String, PathBuf>,
    reexports: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut named: Vec<String> = paths_after(code, "crate");
    for (root, base) in relative_roots(module) {
        for path in paths_after(code, root) {
            named.push(if base.is_empty() {
                path
            } else {
                format!("{base}::{path}")
            });
        }
    }
    named
        .into_iter()
        .filter_map(|path| target(&path, modules, reexports).map(|imported| (path, imported)))
        .collect()
}

/// Every import of `module` (whose code is `code`) that points down:
/// `(imported module, its layer's name)`.
fn violations(
    module: &str,
    code: &str,
    modules: &BTreeMap<String, PathBuf>,
    reexports: &BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    let own = layer_of(module).ok_or_else(|| {
        format!("module `{module}` has no layer: add it to LAYERS in tests/layers.rs")
    })?;
    let mut below = Vec::new();
    for (path, imported) in imports(module, code, modules, reexports) {
        let layer = layer_of(&imported)
            .ok_or_else(|| format!("module `{imported}` has no layer: add it to LAYERS"))?;
        if layer > own {
            below.push(format!(
                "`{module}` ({}) imports `{path}` of `{imported}` ({})",
                LAYERS[own].0, LAYERS[layer].0
            ));
        }
    }
    below.sort();
    below.dedup();
    Ok(below)
}

/// The circles of the import graph (`module` → the modules it imports):
/// each strongly connected set of two or more modules, sorted (Tarjan's
/// algorithm).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            let number = self.index.len();
            self.index.insert(node, number);
            self.low.insert(node, number);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut set = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    set.push(member.to_owned());
                    if member == node {
                        break;
                    }
                }
                if set.len() > 1 {
                    set.sort();
                    self.found.push(set);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.found.sort();
    walk.found
}

/// The crate's module files, and the names lib.rs re-exports.
fn the_crate() -> (BTreeMap<String, PathBuf>, BTreeMap<String, String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let reexports = root_reexports(&lib, &modules);
    (modules, reexports)
}

#[test]
fn every_module_imports_only_its_layer_and_those_above() {
    let (modules, reexports) = the_crate();
    assert!(
        reexports.get("Client").is_some_and(|m| m == "client"),
        "lib.rs's re-exports were not read: {reexports:?}"
    );
    let mut problems = Vec::new();
    for (module, path) in &modules {
        let text = std::fs::read_to_string(path).unwrap();
        match violations(module, &code(&text), &modules, &reexports) {
            Ok(found) => problems.extend(found),
            Err(unplaced) => problems.push(unplaced),
        }
    }
    assert!(
        problems.is_empty(),
        "imports against the layers:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_module_imports_in_a_circle() {
    let (modules, reexports) = the_crate();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in &modules {
        let text = std::fs::read_to_string(path).unwrap();
        let edges = graph.entry(module.clone()).or_default();
        for (_, imported) in imports(module, &code(&text), &modules, &reexports) {
            // A module's own descendants are its parts (see the file's doc).
            if imported != *module && !imported.starts_with(&format!("{module}::")) {
                edges.insert(imported);
            }
        }
    }
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "modules that import each other, directly or around a circle:\n{}",
        found
            .iter()
            .map(|set| set.join(", "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn error_rs_imports_nothing_of_the_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let text = std::fs::read_to_string(src.join("error.rs")).unwrap();
    let code = code(&text);
    let named: Vec<String> = ["crate", "self", "super"]
        .iter()
        .flat_map(|root| paths_after(&code, root))
        .collect();
    assert!(named.is_empty(), "error.rs names {named:?}");
}

/// The checker itself: it sees a downward import however it is written,
/// and lets the upward ones through.
#[test]
fn the_checker_finds_what_it_must() {
    let modules: BTreeMap<String, PathBuf> = [
        "error",
        "crypto",
        "client",
        "client::transport",
        "v2",
        "v2::xml",
        "v2::download",
        "mock",
        "mock::log",
        "mock::wire",
        "mock::wire::answer",
        "mock::wire::server",
        "mock::flows",
        "mock::flows::payments",
        "mock::pages",
        "mock::pages::console",
    ]
    .iter()
    .map(|m| (m.to_string(), PathBuf::new()))
    .collect();
    let reexports: BTreeMap<String, String> = [("Client".to_owned(), "client".to_owned())]
        .into_iter()
        .collect();
    let check = |module: &str, code: &str| violations(module, code, &modules, &reexports).unwrap();
    for (module, code) in [
        ("crypto", "use crate::client::Client;"),
        (
            "crypto",
            "use crate::{error::Error, client::{Inner, Client}};",
        ),
        ("crypto", "fn f() -> crate::Client { todo!() }"),
        ("v2::xml", "use super::download::download;"),
        ("v2", "pub(crate) use self::download::download;"),
        ("error", "impl From<crate::v2::xml::XmlError> for Error {}"),
        (
            "mock::flows::payments",
            "use crate::mock::pages::console::page;",
        ),
        (
            "mock::flows::payments",
            "use crate::mock::wire::server::Shared;",
        ),
        ("mock::wire::server", "use crate::mock::pages::console;"),
        (
            "mock::wire::answer",
            "use crate::mock::flows::payments::Call;",
        ),
        ("mock::pages::console", "use crate::mock::MockServer;"),
    ] {
        assert!(!check(module, code).is_empty(), "{module}: {code}");
    }
    for (module, code) in [
        (
            "client::transport",
            "use crate::error::Error;\nuse super::Inner;",
        ),
        ("mock::log", "use crate::v2::xml;\nuse super::log::Note;"),
        (
            "mock::pages::console",
            "use crate::mock::flows::payments::Payments;\nuse crate::mock::wire::server::Shared;",
        ),
        (
            "mock::wire::server",
            "use crate::mock::flows::payments::Payments;\nuse super::answer::Answer;",
        ),
        (
            "mock::flows::payments",
            "use crate::mock::wire::answer::Answer;",
        ),
        ("mock", "use self::pages::console;"),
        (
            "crypto",
            "// use crate::client::Client;\n/// [`Client`](crate::Client)",
        ),
        (
            "crypto",
            "macro_rules! m { () => { $crate::client::Client } }",
        ),
        (
            "crypto",
            "#[cfg(test)]\nmod tests { use crate::client::Client; }",
        ),
    ] {
        assert!(
            check(module, &self::code(code)).is_empty(),
            "{module}: {code}"
        );
    }
    assert!(violations("no_such_module", "", &modules, &reexports).is_err());
}

/// The circle finder: a circle of three and one of two are found, a module
/// imported from two sides is not a circle.
#[test]
fn the_circle_finder_finds_what_it_must() {
    let graph = |edges: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            graph.entry(to.to_string()).or_default();
        }
        graph
    };
    let found = circles(&graph(&[
        ("control", "console"),
        ("console", "cashier"),
        ("cashier", "server"),
        ("server", "control"),
        ("bridge", "control"),
        ("control", "bridge"),
        ("answer", "bills"),
        ("bills", "answer"),
        ("payments", "answer"),
    ]));
    assert_eq!(
        found,
        [
            vec!["answer", "bills"],
            vec!["bridge", "cashier", "console", "control", "server"],
        ]
    );
    let diamond = graph(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]);
    assert!(circles(&diamond).is_empty());
}
