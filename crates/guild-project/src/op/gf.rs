//! Operations defined in guild.yml: `main` (a Python module with args),
//! `exec` (any command line) or `steps` (a pipeline), with their flags
//! (declared and imported from the script), env, sourcecode rules and
//! dependencies, turned into an [`OpDef`].

use super::deps::{Require, SourceItem};
use super::{detect, flags::FlagDef, OpDef};
use crate::guildfile::{Guildfile, Model, OpConfig};
use guild_format::error::{Error, Result};
use guild_format::home::Home;
use guild_format::output::scalars::OutputScalars;
use guild_format::run::Opref;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

/// The Python file for module spec `module` (`train`, `pkg.mod`, `dir/mod`).
fn module_file(root: &Path, module: &str) -> Option<PathBuf> {
    // `SUBDIR/PKG.MODULE`: a module of the subdirectory, dotted as any.
    let rel = match module.rsplit_once('/') {
        Some((sub, m)) => format!("{sub}/{}", m.replace('.', "/")),
        None => module.replace('.', "/"),
    };
    let f = root.join(format!("{rel}.py"));
    if f.is_file() {
        return Some(f);
    }
    let init = root.join(&rel).join("__main__.py");
    init.is_file().then_some(init)
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(s)) => s
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => super::flags::encode_display(other),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Resolve `[MODEL:]OP` of `gf` into an operation definition.
pub fn resolve(home: &Home, gf: &Guildfile, model: &Model, cfg: &OpConfig) -> Result<OpDef> {
    let display = crate::guildfile::op_display(model, cfg);
    let err = |msg: String| Error::user(format!("error in {}: {msg}", gf.path.display()));
    let opref = Opref {
        pkg_type: "guildfile".into(),
        pkg_name: gf.path.display().to_string(),
        pkg_version: gf.md5.clone(),
        model_name: model.name.clone(),
        op_name: cfg.name.clone(),
    };
    let src = source_of(gf, model, cfg, &display)?;
    let root = src.root.clone();
    let mut op = OpDef::new(&display, opref, &gf.dir);
    op.source_root = (!src.disabled).then(|| root.clone());
    op.sourcecode_dest = src.dest;
    op.sourcecode_root_spec = src.root_spec;
    op.output_scalars = match cfg.get("output-scalars") {
        Some(v) => OutputScalars::from_value(v)
            .map_err(|e| gf_error(gf, format!("operation '{display}': {e}")))?,
        None => OutputScalars::Defaults,
    };
    op.label_template = cfg.str("label");
    op.sourcecode_rules = src.rules;
    op.description = cfg.description();
    op.tags = str_list(cfg.get("tags"));
    op.stoppable = cfg.bool("stoppable").unwrap_or(false);
    op.delete_on_success = cfg.bool("delete-on-success").unwrap_or(false);
    op.python_path = str_list(cfg.get("python-path"));
    op.requires = requires_of(model, cfg);
    op.datastores = super::deps::take_datastores(&mut op.requires)
        .map_err(|e| gf_error(gf, format!("operation '{display}': {}", e.message())))?;
    op.steps = match cfg.get("steps") {
        Some(v) => Some(
            super::steps::specs_of(v)
                .map_err(|e| gf_error(gf, format!("operation '{display}': {}", e.message())))?,
        ),
        None => None,
    };
    op.optimizers = super::optimizer::parse(&display, &cfg.cfg).map_err(err)?;
    if let Some(Value::Mapping(m)) = cfg.get("run-attrs") {
        op.run_attrs = m.clone();
    }
    let declared = declared_flags(gf, cfg)?;
    op.cmd_env
        .insert("PROJECT_DIR".into(), gf.dir.display().to_string().into());
    if let Some(Value::Mapping(env)) = cfg.get("env") {
        for (k, v) in env {
            let val = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => super::flags::encode_arg(other),
            };
            op.cmd_env.insert(k.clone(), val.into());
        }
    }
    if op.steps.is_some() {
        op.flags = declared;
        op.source_root = None;
        op.cmd_args = ["${guild_python_exe}", "-um", "guild.steps_main"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        op.flags_dest = "args".into();
        return Ok(op);
    }
    let exec = cfg.str("exec");
    let main = cfg.str("main").or_else(|| {
        exec.is_none()
            .then(|| cfg.name.trim_end_matches(".py").replace('-', "_"))
    });
    let mut imported: Vec<FlagDef> = Vec::new();
    if let Some(exec) = exec {
        let parts = shlex::split(&exec).ok_or_else(|| {
            err(format!(
                "invalid exec for operation '{display}': unbalanced quotes in {exec:?}"
            ))
        })?;
        op.cmd_args = parts
            .into_iter()
            .map(|p| {
                if p == "${flag_args}" {
                    "__flag_args__".into()
                } else {
                    p
                }
            })
            .collect();
        op.python = op.cmd_args.iter().any(|a| a.contains("${python_exe}"));
        op.flags_dest = cfg.str("flags-dest").unwrap_or_else(|| "args".into());
    } else if let Some(main) = main {
        imported = main_op(home, gf, cfg, &mut op, &root, &main, &declared)?;
    }
    op.flags = merge_flags(gf, cfg, imported, declared)?;
    merge_dep_flags(&mut op, cfg);
    Ok(op)
}

/// Where an operation's source code comes from: the model's then the
/// operation's `sourcecode` (root, dest, select rules).
struct SourceOf {
    rules: Vec<super::source::Rule>,
    root: std::path::PathBuf,
    dest: String,
    disabled: bool,
    root_spec: Option<String>,
}

fn source_of(gf: &Guildfile, model: &Model, cfg: &OpConfig, display: &str) -> Result<SourceOf> {
    let mut out = SourceOf {
        rules: Vec::new(),
        root: gf.dir.clone(),
        dest: ".".to_string(),
        disabled: false,
        root_spec: None,
    };
    for sc in [model.sourcecode.as_ref(), cfg.get("sourcecode")]
        .into_iter()
        .flatten()
    {
        let spec = super::source::SourceSpec::from_config(sc).map_err(|e| {
            gf_error(
                gf,
                format!("invalid sourcecode for operation '{display}': {e}"),
            )
        })?;
        if let Some(r) = spec.root {
            out.root = gf.dir.join(&r);
            out.root_spec = Some(r);
        }
        if let Some(d) = spec.dest {
            out.dest = d;
        }
        out.disabled |= spec.disabled;
        out.rules.extend(spec.rules);
    }
    Ok(out)
}

/// An error in the guild.yml `gf`.
fn gf_error(gf: &Guildfile, msg: String) -> Error {
    Error::user(format!("error in {}: {msg}", gf.path.display()))
}

/// The operation's `requires`, a name of the model's `resources` standing
/// for that resource.
fn requires_of(model: &Model, cfg: &OpConfig) -> Vec<Require> {
    let mut requires = cfg
        .get("requires")
        .map(Require::list_of)
        .unwrap_or_default();
    // A name of the model's `resources` stands for that resource.
    for r in requires.iter_mut() {
        let Require::Uri(name) = r else { continue };
        if name.contains(':') && !name.starts_with(':') {
            let (scheme, _) = name.split_once(':').unwrap_or_default();
            if matches!(
                scheme,
                "file" | "operation" | "config" | "url" | "module" | "datastore"
            ) {
                continue;
            }
        }
        let key = name.rsplit(':').next().unwrap_or(name).to_string();
        if let Some(def) = model.resources.get(key.as_str()) {
            let mut m = match def {
                Value::Mapping(m) if m.contains_key("sources") => m.clone(),
                Value::Sequence(srcs) => {
                    let mut m = serde_yaml_ng::Mapping::new();
                    m.insert("sources".into(), Value::Sequence(srcs.clone()));
                    m
                }
                other => {
                    let mut m = serde_yaml_ng::Mapping::new();
                    m.insert("sources".into(), Value::Sequence(vec![other.clone()]));
                    m
                }
            };
            if !m.contains_key("name") {
                m.insert("name".into(), key.clone().into());
            }
            *r = Require::of(&Value::Mapping(m));
        }
    }
    requires
}

/// The flags the operation declares (validated when the guildfile was
/// loaded).
fn declared_flags(gf: &Guildfile, cfg: &OpConfig) -> Result<Vec<FlagDef>> {
    match cfg.get("flags") {
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| {
                let name = k
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| super::flags::encode_display(k));
                FlagDef::from_config(&name, v).map_err(|e| gf_error(gf, e.to_string()))
            })
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// A `main` operation: its command (through `guild.op_main`), where its
/// flags go, and the flags imported from the script or its config file.
#[allow(clippy::too_many_arguments)]
fn main_op(
    home: &Home,
    gf: &Guildfile,
    cfg: &OpConfig,
    op: &mut OpDef,
    root: &std::path::Path,
    main: &str,
    declared: &[FlagDef],
) -> Result<Vec<FlagDef>> {
    let display = op.name.clone();
    let err = |msg: String| gf_error(gf, msg);
    let mut imported: Vec<FlagDef> = Vec::new();
    let parts = shlex::split(main).ok_or_else(|| {
        err(format!(
            "invalid main for operation '{display}': unbalanced quotes in {main:?}"
        ))
    })?;
    let Some((module, main_args)) = parts.split_first() else {
        return Err(err(format!("operation '{display}' has an empty main")));
    };
    let script = module_file(root, module).or_else(|| module_file(&gf.dir, module));
    // Guild's own modules (`guild.pass`) take no flags.
    let builtin = module.starts_with("guild.");
    if script.is_none() && !builtin {
        op.main_missing = Some(module.clone());
    }
    let import = cfg.get("flags-import");
    // `flags-import: no` (or []): no import, and no flags-dest inferred.
    let import_disabled = match import {
        Some(Value::Bool(false)) => true,
        Some(Value::String(s)) => matches!(s.as_str(), "no" | "false" | "off"),
        Some(Value::Sequence(items)) => items.is_empty(),
        _ => false,
    };
    let explicit_dest = cfg.str("flags-dest");
    // Flags are read from the script only for a Python destination.
    let python_dest = explicit_dest.as_deref().is_none_or(|d| {
        matches!(d, "args" | "globals")
            || ["args:", "global:", "dict:", "namespace:"]
                .iter()
                .any(|p| d.starts_with(p))
    });
    let detected = match &script {
        Some(s) if !import_disabled && python_dest => {
            Some(detect::detect_cached(&home.cache_dir("flags"), s)?)
        }
        _ => None,
    };
    op.python = true;
    op.flags_dest = explicit_dest
        .clone()
        .or_else(|| detected.as_ref().map(|d| d.dest.as_str().to_string()))
        .or_else(|| (builtin && !import_disabled).then(|| "globals".to_string()))
        .unwrap_or_default();
    let skip = str_list(cfg.get("flags-import-skip"));
    let declared_names: Vec<String> = declared.iter().map(|d| d.name.clone()).collect();
    let wanted = |name: &str| -> bool {
        if skip.iter().any(|s| s == name) {
            return false;
        }
        match import {
            Some(Value::Bool(true)) => true,
            Some(Value::String(s)) if s == "all" || s == "yes" || s == "true" => true,
            Some(Value::String(s)) => s == name,
            Some(Value::Sequence(items)) => items.iter().any(|i| i.as_str() == Some(name)),
            // Unset: the declared flags take what the script says
            // about them (default, type, help).
            None => declared_names.iter().any(|n| n == name),
            _ => false,
        }
    };
    let config_src = explicit_dest
        .as_deref()
        .and_then(|d| d.strip_prefix("config:"));
    if let (Some(src), false) = (config_src, import_disabled) {
        match super::config::import_flags(&gf.dir.join(src)) {
            Ok(flags) => {
                imported = flags.into_iter().filter(|f| wanted(&f.name)).collect();
                ensure_config_dep(&mut op.requires, src);
            }
            Err(e) => op.warnings.push(format!("WARNING: {e}")),
        }
    } else if let (Some(d), Some(global)) = (
        &detected,
        explicit_dest.as_deref().and_then(|d| {
            ["global:", "dict:", "namespace:"]
                .iter()
                .find_map(|p| d.strip_prefix(p))
        }),
    ) {
        // A dict or SimpleNamespace global of the script.
        imported = d
            .dicts
            .iter()
            .find(|(n, _)| n == global)
            .map(|(_, f)| f.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|f| wanted(&f.name))
            .collect();
    } else if let Some(d) = detected {
        imported = d
            .flags_for(main_args)
            .into_iter()
            .filter(|f| wanted(&f.name))
            .collect();
    } else if script.is_none()
        && !builtin
        && !import_disabled
        && std::env::var("NO_WARN_FLAGS_IMPORT").as_deref() != Ok("1")
        && import.is_some()
    {
        op.warnings.push(format!(
            "WARNING: cannot import flags from {module}: No module named {module}"
        ));
    }
    let mut args: Vec<String> = ["${python_exe}", "-um", "guild.op_main", module.as_str()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(main_args.iter().cloned());
    args.push("--".into());
    args.push("__flag_args__".into());
    op.cmd_args = args;
    if !op.flags_dest.is_empty() {
        op.cmd_env
            .insert("FLAGS_DEST".into(), op.flags_dest.clone().into());
    }
    Ok(imported)
}

/// Imported flags first, declared ones override (attributes merge);
/// sorted by name.
fn merge_flags(
    gf: &Guildfile,
    cfg: &OpConfig,
    imported: Vec<FlagDef>,
    declared: Vec<FlagDef>,
) -> Result<Vec<FlagDef>> {
    // Imported flags first, declared ones override (attributes merge).
    let mut all: Vec<FlagDef> = Vec::new();
    for f in imported {
        all.push(f);
    }
    for d in declared {
        // An imported flag merges into the declared one of its name, or
        // else into the one whose `arg-name` it is.
        let at = all.iter().position(|f| f.name == d.name).or_else(|| {
            let an = d.arg_name.as_deref()?;
            let i = all.iter().position(|f| f.name == an)?;
            all[i].name = d.name.clone();
            Some(i)
        });
        match at.map(|i| &mut all[i]) {
            // Declared attributes refine the imported flag.
            Some(f) => match cfg.get("flags").and_then(|m| m.get(d.name.as_str())) {
                Some(raw @ Value::Mapping(m)) if !m.is_empty() => {
                    f.apply_config(raw).map_err(|e| gf_error(gf, e))?;
                }
                _ => f.default = d.default.clone(),
            },
            None => all.push(d),
        }
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

/// The dependency that writes a run's config file (`flags-dest:
/// config:SRC`): added, or an existing `config:SRC` source made to
/// re-resolve and replace on restart, as Guild does.
fn ensure_config_dep(requires: &mut Vec<Require>, src: &str) {
    let uri = format!("config:{src}");
    let matches = |m: &serde_yaml_ng::Mapping| m.get("config").and_then(Value::as_str) == Some(src);
    let mut found = false;
    for r in requires.iter_mut() {
        if matches!(r, Require::Uri(s) if *s == uri) {
            let mut m = serde_yaml_ng::Mapping::new();
            m.insert("config".into(), src.into());
            *r = Require::Source(m);
        }
        let sources: Vec<&mut serde_yaml_ng::Mapping> = match r {
            Require::Resource(res) => res
                .sources
                .iter_mut()
                .filter_map(|x| match x {
                    SourceItem::Source(m) => Some(m),
                    _ => None,
                })
                .collect(),
            Require::Source(m) => vec![m],
            Require::Uri(_) | Require::Invalid(_) => Vec::new(),
        };
        for m in sources.into_iter().filter(|m| matches(m)) {
            found = true;
            for k in ["always-resolve", "replace-existing"] {
                if m.get(k).is_none_or(Value::is_null) {
                    m.insert(k.into(), true.into());
                }
            }
        }
    }
    if !found {
        let mut m = serde_yaml_ng::Mapping::new();
        m.insert("config".into(), src.into());
        m.insert("replace-existing".into(), true.into());
        m.insert("always-resolve".into(), true.into());
        requires.push(Require::Source(m));
    }
}

/// The flags of dependencies (Guild's resource-flags plugin): a declared
/// flag of the same name takes the missing `arg-skip` and default; others
/// are added.
fn merge_dep_flags(op: &mut OpDef, cfg: &OpConfig) {
    for g in super::deps::generated_flags(op) {
        match op.flags.iter_mut().find(|f| f.name == g.name) {
            Some(f) => {
                let declared = cfg
                    .get("flags")
                    .and_then(|m| m.get(g.name.as_str()))
                    .and_then(Value::as_mapping);
                if !declared.is_some_and(|m| m.contains_key("arg-skip")) {
                    f.arg_skip = true;
                }
                if f.default.is_none() {
                    f.default = g.default.clone();
                }
            }
            None => op.flags.push(g),
        }
    }
}

/// Find operation `spec` in the project's guild.yml, with Guild's messages
/// (on one line) when it is not there.
pub fn find<'a>(gf: &'a Guildfile, spec: &str) -> Result<(&'a Model, &'a OpConfig)> {
    gf.find_op(spec).ok_or_else(|| {
        let msg = match spec.split_once(':') {
            Some((m, o)) if gf.models.iter().any(|x| x.name == m) => format!(
                "operation '{o}' is not defined for model '{m}' Try 'guild operations {m}' for a list of available operations."
            ),
            Some(_) => format!(
                "cannot find operation {spec} Try 'guild operations' for a list of available operations."
            ),
            None if gf.default_model().is_some_and(|m| m.name.is_empty()) => format!(
                "operation '{spec}' is not defined for this project Try 'guild operations' for a list of available operations."
            ),
            None => format!(
                "cannot find operation {spec} You may need to include a model in the form MODEL:OPERATION. Try 'guild operations' for a list of available operations."
            ),
        };
        Error::user(msg)
    })
}
