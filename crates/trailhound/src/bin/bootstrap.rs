//! The Lambda entry point (`provided.al2023`): always in Lambda mode. `trailhound lambda`
//! (or any `trailhound` run with `AWS_LAMBDA_RUNTIME_API` set) does the same.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(trailhound_aws::lambda::main());
}
