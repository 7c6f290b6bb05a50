use crate::{Failure, Format};
use clap::Args;
use std::path::PathBuf;
/// Diagnose build outputs
#[derive(Args)]
pub struct DoctorArgs {
    paths: Vec<PathBuf>,
    #[arg(long)]
    format: Option<Format>,
}
pub fn doctor(_a: DoctorArgs) -> Result<u8, Failure> {
    let _ = (_a.paths, _a.format);
    Ok(0)
}
