//! `trailreplay extract`: arguments → the subset written, one line printed, problems on stderr.

use super::{error, print_stdout, ExitCode};
use crate::cli::ExtractArgs;
use crate::decode::DecodeOptions;
use crate::source;
use crate::subset::{self, ExtractOptions, Scope};
use crate::timefmt;

pub fn run(a: ExtractArgs) -> ExitCode {
    if let Some(n) = a.threads {
        if let Err(e) = super::set_threads(n) {
            error(&e);
            return ExitCode::Trouble;
        }
    }
    let (since, until) = match super::window(&a.scope) {
        Ok(w) => w,
        Err(e) => return super::config_error(e),
    };
    if a.paths.iter().any(|p| subset::is_subset(p)) {
        error("an input is already a subset (it has a `manifest.json`): replay it directly");
        return ExitCode::Trouble;
    }
    let listing = source::list_pruned(&a.paths, &super::prune(&a.scope, since, until));
    let options = ExtractOptions {
        out: a.output.clone(),
        force: a.force,
        decode: DecodeOptions {
            verify: a.verify,
            // Tag changes travel with the session records: a subset replays tags in time.
            tags: true,
            ..DecodeOptions::default()
        },
        part_bytes: u64::from(a.part_size) << 20,
        scope: Scope {
            since: since.as_ref().map(timefmt::iso),
            until: until.as_ref().map(timefmt::iso),
            delivery_margin_hours: a.scope.delivery_margin,
            accounts: a.scope.accounts.clone(),
            regions: a.scope.regions.clone(),
            verify: a.verify,
        },
        inputs: a.paths.iter().map(|p| p.display().to_string()).collect(),
    };
    let bar = super::Progress::new(&listing);
    let extracted = subset::extract(&listing, &options, &|index| bar.file_done(index));
    bar.finish();
    let manifest = match extracted {
        Ok(m) => m,
        Err(e) => {
            error(&e.to_string());
            return ExitCode::Trouble;
        }
    };
    super::print_problems(&manifest.problems);
    let events: u64 = manifest.events.values().sum();
    let bytes: u64 = manifest.parts.iter().map(|p| p.bytes).sum();
    let f = &manifest.files;
    let code = print_stdout(&format!(
        "extracted {events} Session Manager record(s) from {} file(s) ({} read, {} failed, {} pruned) into {}: {} part(s), {bytes} bytes\n",
        f.found,
        f.read,
        f.failed,
        f.pruned,
        a.output.display(),
        manifest.parts.len()
    ));
    if manifest.problems.iter().any(|p| p.fatal) {
        return ExitCode::Trouble;
    }
    code
}
