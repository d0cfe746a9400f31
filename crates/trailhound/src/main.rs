#![forbid(unsafe_code)]
fn main() {
    std::process::exit(trailhound::cli::main());
}
