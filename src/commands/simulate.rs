//! `trailreplay simulate`: policies loaded, the request built, the decision printed.

use super::{config_error, print_stdout, warning, ExitCode};
use crate::cli::{SimulateArgs, SimulateFormat};
use crate::config::{self, ConfigError};
use crate::policy::Problem;
use crate::sanitize::for_terminal;
use crate::simulate::{self, Simulation};

/// Arguments → a compiled simulation and the policies' warnings.
fn simulation(a: &SimulateArgs) -> Result<(Simulation, Vec<Problem>), ConfigError> {
    let (policies, mut warnings) = config::load_policies(&a.policies)?;
    let (scps, w) = config::load_policies(&a.scps)?;
    warnings.extend(w);
    let (session, w) = config::load_policies(&a.session_policies)?;
    warnings.extend(w);
    let boundary = match &a.boundary {
        Some(b) => {
            let (p, w) = config::load_policy(b)?;
            warnings.extend(w);
            Some(p)
        }
        None => None,
    };
    let context = a
        .context
        .iter()
        .map(|c| simulate::parse_context_arg(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ConfigError::Argument)?;
    let sim = Simulation {
        action: a.action.clone(),
        resources: a.resources.clone(),
        policies,
        scps,
        boundary,
        session,
        context,
        unknown: a.unknown.clone(),
    };
    Ok((sim, warnings))
}

pub fn run(a: SimulateArgs) -> ExitCode {
    let (sim, warnings) = match simulation(&a) {
        Ok(s) => s,
        Err(e) => return config_error(e),
    };
    for w in &warnings {
        warning(&w.to_string());
    }
    if let Some(w) = simulate::action_warning(&a.action) {
        warning(&w);
    }
    let eval = sim.run();
    let out = match a.format {
        SimulateFormat::Json => simulate::to_json(&a.action, &eval).to_string() + "\n",
        SimulateFormat::Text => simulate::to_text(&a.action, &eval)
            .lines()
            .map(|l| for_terminal(l).into_owned() + "\n")
            .collect(),
    };
    print_stdout(&out)
}
