// Listing thousands of runs is mostly small allocations; mimalloc makes
// them cheaper than the system allocator. Built without its own
// transparent huge pages, which would double a small process's memory.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = guild::main(std::env::args_os().collect());
    // Output is flushed, then the process ends without the allocator's
    // exit-time work (it hands every freed page back to the kernel, one
    // madvise each: about 2 ms after listing 10,000 runs, for nothing).
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` only ends the process. Nothing is left to run at
    // exit: Rust's buffered output was flushed above and no C stdio or
    // atexit work of ours is pending.
    unsafe { libc::_exit(code) }
}
