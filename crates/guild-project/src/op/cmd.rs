//! A run's command and environment, rebuilt from its `op` attr and flags:
//! the same code serves a fresh run, `--start` of a staged run (ours or
//! Guild's) and, later, a restart.

use crate::op::flags;
use guild_format::error::{Error, Result};
use guild_format::run::{yaml, Run};
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// A run's command and environment, ready to start.
pub struct Built {
    /// The program and arguments the run's process is started with.
    pub argv: Vec<String>,
    /// The command as Guild shows and records it: `-um guild.op_main`
    /// (the bundled bootstrap runs in its place), `guild.steps_main`,
    /// `guild.batch_main`.
    pub display: Vec<String>,
    /// The full process environment.
    pub env: BTreeMap<String, String>,
    /// Only what the operation adds (for `--print-env`).
    pub op_env: BTreeMap<String, String>,
    /// Whether it is a Python operation (its command runs `${python_exe}`).
    pub python: bool,
    /// The interpreter a Python operation runs with.
    pub(crate) python_exe: Option<std::path::PathBuf>,
}

fn get<'a>(m: &'a Value, key: &str) -> Option<&'a Value> {
    m.as_mapping().and_then(|m| m.get(key))
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => flags::encode_arg(other),
    }
}

/// Build argv and env for `run` from `op` (the `op` attr) and `flag_vals`.
pub fn build(
    home: &guild_format::home::Home,
    run: &Run,
    op: &Value,
    flag_vals: &Mapping,
    cmd_dir: &Path,
    op_name: &str,
) -> Result<Built> {
    let op_cmd = get(op, "op-cmd")
        .filter(|v| v.as_mapping().is_some_and(|m| !m.is_empty()))
        .ok_or_else(|| {
            Error::user(format!(
                "cannot start run {}: missing op configuration (its attrs/op has no op-cmd)",
                run.short_id()
            ))
        })?;
    let template: Vec<String> = get(op_cmd, "cmd-args")
        .and_then(Value::as_sequence)
        .map(|s| s.iter().map(scalar_string).collect())
        .unwrap_or_default();
    if template.is_empty() {
        return Err(Error::user(format!(
            "cannot start run {}: its op-cmd has no cmd-args",
            run.short_id()
        )));
    }
    let empty = Value::Mapping(Mapping::new());
    let cmd_flags = get(op_cmd, "cmd-flags").unwrap_or(&empty);
    let dest = get(op_cmd, "flags-dest")
        .and_then(Value::as_str)
        .unwrap_or("args")
        .to_string();
    let python = template.iter().any(|a| a.contains("${python_exe}"));
    let python_exe = if python {
        Some(guild_format::platform::python_exe(cmd_dir)?)
    } else {
        None
    };
    // Flags added by operation dependencies (`flags-extra`) hold run ids
    // and are not passed to the process.
    let extra = get(op, "flags-extra").and_then(Value::as_mapping);
    let mut sorted: Vec<(String, &Value)> = flag_vals
        .iter()
        .filter(|(k, _)| !extra.is_some_and(|e| e.contains_key(*k)))
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));

    let mut argv: Vec<String> = Vec::new();
    let mut display: Vec<String> = Vec::new();
    let mut i = 0;
    while i < template.len() {
        let a = &template[i];
        if a == "__flag_args__" || a == "${flag_args}" {
            display.extend(flag_args(&sorted, cmd_flags, &dest, &template));
        } else if a.contains("${guild_python_exe}") && python_exe.is_none() {
            let py = guild_format::platform::python_exe(cmd_dir).ok();
            display.push(resolve_refs(a, py.as_deref(), flag_vals, cmd_dir));
        } else {
            display.push(resolve_refs(a, python_exe.as_deref(), flag_vals, cmd_dir));
        }
        // Guild's bootstrap module is replaced by the bundled one.
        if (a == "-um" || a == "-m")
            && template.get(i + 1).map(String::as_str) == Some("guild.op_main")
        {
            argv.push("-u".into());
            argv.push(op_main_path(home)?.display().to_string());
            display.push(template[i + 1].clone());
            i += 2;
            continue;
        }
        // Pipelines and batches are run by this program (`guild __steps`,
        // `guild __batch`).
        let own = match template.get(i + 1).map(String::as_str) {
            Some("guild.steps_main") => Some("__steps"),
            Some("guild.batch_main") => Some("__batch"),
            _ => None,
        };
        if let (true, Some(sub)) = (a == "-um" || a == "-m", own) {
            argv.pop();
            let exe = guild_format::platform::guild_exe()?;
            argv.push(exe.display().to_string());
            argv.push(sub.into());
            display.push(template[i + 1].clone());
            i += 2;
            continue;
        }
        if a == "__flag_args__" || a == "${flag_args}" {
            let args = flag_args(&sorted, cmd_flags, &dest, &template);
            argv.extend(args);
        } else {
            argv.push(resolve_refs(a, python_exe.as_deref(), flag_vals, cmd_dir));
        }
        i += 1;
    }

    let mut op_env: BTreeMap<String, String> = BTreeMap::new();
    if let Some(m) = get(op_cmd, "cmd-env").and_then(Value::as_mapping) {
        for (k, v) in m {
            if let Some(k) = k.as_str() {
                op_env.insert(
                    k.to_string(),
                    resolve_refs(&scalar_string(v), python_exe.as_deref(), flag_vals, cmd_dir),
                );
            }
        }
    }
    for (name, v) in &sorted {
        let cf = get(cmd_flags, name);
        let env_name = cf.and_then(|c| get(c, "env-name")).and_then(Value::as_str);
        op_env.insert(flags::env_name(env_name, name), flags::encode_arg(v));
    }
    let dest_dir = get(op, "sourcecode")
        .and_then(|s| get(s, "dest"))
        .and_then(Value::as_str)
        .unwrap_or(".")
        .to_string();
    relocate_script(run, &mut argv, &dest_dir);
    let mut env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k != "_").collect();
    if python {
        let path = python_path(home, op, &op_env, &env, &dest_dir, python_exe.as_deref());
        op_env.insert("PYTHONPATH".into(), path);
    }
    env.extend(op_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.insert("GUILD_HOME".into(), home.path.display().to_string());
    env.insert("GUILD_OP".into(), op_name.to_string());
    env.insert("GUILD_SOURCECODE".into(), dest_dir);
    env.entry("LOG_LEVEL".into()).or_insert_with(|| "20".into());
    env.insert("CMD_DIR".into(), cmd_dir.display().to_string());
    env.insert("RUN_DIR".into(), run.dir.display().to_string());
    env.insert("RUN_ID".into(), run.id.clone());
    Ok(Built {
        argv,
        display,
        env,
        op_env,
        python,
        python_exe,
    })
}

/// A script started elsewhere than where it was staged (on a remote): the
/// project's file is not there, the run's copy of it is.
fn relocate_script(run: &Run, argv: &mut [String], dest_dir: &str) {
    let Some(first) = argv.first_mut() else {
        return;
    };
    let p = Path::new(first.as_str());
    let runnable = nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok() && p.is_file();
    if p.is_absolute() && !runnable {
        if let Ok(opref) = run.opref() {
            if let Ok(rel) = p.strip_prefix(&opref.pkg_name) {
                let copy = run.dir.join(dest_dir).join(rel);
                if copy.is_file() {
                    *first = copy.display().to_string();
                }
            }
        }
    }
}

/// The PYTHONPATH of a Python operation, in Guild's order: the
/// operation's own `env: PYTHONPATH`, the source code paths, the guild
/// package, then the caller's PYTHONPATH (`env`).
fn python_path(
    home: &guild_format::home::Home,
    op: &Value,
    op_env: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
    dest_dir: &str,
    python_exe: Option<&Path>,
) -> String {
    let existing = env.get("PYTHONPATH").cloned().unwrap_or_default();
    // Guild's order: the operation's own `env: PYTHONPATH`, the source
    // code paths, the guild package, then the caller's PYTHONPATH.
    let mut src = vec![dest_dir.to_string()];
    if let Some(extra) = get(op, "python-path").and_then(Value::as_sequence) {
        // Project paths: inside the run they live under the source dest.
        src.extend(extra.iter().filter_map(|p| {
            let p = p.as_str()?;
            Some(if p.starts_with('/') || dest_dir == "." {
                p.to_string()
            } else {
                format!("{}/{p}", dest_dir.trim_end_matches('/'))
            })
        }));
    }
    // cmd-env records the source paths when the operation sets none.
    let own = op_env.get("PYTHONPATH").cloned().unwrap_or_default();
    let pkgdir = python_exe
        .and_then(|py| guild_format::platform::guild_pkgdir(&home.cache_dir("python"), py))
        .map(|d| d.display().to_string());
    let mut parts: Vec<String> = Vec::new();
    let all = own
        .split(':')
        .filter(|p| !src.iter().any(|s| s == p))
        .map(String::from)
        .chain(src.iter().cloned())
        .chain(pkgdir)
        .chain(existing.split(':').map(String::from));
    for p in all {
        if !p.is_empty() && !parts.contains(&p) {
            parts.push(p);
        }
    }
    parts.join(":")
}

fn flag_args(
    sorted: &[(String, &Value)],
    cmd_flags: &Value,
    dest: &str,
    template: &[String],
) -> Vec<String> {
    let mut out = Vec::new();
    if dest == "none" {
        return out;
    }
    let globals = dest == "globals"
        || dest.starts_with("global:")
        || dest.starts_with("dict:")
        || dest.starts_with("namespace:");
    for (name, v) in sorted {
        let cf = get(cmd_flags, name);
        let attr = |k: &str| cf.and_then(|c| get(c, k));
        if v.is_null() || attr("arg-skip").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let arg_name = attr("arg-name")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_string();
        let opt = format!("--{arg_name}");
        if template.contains(&opt) {
            continue;
        }
        if let Some(sw) = attr("arg-switch") {
            if switch_matches(sw, v) {
                out.push(opt);
            }
            continue;
        }
        let spec = attr("arg-split");
        let split = spec.is_some_and(|s| !matches!(s, Value::Bool(false) | Value::Null));
        let sep = flags::split_sep(spec);
        // A value that is not a list is split: a string as it is, another
        // value as it is encoded (Guild's `_encode_split_args`).
        let parts = |v: &Value| match v {
            Value::String(s) => flags::split_arg(s, sep.as_deref()),
            other => flags::split_arg(&flags::encode_arg(other), sep.as_deref()),
        };
        if globals {
            let val = match (*v, split) {
                (Value::Sequence(_), _) | (_, false) => (*v).clone(),
                (other, true) => {
                    Value::Sequence(parts(other).iter().map(|p| flags::decode(p)).collect())
                }
            };
            push_opt_value(&mut out, opt, flags::encode_global_arg(&val));
        } else if split {
            out.push(opt);
            match v {
                Value::Sequence(items) => out.extend(items.iter().map(flags::encode_arg)),
                other => out.extend(parts(other)),
            }
        } else {
            push_opt_value(&mut out, opt, flags::encode_arg(v));
        }
    }
    out
}

/// `--name value`, or `--name=value` when the value starts with `-` and is
/// not a number: argparse and click would read `--name --lr` as two
/// options, not as the value the recorded flags say.
fn push_opt_value(out: &mut Vec<String>, opt: String, val: String) {
    if val.starts_with('-') && val.parse::<f64>().is_err() {
        out.push(format!("{opt}={val}"));
    } else {
        out.push(opt);
        out.push(val);
    }
}

fn switch_matches(sw: &Value, v: &Value) -> bool {
    match (sw, v) {
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Bool(a), Value::String(s)) => {
            matches!(yaml::parse_11(s), Ok(Value::Bool(b)) if b == *a)
        }
        (a, b) => a == b,
    }
}

fn resolve_refs(arg: &str, python: Option<&Path>, flag_vals: &Mapping, cmd_dir: &Path) -> String {
    super::template::expand_lossy(arg, |r| match r.text {
        "python_exe" | "guild_python_exe" => Some(
            python
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "python3".into()),
        ),
        "project_dir" => Some(cmd_dir.display().to_string()),
        name => flag_vals.get(name).map(flags::encode_arg),
    })
}

/// The `env` attr: the process env minus names that look like secrets.
/// `attrs/env`: the run's environment with secrets redacted.
pub(crate) fn env_attr(
    env: &BTreeMap<String, String>,
    rules: &guild_format::redact::Rules,
) -> Value {
    let mut m = Mapping::new();
    for (k, v) in env {
        if k == "_" {
            continue;
        }
        m.insert(k.clone().into(), rules.value(k, v).into_owned().into());
    }
    Value::Mapping(m)
}

/// Shell-ish command display: args with spaces or empty are double-quoted.
pub fn command_line(cmd: &serde_yaml_ng::Value) -> String {
    cmd.as_sequence()
        .map(|s| {
            s.iter()
                .map(|a| {
                    let a = match a {
                        serde_yaml_ng::Value::String(s) => s.clone(),
                        other => crate::op::flags::encode_arg(other),
                    };
                    if a.is_empty() || a.contains(' ') {
                        format!("\"{a}\"")
                    } else {
                        a
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The attrs a start records besides `cmd` and `started`: the process
/// environment (secrets redacted) and, for Python, the packages installed.
pub fn start_attrs(
    home: &guild_format::home::Home,
    built: &Built,
    redact: &guild_format::redact::Rules,
) -> Vec<(&'static str, Value)> {
    let mut attrs = Vec::new();
    if built.python && std::env::var("NO_PIP_FREEZE").as_deref() != Ok("1") {
        if let Some(py) = &built.python_exe {
            let pkgs = guild_format::platform::pip_freeze(&home.cache_dir("python"), py);
            attrs.push((
                "pip_freeze",
                Value::Sequence(pkgs.into_iter().map(Value::from).collect()),
            ));
        }
    }
    attrs.push(("env", env_attr(&built.env, redact)));
    attrs
}

/// Write the bundled Python bootstrap under the home's cache (once per
/// content) and return the path of its launcher. The launcher imports the
/// bootstrap so Python caches its bytecode instead of compiling it per run.
pub(crate) fn op_main_path(
    home: &guild_format::home::Home,
) -> guild_format::error::Result<std::path::PathBuf> {
    const SRC: &str = include_str!("op_main.py");
    const LAUNCHER: &str = include_str!("op_main_launcher.py");
    use md5::{Digest, Md5};
    let tag = format!("{:x}", Md5::digest(format!("{SRC}{LAUNCHER}").as_bytes()));
    let dir = home.cache_dir("op-main").join(&tag[..12]);
    let path = dir.join("guild_op_main.py");
    if !path.exists() {
        guild_format::fsutil::create_dir_all(&dir)?;
        guild_format::fsutil::write_atomic(&dir.join("guild_op_main_impl.py"), SRC.as_bytes())?;
        guild_format::fsutil::write_atomic(&path, LAUNCHER.as_bytes())?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagmap(s: &str) -> Mapping {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn flag_args_as_guild() {
        let f = flagmap(
            "{debug: false, epochs: 2, lr: 0.2, opt: adam, layers: '3 4 5', bo: false, none: null}",
        );
        let mut sorted: Vec<(String, &Value)> = f
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_string(), v))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let cf: Value = serde_yaml_ng::from_str(
            "{debug: {arg-switch: true}, layers: {arg-split: true}, bo: {arg-name: no-bo, arg-switch: false}}",
        )
        .unwrap();
        let args = flag_args(&sorted, &cf, "args", &[]);
        assert_eq!(
            args.join(" "),
            "--no-bo --epochs 2 --layers 3 4 5 --lr 0.2 --opt adam"
        );
        let g = flagmap("{debug: false, layers: \"1 2 'a b'\", name: '1'}");
        let mut sorted: Vec<(String, &Value)> = g
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_string(), v))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let cf: Value = serde_yaml_ng::from_str("{layers: {arg-split: true}}").unwrap();
        let args = flag_args(&sorted, &cf, "globals", &[]);
        assert_eq!(
            args,
            [
                "--debug",
                "false",
                "--layers",
                "[1, 2, a b]",
                "--name",
                "'1'"
            ]
        );
    }
}
