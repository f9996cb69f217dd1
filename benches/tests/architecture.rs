//! The module graph of each library crate has no circles: reading `crate::`, `super::` and
//! `self::` paths in the sources (tests and comments left out), no module reaches itself
//! through others. A child naming its own ancestor (`super::Thing` defined in the parent's
//! `mod.rs`) is the module tree itself, not an import, and is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every module of the crate rooted at `src`, with its file.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(src)
                    .expect("under src")
                    .with_extension("");
                let mut m: Module = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(m.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    m.pop();
                }
                out.insert(m, path);
            }
        }
    }
    out
}

/// The source without its unit tests and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("source");
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths starting with `crate`, `super` or `self` in `code`, a `{a, b::c}` group expanded.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !is_ident(chars[i - 1]);
        let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
        if boundary
            && ["crate::", "super::", "self::"]
                .iter()
                .any(|p| rest.starts_with(p))
        {
            let mut j = i;
            let mut segs = Vec::new();
            loop {
                let start = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                segs.push(chars[start..j].iter().collect::<String>());
                if chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
                    j += 2;
                    if chars.get(j) == Some(&'{') {
                        let end = chars[j..]
                            .iter()
                            .position(|&c| c == '}')
                            .map_or(j, |e| j + e);
                        let group: String = chars[j + 1..end].iter().collect();
                        for item in group.split(',') {
                            let item = item.split_whitespace().next().unwrap_or_default();
                            let mut p = segs.clone();
                            p.extend(item.split("::").map(String::from));
                            out.push(p);
                        }
                        j = end;
                        break;
                    }
                } else {
                    out.push(segs);
                    break;
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The module `path`, seen from `from`, names: the longest existing module prefix.
fn resolve(mods: &BTreeMap<Module, PathBuf>, from: &Module, path: &[String]) -> Option<Module> {
    let mut base = match path.first()?.as_str() {
        "crate" => Vec::new(),
        _ => from.clone(),
    };
    let mut rest = &path[1..];
    if path[0] == "super" {
        base.pop();
    }
    while let Some(s) = rest.first() {
        match s.as_str() {
            "super" => drop(base.pop()),
            "self" => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    let mut best = None;
    for n in 0..=rest.len() {
        let mut cand = base.clone();
        cand.extend(rest[..n].iter().cloned());
        if mods.contains_key(&cand) {
            best = Some(cand);
        }
    }
    best
}

/// Module → the modules it imports (its own ancestors left out).
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mods = modules(src);
    let mut g = BTreeMap::new();
    for (m, file) in &mods {
        let targets = paths(&code(file))
            .iter()
            .filter_map(|p| resolve(&mods, m, p))
            .filter(|t| t != m && !m.starts_with(t))
            .collect();
        g.insert(m.clone(), targets);
    }
    g
}

/// The strongly connected components with more than one module (Tarjan).
fn circles(g: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    struct State<'a> {
        g: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        for w in &s.g[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                s.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if s.stack.contains(&w) {
                let iw = s.index[w];
                s.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                comp.push(w.join("::"));
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

#[test]
fn no_library_crate_has_an_import_circle() {
    for name in ["hypergrad", "datasets", "benches"] {
        let g = graph(&crate_src(name));
        assert!(g.len() > 5, "{name}: only {} modules found", g.len());
        let found = circles(&g);
        assert!(found.is_empty(), "{name} has import circles: {found:?}");
    }
}

/// Negative control: a circle written into a copy of a crate is found.
#[test]
fn a_planted_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("ufom-arch-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("b")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").expect("write");
    std::fs::write(
        src.join("a.rs"),
        "use crate::b::{c::Thing, Other};\n// crate::ignored\n",
    )
    .expect("write");
    std::fs::write(src.join("b/mod.rs"), "pub mod c;\npub struct Other;\n").expect("write");
    std::fs::write(
        src.join("b/c.rs"),
        "pub struct Thing(super::super::a::X);\n",
    )
    .expect("write");
    let found = circles(&graph(&src));
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(found, [vec!["a".to_string(), "b::c".to_string()]]);
}
