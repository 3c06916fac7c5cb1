//! `zrm key generate --out PATH`: a new repository encryption key, in a file only its owner
//! can read.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Context;
use crate::error::Result;
use crate::output::{emit, emit_json};
use crate::repo::crypt::Key;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new repository encryption key (mode 0600; never overwrites a file)
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Where to write the key, e.g. /etc/zrm/repo.key
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

pub fn run(ctx: &Context, cmd: KeyCommand) -> Result<i32> {
    match cmd {
        KeyCommand::Generate(a) => {
            let key = Key::generate()?;
            key.write_new(&a.out)?;
            if ctx.json() {
                emit_json(&serde_json::json!({ "key_id": key.id(), "path": a.out }));
            } else {
                emit(&format!(
                    "wrote a new key {} to {} (mode 0600)\n\
                     Set `encryption_key_file = \"{}\"` in [repository] before the repository's \
                     first backup. Keep a copy of this file somewhere safe and apart from the \
                     backups: without it nothing in the repository can be read, by zrm or \
                     anyone.\n",
                    key.id(),
                    a.out.display(),
                    a.out.display()
                ));
            }
            Ok(0)
        }
    }
}
