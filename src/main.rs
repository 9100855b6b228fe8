// Listing thousands of runs is mostly small allocations; mimalloc makes
// them cheaper than the system allocator. Built without its own
// transparent huge pages, which would double a small process's memory.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    fit_the_address_space_cap();
    guild::exit(guild::main(std::env::args_os().collect()))
}

/// Under an address-space cap (`ulimit -v`, common on shared clusters),
/// mimalloc's first reservation (1 GiB) fails and its fallback keeps
/// freed memory mapped, so a long stream of MiB-sized buffers (`logs` of a
/// huge line) ends in an abort far below the cap. Start again with a
/// reservation that fits: a sixteenth of the cap, 4 to 256 MiB. Without a
/// cap (the usual case) this is one getrlimit call.
fn fit_the_address_space_cap() {
    use std::os::unix::process::CommandExt;
    const VAR: &str = "MIMALLOC_ARENA_RESERVE";
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
        || std::env::var_os(VAR).is_some()
    {
        return;
    }
    let mib = ((lim.rlim_cur / 16) >> 20).clamp(4, 256);
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    // exec returns only when it fails: then go on as we are.
    let _ = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(args)
        .env(VAR, format!("{mib}MiB"))
        .exec();
}
