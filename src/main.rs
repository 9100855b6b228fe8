fn main() {
    std::process::exit(guild::main(std::env::args_os().collect()));
}
