//! The `wasm-bindgen` command: wasm-bindgen-cli's own entry point, built from this crate's lock.
use std::{env, process};

fn main() {
    env_logger::init();
    if let Err(e) = wasm_bindgen_cli::wasm_bindgen::run_cli_with_args(env::args_os()) {
        eprintln!("error: {e:?}");
        process::exit(1);
    }
}
