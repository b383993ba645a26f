use std::process::ExitCode;

fn main() -> ExitCode {
    hotline_common::startup::main(hotline_supervision::startup::run)
}
