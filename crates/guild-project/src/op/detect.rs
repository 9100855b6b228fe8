//! Flag detection for Python scripts without running them: the script is
//! parsed (not executed) and argparse `add_argument` calls, click options and
//! module-level globals become flag definitions, as Guild 0.9 imports them.
//! Results are cached under `<home>/cache/flags/` keyed by the script digest.

use crate::op::flags::{FlagDef, FlagType};
use guild_format::error::Result;
use md5::{Digest, Md5};
use rustpython_ast::{self as ast, Constant, Expr, Stmt, Visitor};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;
use std::path::Path;

/// Bump when detection changes so stale cache entries are ignored.
const DETECT_VERSION: &str = "5";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum FlagsDest {
    Args,
    Click,
    Globals,
}

impl FlagsDest {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            FlagsDest::Args => "args",
            FlagsDest::Click => "args:click",
            FlagsDest::Globals => "globals",
        }
    }
}

/// The flags found in a Python script and how it takes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detected {
    pub(crate) dest: FlagsDest,
    /// The flags of the script's main parser or command.
    pub flags: Vec<FlagDef>,
    /// The flags of each sub-command (argparse subparsers, click groups'
    /// commands), by command path (`["b", "b-sub"]`).
    #[serde(default)]
    pub(crate) sub: Vec<(Vec<String>, Vec<FlagDef>)>,
    /// The flags of module-level dicts and `SimpleNamespace`s, by global
    /// name (for `flags-dest: global:NAME`, `dict:NAME`, `namespace:NAME`):
    /// nested keys as dotted names.
    #[serde(default)]
    pub(crate) dicts: Vec<(String, Vec<FlagDef>)>,
}

impl Detected {
    /// The flags for a script run with `base_args`: those of the deepest
    /// sub-command the arguments name, as Guild imports them, else the
    /// main parser's.
    pub(crate) fn flags_for(&self, base_args: &[String]) -> Vec<FlagDef> {
        let words: Vec<&String> = base_args.iter().filter(|a| !a.starts_with('-')).collect();
        self.sub
            .iter()
            .filter(|(path, _)| {
                path.len() <= words.len() && path.iter().zip(&words).all(|(a, b)| a == *b)
            })
            .max_by_key(|(path, _)| path.len())
            .map(|(_, flags)| flags.clone())
            .unwrap_or_else(|| self.flags.clone())
    }
}

/// Detect flags of `script`, using the cache in `cache_dir` when the script
/// content is unchanged.
pub(crate) fn detect_cached(cache_dir: &Path, script: &Path) -> Result<Detected> {
    use guild_format::error::IoContext;
    let source = std::fs::read(script).ctx("reading script", script)?;
    let mut h = Md5::new();
    h.update(DETECT_VERSION.as_bytes());
    h.update(&source);
    let key = format!("{:x}", h.finalize());
    let cache_path = cache_dir.join(format!("{key}.json"));
    if std::env::var("NO_IMPORT_FLAGS_CACHE").as_deref() != Ok("1") {
        if let Ok(data) = std::fs::read(&cache_path) {
            if let Ok(d) = serde_json::from_slice::<Detected>(&data) {
                return Ok(d);
            }
        }
    }
    let text = String::from_utf8_lossy(&source);
    let detected = detect(&text, &script.display().to_string());
    // The cache is optional: failing to write it must not fail the run.
    if std::fs::create_dir_all(cache_dir).is_ok() {
        if let Ok(json) = serde_json::to_vec(&detected) {
            let _ = guild_format::fsutil::write_atomic(&cache_path, &json);
        }
    }
    Ok(detected)
}

/// The top-level names of the modules `source` imports absolutely
/// (`import a.b` and `from a.b import c` give `a`), anywhere in it.
pub(crate) fn imports(source: &str) -> Vec<String> {
    #[derive(Default)]
    struct Names(Vec<String>);
    impl Visitor for Names {
        fn visit_stmt_import(&mut self, node: ast::StmtImport) {
            for a in &node.names {
                self.0
                    .extend(a.name.as_str().split('.').next().map(String::from));
            }
        }
        fn visit_stmt_import_from(&mut self, node: ast::StmtImportFrom) {
            let relative = node.level.is_some_and(|l| l.to_u32() > 0);
            if let (Some(m), false) = (&node.module, relative) {
                self.0
                    .extend(m.as_str().split('.').next().map(String::from));
            }
        }
    }
    let Ok(suite) = <ast::Suite as rustpython_parser::Parse>::parse(source, "<source>") else {
        return Vec::new();
    };
    let mut names = Names::default();
    for s in suite {
        names.visit_stmt(s);
    }
    names.0
}

/// Detect from source text. A script that does not parse gets no flags
/// (it will fail with its own SyntaxError when run).
pub fn detect(source: &str, path: &str) -> Detected {
    let Ok(suite) = <ast::Suite as rustpython_parser::Parse>::parse(source, path) else {
        return Detected {
            dest: FlagsDest::Globals,
            flags: Vec::new(),
            sub: Vec::new(),
            dicts: Vec::new(),
        };
    };
    let dicts = global_dicts(&suite);
    let mut imports = Imports::default();
    for s in suite.iter().cloned() {
        imports.visit_stmt(s);
    }
    if imports.argparse || imports.click {
        let mut v = CallFinder {
            click: !imports.argparse,
            ..CallFinder::default()
        };
        for s in suite.into_iter() {
            v.visit_stmt(s);
        }
        let mut flags = Vec::new();
        let mut sub: Vec<(Vec<String>, Vec<FlagDef>)> = Vec::new();
        for (scope, f) in v.flags {
            if scope.is_empty() {
                flags.push(f);
            } else {
                match sub.iter_mut().find(|(p, _)| *p == scope) {
                    Some((_, fl)) => fl.push(f),
                    None => sub.push((scope, vec![f])),
                }
            }
        }
        dedup(&mut flags);
        for (_, fl) in sub.iter_mut() {
            dedup(fl);
        }
        let dest = if imports.argparse {
            FlagsDest::Args
        } else {
            FlagsDest::Click
        };
        Detected {
            dest,
            flags,
            sub,
            dicts,
        }
    } else {
        Detected {
            dest: FlagsDest::Globals,
            flags: globals(&suite),
            sub: Vec::new(),
            dicts,
        }
    }
}

fn dedup(flags: &mut Vec<FlagDef>) {
    let mut seen = std::collections::HashSet::new();
    flags.retain(|f| seen.insert(f.name.clone()));
    flags.sort_by(|a, b| a.name.cmp(&b.name));
}

#[derive(Default)]
struct Imports {
    argparse: bool,
    click: bool,
}

impl Visitor for Imports {
    fn visit_stmt_import(&mut self, node: ast::StmtImport) {
        for a in &node.names {
            self.note(a.name.as_str());
        }
    }
    fn visit_stmt_import_from(&mut self, node: ast::StmtImportFrom) {
        if let Some(m) = &node.module {
            self.note(m.as_str());
        }
    }
}

impl Imports {
    fn note(&mut self, module: &str) {
        match module.split('.').next() {
            Some("argparse") => self.argparse = true,
            Some("click") => self.click = true,
            _ => {}
        }
    }
}

/// Finds argparse arguments and click options, each with the command
/// path it belongs to (parsers and subparsers, groups and commands are
/// followed through the names they are bound to).
#[derive(Default)]
struct CallFinder {
    click: bool,
    flags: Vec<(Vec<String>, FlagDef)>,
    /// argparse: parser variable -> its command path.
    parsers: std::collections::HashMap<String, Vec<String>>,
    /// argparse: `add_subparsers()` variable -> its parser's path.
    subparsers: std::collections::HashMap<String, Vec<String>>,
    /// click: group function name -> its command path.
    groups: std::collections::HashMap<String, Vec<String>>,
    /// click: the command whose decorators are being visited.
    scope: Vec<String>,
}

fn call_on_name(e: &Expr) -> Option<(&ast::ExprCall, String, String)> {
    let Expr::Call(c) = e else { return None };
    let Expr::Attribute(a) = c.func.as_ref() else {
        return None;
    };
    let Expr::Name(n) = a.value.as_ref() else {
        return None;
    };
    Some((c, n.id.as_str().to_string(), a.attr.as_str().to_string()))
}

fn first_str(call: &ast::ExprCall) -> Option<String> {
    call.args
        .first()
        .or_else(|| kw(call, "name"))
        .and_then(literal)
        .and_then(|v| v.as_str().map(String::from))
}

impl Visitor for CallFinder {
    fn visit_stmt_assign(&mut self, node: ast::StmtAssign) {
        if let ([Expr::Name(t)], Some((call, base, attr))) =
            (node.targets.as_slice(), call_on_name(&node.value))
        {
            let target = t.id.as_str().to_string();
            match attr.as_str() {
                "ArgumentParser" => {
                    self.parsers.insert(target, Vec::new());
                }
                "add_subparsers" => {
                    let path = self.parsers.get(&base).cloned().unwrap_or_default();
                    self.subparsers.insert(target, path);
                }
                "add_parser" => {
                    if let (Some(path), Some(name)) =
                        (self.subparsers.get(&base).cloned(), first_str(call))
                    {
                        let mut path = path;
                        path.push(name);
                        self.parsers.insert(target, path);
                    }
                }
                _ => {}
            }
        }
        self.generic_visit_stmt_assign(node);
    }

    fn visit_stmt_function_def(&mut self, node: ast::StmtFunctionDef) {
        if !self.click {
            self.generic_visit_stmt_function_def(node);
            return;
        }
        // `@click.command()`/`@click.group()`: the main command;
        // `@GROUP.command()`/`@GROUP.group()`: a sub-command of GROUP.
        let fname = node.name.as_str().to_string();
        let mut path: Option<Vec<String>> = None;
        for d in &node.decorator_list {
            let Some((call, base, attr)) = call_on_name(d) else {
                continue;
            };
            if attr != "command" && attr != "group" {
                continue;
            }
            let p = if base == "click" {
                Vec::new()
            } else {
                let mut p = self.groups.get(&base).cloned().unwrap_or_default();
                p.push(first_str(call).unwrap_or_else(|| fname.replace('_', "-")));
                p
            };
            if attr == "group" {
                self.groups.insert(fname.clone(), p.clone());
            }
            path = Some(p);
        }
        let saved = std::mem::replace(&mut self.scope, path.unwrap_or_default());
        self.generic_visit_stmt_function_def(node);
        self.scope = saved;
    }

    fn visit_expr_call(&mut self, node: ast::ExprCall) {
        let (fname, base) = match node.func.as_ref() {
            Expr::Attribute(a) => (
                Some(a.attr.as_str().to_string()),
                match a.value.as_ref() {
                    Expr::Name(n) => Some(n.id.as_str().to_string()),
                    _ => None,
                },
            ),
            Expr::Name(n) => (Some(n.id.as_str().to_string()), None),
            _ => (None, None),
        };
        match fname.as_deref() {
            Some("add_argument") if !self.click => {
                if let Some(f) = argparse_flag(&node) {
                    let scope = base
                        .and_then(|b| self.parsers.get(&b).cloned())
                        .unwrap_or_default();
                    self.flags.push((scope, f));
                }
            }
            Some("option") if self.click => {
                if let Some(f) = click_flag(&node) {
                    self.flags.push((self.scope.clone(), f));
                }
            }
            _ => {}
        }
        self.generic_visit_expr_call(node);
    }
}

fn long_opt(call: &ast::ExprCall) -> Option<String> {
    call.args.iter().find_map(|a| match a {
        Expr::Constant(c) => match &c.value {
            Constant::Str(s) if s.starts_with("--") && s.len() > 2 => {
                Some(s[2..].split('/').next().unwrap_or("").to_string())
            }
            _ => None,
        },
        _ => None,
    })
}

fn kw<'a>(call: &'a ast::ExprCall, name: &str) -> Option<&'a Expr> {
    call.keywords
        .iter()
        .find(|k| k.arg.as_ref().map(|a| a.as_str()) == Some(name))
        .map(|k| &k.value)
}

/// A literal expression as a value (numbers, strings, bools, None, lists,
/// tuples, negative numbers); `None` for anything computed.
fn literal(e: &Expr) -> Option<Value> {
    match e {
        Expr::Constant(c) => constant(&c.value),
        Expr::UnaryOp(u) if matches!(u.op, ast::UnaryOp::USub) => match literal(&u.operand)? {
            Value::Number(n) => Some(match n.as_i64() {
                Some(i) => Value::from(-i),
                None => Value::from(-n.as_f64().unwrap_or(0.0)),
            }),
            _ => None,
        },
        Expr::List(l) => l
            .elts
            .iter()
            .map(literal)
            .collect::<Option<Vec<_>>>()
            .map(Value::Sequence),
        Expr::Tuple(t) => t
            .elts
            .iter()
            .map(literal)
            .collect::<Option<Vec<_>>>()
            .map(Value::Sequence),
        _ => None,
    }
}

fn constant(c: &Constant) -> Option<Value> {
    Some(match c {
        Constant::None => Value::Null,
        Constant::Bool(b) => Value::Bool(*b),
        Constant::Str(s) => Value::String(s.clone()),
        Constant::Int(i) => Value::from(i.to_string().parse::<i64>().ok()?),
        Constant::Float(f) => Value::from(*f),
        _ => return None,
    })
}

fn type_of(e: &Expr) -> Option<FlagType> {
    let name = match e {
        Expr::Name(n) => n.id.as_str().to_string(),
        Expr::Attribute(a) => a.attr.as_str().to_string(),
        _ => return None,
    };
    match name.as_str() {
        "str" | "STRING" => Some(FlagType::String),
        "int" | "INT" => Some(FlagType::Int),
        "float" | "FLOAT" => Some(FlagType::Float),
        "bool" | "BOOL" => Some(FlagType::Boolean),
        _ => None,
    }
}

fn bool_choices() -> Vec<Value> {
    vec![Value::Bool(true), Value::Bool(false)]
}

fn split_default(v: Value) -> Value {
    match v {
        Value::Sequence(items) => Value::String(
            items
                .iter()
                .map(|i| guild_format::run::opref::quote(&crate::op::flags::encode_arg(i)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        other => other,
    }
}

fn argparse_flag(call: &ast::ExprCall) -> Option<FlagDef> {
    let name = long_opt(call)?;
    let mut f = FlagDef::new(&name);
    f.description = kw(call, "help")
        .and_then(literal)
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    f.default = kw(call, "default")
        .and_then(literal)
        .filter(|v| !v.is_null());
    f.ftype = kw(call, "type").and_then(type_of);
    if let Some(Value::Sequence(c)) = kw(call, "choices").and_then(literal) {
        f.choices = c;
    }
    f.required = matches!(
        kw(call, "required").and_then(literal),
        Some(Value::Bool(true))
    );
    match kw(call, "action") {
        Some(Expr::Constant(c)) => match &c.value {
            Constant::Str(a) if a == "store_true" => {
                f.arg_switch = Some(Value::Bool(true));
                f.choices = bool_choices();
                f.default = Some(f.default.take().unwrap_or(Value::Bool(false)));
            }
            Constant::Str(a) if a == "store_false" => {
                f.arg_switch = Some(Value::Bool(false));
                f.choices = bool_choices();
                f.default = Some(f.default.take().unwrap_or(Value::Bool(true)));
            }
            Constant::Str(a) if a != "store" => return None,
            _ => {}
        },
        Some(Expr::Attribute(a)) if a.attr.as_str() == "BooleanOptionalAction" => {
            f.choices = bool_choices();
            if f.default == Some(Value::Bool(true)) {
                f.arg_name = Some(format!("no-{name}"));
                f.arg_switch = Some(Value::Bool(false));
            } else {
                f.arg_switch = Some(Value::Bool(true));
            }
        }
        Some(_) => return None,
        None => {}
    }
    let multi = match kw(call, "nargs").and_then(literal) {
        Some(Value::String(s)) => s == "+" || s == "*",
        Some(Value::Number(n)) => n.as_i64().unwrap_or(1) > 1,
        _ => false,
    };
    if multi {
        f.arg_split = true;
        f.default = f.default.map(split_default);
    }
    Some(f)
}

fn click_flag(call: &ast::ExprCall) -> Option<FlagDef> {
    let name = long_opt(call)?;
    let mut f = FlagDef::new(&name);
    f.description = kw(call, "help")
        .and_then(literal)
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    f.default = kw(call, "default")
        .and_then(literal)
        .filter(|v| !v.is_null());
    f.required = matches!(
        kw(call, "required").and_then(literal),
        Some(Value::Bool(true))
    );
    match kw(call, "type") {
        Some(Expr::Call(c)) if matches!(c.func.as_ref(), Expr::Attribute(a) if a.attr.as_str() == "Choice") => {
            if let Some(Value::Sequence(ch)) = c.args.first().and_then(literal) {
                f.choices = ch;
            }
        }
        Some(t) => f.ftype = type_of(t),
        None => {
            if let Some(Value::Number(n)) = &f.default {
                f.ftype = Some(if n.is_f64() {
                    FlagType::Float
                } else {
                    FlagType::Int
                });
            }
        }
    }
    if matches!(
        kw(call, "is_flag").and_then(literal),
        Some(Value::Bool(true))
    ) {
        let default = matches!(f.default, Some(Value::Bool(true)));
        f.arg_switch = Some(Value::Bool(!default));
        f.default = Some(Value::Bool(default));
        f.ftype = Some(FlagType::Boolean);
    }
    Some(f)
}

/// A flag for a global's literal value, as Guild types it.
fn value_flag(name: &str, v: Value) -> FlagDef {
    let mut f = FlagDef::new(name);
    match &v {
        Value::Bool(_) => f.ftype = Some(FlagType::Boolean),
        Value::Number(_) => f.ftype = Some(FlagType::Number),
        Value::String(_) => f.ftype = Some(FlagType::String),
        Value::Sequence(_) => f.arg_split = true,
        _ => {}
    }
    f.default = if f.arg_split {
        Some(split_default(v))
    } else {
        Some(v).filter(|v| !v.is_null())
    };
    f
}

/// Module-level `NAME = {...}` and `NAME = SimpleNamespace(...)` as
/// flags: nested dicts/namespaces give dotted names; keys starting with
/// `_` and non-literal values are left out.
fn global_dicts(suite: &[Stmt]) -> Vec<(String, Vec<FlagDef>)> {
    fn entries(e: &Expr) -> Option<Vec<(String, &Expr)>> {
        match e {
            Expr::Dict(d) => Some(
                d.keys
                    .iter()
                    .zip(&d.values)
                    .filter_map(|(k, v)| {
                        let k = literal(k.as_ref()?)?;
                        let k = match k {
                            Value::String(s) => s,
                            other => guild_format::run::yaml::encode_display(&other),
                        };
                        Some((k, v))
                    })
                    .collect(),
            ),
            Expr::Call(c) => {
                let name = match c.func.as_ref() {
                    Expr::Name(n) => n.id.as_str(),
                    Expr::Attribute(a) => a.attr.as_str(),
                    _ => return None,
                };
                (name == "SimpleNamespace").then(|| {
                    c.keywords
                        .iter()
                        .filter_map(|k| Some((k.arg.as_ref()?.as_str().to_string(), &k.value)))
                        .collect()
                })
            }
            _ => None,
        }
    }
    fn flatten(prefix: &str, e: &Expr, out: &mut Vec<FlagDef>) {
        let Some(items) = entries(e) else { return };
        for (k, v) in items {
            let name = if prefix.is_empty() {
                k
            } else {
                format!("{prefix}.{k}")
            };
            if entries(v).is_some() {
                flatten(&name, v, out);
            } else if let Some(val) = literal(v) {
                if !name.starts_with('_') {
                    out.push(value_flag(&name, val));
                }
            }
        }
    }
    let mut out: Vec<(String, Vec<FlagDef>)> = Vec::new();
    for s in suite {
        let Stmt::Assign(a) = s else { continue };
        let [Expr::Name(n)] = a.targets.as_slice() else {
            continue;
        };
        if entries(&a.value).is_none() {
            continue;
        }
        let mut flags = Vec::new();
        flatten("", &a.value, &mut flags);
        flags.sort_by(|x, y| x.name.cmp(&y.name));
        let name = n.id.as_str().to_string();
        out.retain(|(k, _)| *k != name);
        out.push((name, flags));
    }
    out
}

fn globals(suite: &[Stmt]) -> Vec<FlagDef> {
    let mut flags: Vec<FlagDef> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in suite {
        let Stmt::Assign(a) = s else { continue };
        if a.targets.len() != 1 {
            continue;
        }
        let Expr::Name(n) = &a.targets[0] else {
            continue;
        };
        let name = n.id.as_str().to_string();
        if name.starts_with('_') || !seen.insert(name.clone()) {
            continue;
        }
        let Some(v) = literal(&a.value) else { continue };
        flags.push(value_flag(&name, v));
    }
    flags.sort_by(|a, b| a.name.cmp(&b.name));
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(d: &'a Detected, n: &str) -> &'a FlagDef {
        d.flags
            .iter()
            .find(|f| f.name == n)
            .unwrap_or_else(|| panic!("no flag {n}"))
    }

    #[test]
    fn argparse_flags_as_guild_imports_them() {
        let src = r#"
import argparse
p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--name", default="foo")
p.add_argument("--lr", type=float, default=0.1, help="Learning rate")
p.add_argument("--opt", choices=["adam","sgd"], default="adam")
p.add_argument("--debug", action="store_true")
p.add_argument("--no-cuda", action="store_false", dest="cuda")
p.add_argument("--layers", type=int, nargs="+", default=[1, 2])
p.add_argument("--req", required=True)
p.add_argument("--bo", action=argparse.BooleanOptionalAction, default=True)
p.add_argument("-s", "--seed", type=int)
p.add_argument("pos")
args = p.parse_args()
"#;
        let d = detect(src, "ap.py");
        assert_eq!(d.dest, FlagsDest::Args);
        let names: Vec<&str> = d.flags.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["bo", "debug", "epochs", "layers", "lr", "name", "no-cuda", "opt", "req", "seed"]
        );
        let lr = get(&d, "lr");
        assert_eq!(lr.ftype, Some(FlagType::Float));
        assert_eq!(lr.default, Some(Value::from(0.1)));
        assert_eq!(lr.description, "Learning rate");
        assert_eq!(get(&d, "debug").arg_switch, Some(Value::Bool(true)));
        assert_eq!(get(&d, "debug").default, Some(Value::Bool(false)));
        assert_eq!(get(&d, "no-cuda").arg_switch, Some(Value::Bool(false)));
        assert_eq!(get(&d, "bo").arg_name.as_deref(), Some("no-bo"));
        assert_eq!(get(&d, "layers").default, Some(Value::from("1 2")));
        assert!(get(&d, "layers").arg_split);
        assert!(get(&d, "req").required);
        assert_eq!(
            get(&d, "opt").choices,
            vec![Value::from("adam"), Value::from("sgd")]
        );
    }

    #[test]
    fn click_options() {
        let src = r#"
import click
@click.command()
@click.option("--lr", default=0.1, help="rate")
@click.option("--opt", type=click.Choice(["a", "b"]), default="a")
@click.option("--debug", is_flag=True)
def main(lr, opt, debug):
    pass
"#;
        let d = detect(src, "c.py");
        assert_eq!(d.dest, FlagsDest::Click);
        assert_eq!(get(&d, "lr").ftype, Some(FlagType::Float));
        assert_eq!(get(&d, "opt").choices.len(), 2);
        assert_eq!(get(&d, "debug").arg_switch, Some(Value::Bool(true)));
    }

    #[test]
    fn module_globals() {
        let src = "lr = 0.1\nepochs = 3\nname = \"foo\"\ndebug = False\nlayers = [1, 2, \"a b\"]\ncfg = {\"a\": 1}\n_private = 1\nnone_val = None\nneg = -2\nlr = 0.5\ndef f():\n    inner = 1\n";
        let d = detect(src, "g.py");
        assert_eq!(d.dest, FlagsDest::Globals);
        let names: Vec<&str> = d.flags.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["debug", "epochs", "layers", "lr", "name", "neg", "none_val"]
        );
        assert_eq!(get(&d, "lr").default, Some(Value::from(0.1)));
        assert_eq!(get(&d, "layers").default, Some(Value::from("1 2 'a b'")));
        assert_eq!(get(&d, "neg").default, Some(Value::from(-2)));
        assert_eq!(get(&d, "none_val").default, None);
    }

    #[test]
    fn never_executes_the_script() {
        let d = tempfile::tempdir().unwrap();
        let marker = d.path().join("executed");
        let script = d.path().join("s.py");
        std::fs::write(
            &script,
            format!(
                "open({:?}, 'w').write('x')\nlr = 1\n",
                marker.display().to_string()
            ),
        )
        .unwrap();
        let det = detect_cached(&d.path().join("cache"), &script).unwrap();
        assert_eq!(det.flags.len(), 1);
        assert!(!marker.exists());
        // Second call is served from the cache.
        assert_eq!(
            detect_cached(&d.path().join("cache"), &script).unwrap(),
            det
        );
        assert_eq!(
            std::fs::read_dir(d.path().join("cache")).unwrap().count(),
            1
        );
    }

    #[test]
    fn sub_command_flags_are_scoped_to_their_command() {
        let names = |d: &Detected, args: &[&str]| -> Vec<String> {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            d.flags_for(&args).into_iter().map(|f| f.name).collect()
        };
        let d = detect(
            r#"
import argparse
p = argparse.ArgumentParser()
p.add_argument("--base-foo", default=1, type=int)
subp = p.add_subparsers()
p_a = subp.add_parser("a")
p_a.add_argument("--a-foo", default=2, type=int)
p_b = subp.add_parser("b")
p_b.add_argument("--b-foo", default=3, type=int)
"#,
            "t.py",
        );
        assert_eq!(names(&d, &[]), ["base-foo"]);
        assert_eq!(names(&d, &["a"]), ["a-foo"]);
        assert_eq!(names(&d, &["b", "--x"]), ["b-foo"]);
        let d = detect(
            r#"
import click
@click.group()
@click.option("--base-foo", default=4, type=int)
def cli(base_foo): pass
@cli.command()
@click.option("--a-foo", default=5, type=int)
def a(a_foo): pass
@cli.group()
@click.option("--b-foo", default=6, type=int)
def b(b_foo): pass
@b.command()
@click.option("--b-sub-foo", default=7, type=int)
def b_sub(b_sub_foo): pass
"#,
            "t.py",
        );
        assert_eq!(names(&d, &[]), ["base-foo"]);
        assert_eq!(names(&d, &["a"]), ["a-foo"]);
        assert_eq!(names(&d, &["b"]), ["b-foo"]);
        assert_eq!(names(&d, &["b", "b-sub"]), ["b-sub-foo"]);
    }
}
