//! Commands the contract names that this version does not implement yet. They parse (so
//! `--help` lists them) and then refuse with exit 1 and a clear message.

use clap::Args;

use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct Passthrough {
    /// Arguments of the command (not built yet)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

pub fn refuse(command: &str) -> Result<i32> {
    Err(Error::not_built(
        format!("`zrm {command}`"),
        "it comes in a later version",
    ))
}
