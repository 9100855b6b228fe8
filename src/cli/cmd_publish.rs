//! `guild publish`: runs as a browsable directory of Markdown and CSV
//! (Guild 0.9's options, files, templates and messages).

use super::{Ctx, FilterArgs};
use crate::api::publish::{self, CopyFiles, PublishRequest};
use crate::render;
use clap::Args;
use guild_format::error::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    long_about = "Publish one or more runs.\n\nBy default, runs are published to the 'published-runs' subdirectory. To publish somewhere else, use --dest.\n\nA published run is a subdirectory of DEST named after the run ID. It contains:\n\n  run.yml         run information (ID, operation, status, times, label, command)\n  flags.yml       run flags\n  output.txt      run output (stdout and stderr)\n  scalars.csv     summary of the run's scalars\n  sourcecode.csv  the run's source code files\n  runfiles.csv    the other files of the run\n  sourcecode/     the source code as it was when the run started\n  runfiles/       run files (only with --files or --all-files)\n  README.md       the run, rendered by the template\n\nDEST/README.md lists the published runs, newest first.\n\nA template is a directory of Jinja templates: each file not starting with `_` is rendered into the run's directory. `default` is the built-in one; a template can extend it (`{% extends \"publish-default/README.md\" %}`). Without --template, an operation's `publish: template:` in guild.yml is used.",
    after_help = "Examples:\n  guild publish -y                         all runs, into published-runs/\n  guild publish 1 --all-files -d site -y   the latest run with its files, into site/\n  guild publish --refresh-index -d site    rewrite site/README.md only"
)]
pub(crate) struct PublishArgs {
    /// Runs to publish (default: all matching the filters)
    #[arg(value_name = "RUN")]
    pub(crate) runs: Vec<String>,
    /// Destination to publish runs
    #[arg(short = 'd', long, value_name = "DIR")]
    pub(crate) dest: Option<PathBuf>,
    /// Run template used to publish runs
    #[arg(short = 't', long, value_name = "VAL")]
    pub(crate) template: Option<String>,
    /// Index template used to publish runs
    #[arg(short = 'i', long, value_name = "VAL")]
    pub(crate) index_template: Option<String>,
    /// Copy run files as configured by the operation (`publish: files:`); by default, run files are not copied
    #[arg(short = 'f', long)]
    pub(crate) files: bool,
    /// Copy all run files (except source code and links)
    #[arg(short = 'a', long)]
    pub(crate) all_files: bool,
    /// Include links when publishing files. Implies --files
    #[arg(short = 'L', long)]
    pub(crate) include_links: bool,
    /// Do not calculate MD5 digests for run files
    #[arg(long)]
    pub(crate) no_md5: bool,
    /// Include batch runs
    #[arg(long)]
    pub(crate) include_batch: bool,
    /// Refresh runs index without publishing anything
    #[arg(short = 'r', long)]
    pub(crate) refresh_index: bool,
    /// Do not prompt before publishing
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) filters: FilterArgs,
}

pub(crate) fn publish(ctx: &Ctx, a: PublishArgs) -> Result<i32> {
    use std::io::Write;
    if a.files && a.all_files {
        return Err(Error::user("--files and --all-files cannot both be used"));
    }
    let shown = a
        .dest
        .clone()
        .unwrap_or_else(|| PathBuf::from(publish::DEFAULT_DEST));
    let base = super::process_cwd(ctx);
    let dest = base.join(&shown);
    if a.refresh_index {
        println!("Refreshing runs index in {}", shown.display());
        publish::refresh_index(ctx, &dest, a.index_template.as_deref())?;
        println!(
            "Published runs using {}",
            guild_format::text::format_bytes(publish::dir_size(&dest))
        );
        return Ok(0);
    }
    let req = PublishRequest {
        sel: super::cmd_runs::selection(&a.runs, &a.filters, false),
        dest: dest.clone(),
        template: a.template,
        template_base: base,
        copy: if a.all_files {
            CopyFiles::All
        } else if a.files || a.include_links {
            CopyFiles::Configured
        } else {
            CopyFiles::No
        },
        include_links: a.include_links,
        md5: !a.no_md5,
        include_batch: a.include_batch,
    };
    let runs = publish::runs(ctx, &req)?;
    if runs.is_empty() {
        eprintln!("No runs to publish.");
        return Ok(0);
    }
    if !a.yes {
        eprint!(
            "You are about to publish the following run(s) to {}:\n{}",
            shown.display(),
            render::id_preview(&runs, &ctx.cwd)
        );
        if !super::confirm("Continue?", true)? {
            return Err(Error::Declined(String::new()));
        }
    }
    for run in &runs {
        print!("Publishing [{}] {}... ", run.run.short_id(), run.op_desc());
        let _ = std::io::stdout().flush();
        let size = publish::publish_run(ctx, &req, run).inspect_err(|_| println!())?;
        println!("using {}", guild_format::text::format_bytes(size));
    }
    println!("Refreshing runs index");
    publish::refresh_index(ctx, &dest, a.index_template.as_deref())?;
    println!(
        "Published runs using {}",
        guild_format::text::format_bytes(publish::dir_size(&dest))
    );
    Ok(0)
}
