// Listing thousands of runs is mostly small allocations; mimalloc makes
// them about twice as cheap as the system allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(guild::main(std::env::args_os().collect()));
}
