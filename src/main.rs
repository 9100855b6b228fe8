// Listing thousands of runs is mostly small allocations; mimalloc makes
// them cheaper than the system allocator. Built without its own
// transparent huge pages, which would double a small process's memory.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    guild::exit(guild::main(std::env::args_os().collect()))
}
