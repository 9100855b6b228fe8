//! What to run: an operation definition (for now a script: Python with
//! detected flags, or any executable), flag resolution against it, and the
//! `op` attr from which a run's command is rebuilt at start.

pub mod cmd;
pub mod config;
pub mod deps;
pub mod detect;
pub mod fetch;
pub mod flagfn;
pub mod flags;
pub mod gf;

pub mod optimizer;
pub mod requirements;
pub mod source;
pub mod steps;
pub(crate) mod template;
pub(crate) mod unpack;

use flags::FlagDef;
use guild_format::error::{Error, Result};
use guild_format::home::Home;
use guild_format::output::scalars::OutputScalars;
use guild_format::run::Opref;
use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};

/// A datastore a run mounts: `NAME[:VERSION]` (no version: the latest when
/// the run is staged) and the directory in the run it appears at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatastoreMount {
    /// `NAME` or `NAME:VERSION`.
    pub spec: String,
    /// Where in the run directory (relative; default `datastores/NAME`).
    pub dir: String,
}

impl DatastoreMount {
    /// Parse `NAME[:VERSION][=DIR]`, checked.
    pub fn parse(s: &str) -> Result<DatastoreMount> {
        match s.split_once('=') {
            Some((spec, dir)) => DatastoreMount::new(spec, Some(dir.to_string())),
            None => DatastoreMount::new(s, None),
        }
    }

    /// `NAME[:VERSION]` mounted at `dir` (None: `datastores/NAME`), checked.
    pub fn new(spec: &str, dir: Option<String>) -> Result<DatastoreMount> {
        let (name, _) = guild_format::datastore::parse_ref(spec)?;
        let dir = dir.unwrap_or_else(|| format!("datastores/{name}"));
        if !guild_format::fsutil::is_plain_rel(&dir) || dir.contains(['*', '?', '[', '\\']) {
            return Err(Error::user(format!(
                "invalid datastore mount directory '{}': give a path inside the run (relative, no '..', no '*?[\\')",
                guild_format::text::escape(&dir)
            )));
        }
        Ok(DatastoreMount {
            spec: spec.to_string(),
            dir,
        })
    }
}

/// An operation resolved for running: a guild.yml operation or a script.
#[derive(Debug, Clone)]
pub struct OpDef {
    /// Name shown for the operation (`train.py`).
    pub name: String,
    /// The opref its runs record.
    pub opref: Opref,
    /// Argv template with `${python_exe}` and `__flag_args__`.
    pub cmd_args: Vec<String>,
    /// Environment variables the operation sets (`env`, `PROJECT_DIR`...).
    pub cmd_env: Mapping,
    /// The operation's flag definitions.
    pub flags: Vec<FlagDef>,
    /// `args`, `args:click`, `globals`, `none`, or empty for executables.
    pub(crate) flags_dest: String,
    /// A Python op (run through the bootstrap; records pip_freeze).
    pub(crate) python: bool,
    pub(crate) project_dir: PathBuf,
    /// The directory source code is copied from (None: no source code).
    pub source_root: Option<PathBuf>,
    pub(crate) sourcecode_dest: String,
    /// `sourcecode.root` as written in guild.yml (recorded in the op attr).
    pub(crate) sourcecode_root_spec: Option<String>,
    pub(crate) output_scalars: OutputScalars,
    pub(crate) label_template: Option<String>,
    /// `sourcecode` select rules applied on top of the defaults.
    pub(crate) sourcecode_rules: Vec<source::Rule>,
    /// The operation's description (may be empty).
    pub description: String,
    /// Tags every run of the operation gets.
    pub(crate) tags: Vec<String>,
    /// A stop by signal counts as success.
    pub(crate) stoppable: bool,
    /// A successful run is moved to the trash.
    pub delete_on_success: bool,
    /// Extra PYTHONPATH entries (relative to the source dest).
    pub(crate) python_path: Vec<String>,
    /// `requires` entries as written in guild.yml.
    pub(crate) requires: Vec<deps::Require>,
    /// Datastores the run mounts (`--datastore NAME[:VERSION][=DIR]`).
    pub datastores: Vec<DatastoreMount>,
    /// `steps` of a pipeline operation.
    pub(crate) steps: Option<Vec<steps::StepSpec>>,
    /// The `main` module, when neither the source code nor the project has
    /// it (it may still be installed: checked before a run starts).
    pub(crate) main_missing: Option<String>,
    /// Optimizers declared for the operation (`optimizer`/`optimizers`).
    pub(crate) optimizers: Vec<optimizer::OptimizerDef>,
    /// `run-attrs`: custom attrs every run of the operation gets.
    pub(crate) run_attrs: Mapping,
    /// What resolving the operation warned about (flags that could not be
    /// imported), for the caller to report.
    pub warnings: Vec<String>,
}

impl OpDef {
    /// An operation with no command, flags or options yet.
    pub(crate) fn new(name: &str, opref: Opref, project_dir: &Path) -> OpDef {
        OpDef {
            name: name.into(),
            opref,
            cmd_args: Vec::new(),
            cmd_env: Mapping::new(),
            flags: Vec::new(),
            flags_dest: String::new(),
            python: false,
            project_dir: project_dir.to_path_buf(),
            source_root: None,
            sourcecode_dest: ".".into(),
            sourcecode_root_spec: None,
            output_scalars: OutputScalars::Defaults,
            label_template: None,
            sourcecode_rules: Vec::new(),
            description: String::new(),
            tags: Vec::new(),
            stoppable: false,
            delete_on_success: false,
            python_path: Vec::new(),
            requires: Vec::new(),
            steps: None,
            datastores: Vec::new(),
            main_missing: None,
            optimizers: Vec::new(),
            run_attrs: Mapping::new(),
            warnings: Vec::new(),
        }
    }

    /// Guild's batch operation (`+` grid, or `random` search), whose
    /// process runs the trials.
    pub fn batch(optimizer: &str, project_dir: &Path) -> OpDef {
        let (model, name) = if optimizer == "+" {
            ("", "+")
        } else {
            ("skopt", "random")
        };
        let display = if model.is_empty() {
            name.to_string()
        } else {
            format!("{model}:{name}")
        };
        let opref = Opref {
            pkg_type: "builtin".into(),
            pkg_name: "guildai".into(),
            pkg_version: "0.9.0".into(),
            model_name: model.into(),
            op_name: name.into(),
        };
        let mut op = OpDef::new(&display, opref, project_dir);
        op.cmd_args = ["${guild_python_exe}", "-um", "guild.batch_main"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        op.output_scalars = OutputScalars::Patterns(Vec::new());
        op
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Guild's source root for a script: the common path of the script and cwd
/// (falling back to the script's dir when that would be `/` or `$HOME`).
fn script_root(script: &Path, cwd: &Path) -> PathBuf {
    let script_dir = script
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cwd.to_path_buf());
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    let mut common = PathBuf::new();
    for (a, b) in script_dir.components().zip(cwd.components()) {
        if a != b {
            break;
        }
        common.push(a);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .and_then(|h| h.canonicalize().ok());
    if common.parent().is_none() || Some(&common) == home.as_ref() {
        script_dir
    } else {
        common
    }
}

/// Resolve `guild run SPEC` for a script path.
pub(crate) fn resolve_script(home: &Home, cwd: &Path, spec: &str) -> Result<OpDef> {
    let given = cwd.join(spec);
    if !given.exists() {
        return Err(Error::user(format!(
            "cannot find operation {spec}: no such file {}; check the path (or define '{spec}' in guild.yml)",
            given.display()
        )));
    }
    if given.is_dir() {
        return Err(Error::user(format!(
            "cannot run '{spec}': it is a directory; give a script or executable file"
        )));
    }
    let script = given
        .canonicalize()
        .map_err(|e| Error::io("resolving", &given, e))?;
    let script_dir = script
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cwd.to_path_buf());
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let root = script_root(&script, cwd);
    let rel = script
        .strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| PathBuf::from(&name));
    let opref = Opref {
        pkg_type: "script".into(),
        pkg_name: script_dir.display().to_string(),
        pkg_version: String::new(),
        model_name: String::new(),
        op_name: name.clone(),
    };
    let mut op = OpDef::new(&name, opref, cwd);
    op.source_root = Some(root);
    if name.ends_with(".py") {
        let detected = detect::detect_cached(&home.cache_dir("flags"), &script)?;
        let module = rel.to_string_lossy().trim_end_matches(".py").to_string();
        op.python = true;
        op.flags = detected.flags;
        op.flags_dest = detected.dest.as_str().to_string();
        op.cmd_args = [
            "${python_exe}",
            "-um",
            "guild.op_main",
            &module,
            "__flag_args__",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        op.cmd_env
            .insert("FLAGS_DEST".into(), op.flags_dest.clone().into());
        op.cmd_env
            .insert("PROJECT_DIR".into(), cwd.display().to_string().into());
    } else if is_executable(&script) {
        op.cmd_args = vec![script.display().to_string()];
        op.cmd_env
            .insert("PROJECT_DIR".into(), cwd.display().to_string().into());
    } else {
        return Err(Error::user(format!(
            "cannot run '{spec}': must be an executable file (try `chmod +x {spec}`) or a Python script (.py)"
        )));
    }
    Ok(op)
}

/// Resolve `guild run SPEC` in `cwd`: an operation of the project's
/// guild.yml, else a script file. A guild.yml with errors stops here.
pub fn resolve(home: &Home, cwd: &Path, spec: Option<&str>) -> Result<OpDef> {
    let gf = crate::guildfile::Guildfile::find(cwd)?;
    let Some(spec) = spec else {
        let default = gf.as_ref().and_then(|g| {
            g.default_model().and_then(|m| {
                m.ops
                    .iter()
                    .find(|o| o.bool("default") == Some(true))
                    .or_else(|| (m.ops.len() == 1).then(|| &m.ops[0]))
                    .map(|o| (m, o))
            })
        });
        return match (gf.as_ref(), default) {
            (Some(g), Some((m, o))) => gf::resolve(home, g, m, o),
            _ => Err(Error::usage(
                "missing OPERATION; try `guild run train.py`, `guild operations` to list a project's operations, or `guild run --help`",
            )),
        };
    };
    if let Some(g) = &gf {
        let looks_like_file = spec.contains('/') || spec.ends_with(".py") || spec.ends_with(".sh");
        if let Some((m, o)) = g.find_op(spec) {
            return gf::resolve(home, g, m, o);
        }
        // Not an operation: a script file of the project, as Guild (an
        // executable without an extension included).
        let file = cwd.join(spec);
        if !(looks_like_file && file.exists() || file.is_file()) {
            gf::find(g, spec)?;
        }
    }
    resolve_script(home, cwd, spec)
}

/// Final flag values: defaults, then command-line values decoded and checked
/// against their definitions. `Err` before anything is written.
pub struct ResolvedFlags {
    /// Every flag's value: its default, or the value given.
    pub flags: Mapping,
    /// The flags given, as typed (an alias stays an alias).
    pub user_flags: Mapping,
}

/// Resolve `args` (`NAME`, `VALUE` pairs) against `op`'s flags; `force`
/// (`--force-flags`) accepts flags the operation does not define.
pub fn resolve_flags(
    op: &OpDef,
    args: &[(String, String)],
    force: bool,
    cwd: &Path,
) -> Result<ResolvedFlags> {
    let mut flags = Mapping::new();
    for d in &op.flags {
        let default = d.default.clone().unwrap_or(Value::Null);
        // A typed default reads as its type (argparse `type=float, default=0` is 0.0).
        let default = match d.ftype {
            Some(t) if !d.arg_split => flags::coerce(&default, t, cwd).unwrap_or(default),
            _ => default,
        };
        flags.insert(d.name.clone().into(), default);
    }
    let mut user_flags = Mapping::new();
    let given = |n: &str| args.iter().any(|(a, _)| a == n);
    // A flag given by both its name and its alias (Guild's wording).
    for d in &op.flags {
        if let Some(alias) = d.alias.as_deref().filter(|a| given(a) && given(&d.name)) {
            if !force {
                return Err(Error::user(format!(
                    "cannot specify both alias '{}' and name for flag '{alias}' Use --force-flags to skip this check.",
                    d.name
                )));
            }
        }
    }
    for (name, raw) in args {
        // With --force-flags, an alias given beside its flag's name is a
        // flag of its own.
        let def = op.flags.iter().find(|d| {
            &d.name == name || (d.alias.as_deref() == Some(name.as_str()) && !given(&d.name))
        });
        let value = match def {
            Some(d) => {
                let v = flags::decode_typed(raw, d.ftype);
                let check = |v: &Value| flags::check(d, v, cwd).map_err(Error::user);
                match &v {
                    // Each part is checked (type, choices, range), the
                    // value kept as given (Guild's `_check_splittable_flag_val`).
                    Value::String(s) if d.arg_split => {
                        for part in d.split(s) {
                            check(&flags::decode_typed(&part, d.ftype))?;
                        }
                        v
                    }
                    // A sweep: each value is checked; search functions are
                    // checked when the batch is planned.
                    Value::Sequence(items) if !d.arg_split => {
                        Value::Sequence(items.iter().map(check).collect::<Result<_>>()?)
                    }
                    Value::String(s) if crate::op::flagfn::parse_fn(s).is_some() => v,
                    _ => check(&v)?,
                }
            }
            None if force => flags::decode(raw),
            None => return Err(unsupported_flag(name, &op.name)),
        };
        let key = def.map(|d| d.name.clone()).unwrap_or_else(|| name.clone());
        flags.insert(key.into(), value.clone());
        // As typed (an alias stays an alias).
        user_flags.insert(name.clone().into(), value);
    }
    let missing: Vec<&str> = op
        .flags
        .iter()
        .filter(|d| d.required)
        .filter(|d| {
            matches!(flags.get(d.name.as_str()), None | Some(Value::Null))
                || flags.get(d.name.as_str()) == Some(&Value::from(""))
        })
        .map(|d| d.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::user(format!(
            "operation requires the following missing flags: {}; set them with NAME=VALUE",
            missing.join(", ")
        )));
    }
    Ok(ResolvedFlags { flags, user_flags })
}

/// Guild's error for a flag the operation does not define, on one line
/// (Guild breaks it after the flag name).
fn unsupported_flag(name: &str, op: &str) -> Error {
    Error::user(format!(
        "unsupported flag '{name}' Try 'guild run {op} --help-op' for a list of flags or use --force-flags to skip this check."
    ))
}

/// A `main` module that is neither in the project nor installed fails
/// the run before its directory exists (Guild makes an error run).
pub fn check_main_module(op: &OpDef) -> Result<()> {
    let Some(module) = &op.main_missing else {
        return Ok(());
    };
    let py = guild_format::platform::python_exe(&op.project_dir)?;
    let found = std::process::Command::new(&py)
        .args([
            "-c",
            "import importlib.util, sys\ntry:\n    s = importlib.util.find_spec(sys.argv[1])\nexcept Exception:\n    s = None\nsys.exit(0 if s else 1)",
            module,
        ])
        .current_dir(&op.project_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Ok(());
    }
    Err(Error::user(format!(
        "No module named {module}: operation '{}' runs `main: {module}`, but there is no {}.py in {} and it is not installed",
        op.name,
        module.replace('.', "/"),
        op.project_dir.display()
    )))
}

/// Flags for a restart or `--proto`: `base` (the run's flags) with each
/// `NAME=VALUE` override decoded and checked against `op` when its
/// definition is known.
pub fn override_flags(
    op: Option<&OpDef>,
    base: &Mapping,
    args: &[(String, String)],
    force: bool,
    cwd: &Path,
) -> Result<ResolvedFlags> {
    let mut flags = base.clone();
    let mut user_flags = Mapping::new();
    for (name, raw) in args {
        let def = op.and_then(|o| {
            o.flags
                .iter()
                .find(|d| &d.name == name || d.alias.as_deref() == Some(name.as_str()))
        });
        let value = match (def, op) {
            (Some(d), _) => {
                let v = flags::decode_typed(raw, d.ftype);
                flags::check(d, &v, cwd).map_err(Error::user)?
            }
            (None, Some(o)) if !force && !base.contains_key(name.as_str()) => {
                return Err(unsupported_flag(name, &o.name))
            }
            _ => flags::decode(raw),
        };
        let key = def.map(|d| d.name.clone()).unwrap_or_else(|| name.clone());
        flags.insert(key.clone().into(), value.clone());
        user_flags.insert(key.into(), value);
    }
    Ok(ResolvedFlags { flags, user_flags })
}

/// The current definition of the operation a run was made from (its
/// guild.yml op or script), when it can still be found.
pub fn for_run(home: &Home, opref: &Opref) -> Option<OpDef> {
    match opref.pkg_type.as_str() {
        "guildfile" => {
            let gf = crate::guildfile::Guildfile::load(Path::new(&opref.pkg_name)).ok()?;
            let spec = if opref.model_name.is_empty() {
                opref.op_name.clone()
            } else {
                format!("{}:{}", opref.model_name, opref.op_name)
            };
            let (m, o) = gf.find_op(&spec)?;
            gf::resolve(home, &gf, m, o).ok()
        }
        "script" => resolve_script(home, Path::new(&opref.pkg_name), &opref.op_name).ok(),
        _ => None,
    }
}

/// Parse `NAME=VALUE` arguments (split on the first `=`).
pub fn parse_flag_args(args: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for a in args {
        let a = match (a.strip_prefix('~'), std::env::var("HOME")) {
            (Some(rest), Ok(h)) => format!("{h}{rest}"),
            _ => a.clone(),
        };
        match a.split_once('=') {
            Some((n, v)) if !n.is_empty() => out.push((n.to_string(), v.to_string())),
            _ => bad.push(a),
        }
    }
    if !bad.is_empty() {
        return Err(Error::user(format!(
            "invalid argument(s): {}; expected NAME=VAL",
            bad.join(" ")
        )));
    }
    Ok(out)
}

/// The `op` attr: everything needed to rebuild the command at start/restart.
pub fn op_attr(op: &OpDef) -> Value {
    let mut cmd_flags = Mapping::new();
    for d in &op.flags {
        cmd_flags.insert(d.name.clone().into(), d.cmd_flag_attrs());
    }
    let mut op_cmd = Mapping::new();
    op_cmd.insert(
        "cmd-args".into(),
        Value::Sequence(op.cmd_args.iter().cloned().map(Value::from).collect()),
    );
    let mut cmd_env = op.cmd_env.clone();
    if op.python && !cmd_env.contains_key("PYTHONPATH") {
        // Guild's bootstrap takes the sys.path of the op from PYTHONPATH, so
        // Guild itself can start these runs.
        let dest = op.sourcecode_dest.clone();
        let mut parts = vec![dest.clone()];
        parts.extend(op.python_path.iter().map(|p| {
            if p.starts_with('/') || dest == "." {
                p.clone()
            } else {
                format!("{}/{p}", dest.trim_end_matches('/'))
            }
        }));
        cmd_env.insert("PYTHONPATH".into(), parts.join(":").into());
    }
    op_cmd.insert("cmd-env".into(), Value::Mapping(cmd_env));
    op_cmd.insert("cmd-flags".into(), Value::Mapping(cmd_flags));
    if !op.flags_dest.is_empty() {
        op_cmd.insert("flags-dest".into(), op.flags_dest.clone().into());
    } else if op.python {
        op_cmd.insert("flags-dest".into(), "args".into());
    }
    let mut m = Mapping::new();
    m.insert("delete-on-success".into(), op.delete_on_success.into());
    m.insert(
        "deps".into(),
        Value::Sequence(op.requires.iter().map(deps::Require::to_value).collect()),
    );
    m.insert("flag-null-labels".into(), Value::Mapping(Mapping::new()));
    m.insert("flags-extra".into(), Value::Mapping(Mapping::new()));
    m.insert(
        "label-template".into(),
        op.label_template
            .clone()
            .map(Value::from)
            .unwrap_or(Value::Null),
    );
    m.insert("op-cmd".into(), Value::Mapping(op_cmd));
    m.insert("output-scalars".into(), op.output_scalars.to_value());
    m.insert("python-requires".into(), Value::Null);
    if !op.python_path.is_empty() {
        m.insert(
            "python-path".into(),
            Value::Sequence(op.python_path.iter().cloned().map(Value::from).collect()),
        );
    }
    if op.stoppable {
        m.insert("stoppable".into(), true.into());
    }
    let mut sc = Mapping::new();
    sc.insert("dest".into(), op.sourcecode_dest.clone().into());
    if let Some(r) = &op.sourcecode_root_spec {
        sc.insert("root".into(), r.clone().into());
    }
    m.insert("sourcecode".into(), Value::Mapping(sc));
    Value::Mapping(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(d: &Path) -> Home {
        Home { path: d.join("gh") }
    }

    #[test]
    fn script_flags_resolve_and_reject_bad_values() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().canonicalize().unwrap();
        std::fs::write(
            p.join("t.py"),
            "import argparse\np=argparse.ArgumentParser()\np.add_argument('--lr', type=float, default=0.1)\np.add_argument('--opt', choices=['a','b'], default='a')\np.parse_args()\n",
        )
        .unwrap();
        let op = resolve_script(&home(&p), &p, "t.py").unwrap();
        assert_eq!(op.flags_dest, "args");
        let args = parse_flag_args(&["lr=0.5".into()]).unwrap();
        let r = resolve_flags(&op, &args, false, &p).unwrap();
        assert_eq!(r.flags.get("lr"), Some(&Value::from(0.5)));
        assert_eq!(r.flags.get("opt"), Some(&Value::from("a")));
        assert_eq!(r.user_flags.len(), 1);
        let e = resolve_flags(&op, &[("nope".into(), "1".into())], false, &p)
            .err()
            .unwrap();
        assert!(
            e.message().contains("unsupported flag 'nope'"),
            "{}",
            e.message()
        );
        assert!(resolve_flags(&op, &[("nope".into(), "1".into())], true, &p).is_ok());
        let e = resolve_flags(&op, &[("lr".into(), "abc".into())], false, &p)
            .err()
            .unwrap();
        assert!(
            e.message().contains("invalid value abc for lr"),
            "{}",
            e.message()
        );
        assert!(parse_flag_args(&["foo".into()]).is_err());
    }

    #[test]
    fn missing_or_non_executable_script() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        assert!(resolve_script(&home(p), p, "nope.py")
            .err()
            .unwrap()
            .message()
            .contains("no such file"));
        std::fs::write(p.join("data.txt"), "x").unwrap();
        assert!(resolve_script(&home(p), p, "data.txt")
            .err()
            .unwrap()
            .message()
            .contains("must be an executable"));
    }
}
