//! The command line as parsed by clap, before any check against the files it names.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  harness run                                 measure the built-in reference server
  harness run --targets my-targets.toml       measure the targets declared in a file
  harness run --tag ingest --level must       run only the MUST scenarios tagged ingest
  harness load --profile mixed                load the reference server with the mixed profile
  harness scenarios --coverage                show which spec rules the scenarios check
  harness targets --list                      show the targets a run would measure

Relative paths are read from the current directory when they exist there,
otherwise from the workspace root, so the harness works from any subdirectory.

Exit codes:
  0  every target started and passed every MUST scenario
  1  a MUST scenario failed, a load threshold failed, or a target failed to start or crashed
  2  the command line or a file it names is wrong, or the run was interrupted";

const REPORT_HELP: &str = "\
Examples:
  harness report reports/RUN/results.json                  write report.md, junit.xml, report.html
  harness report new.json --format html --out /tmp/r       write only the HTML page into /tmp/r
  harness report new.json --baseline old.json --max-throughput-drop 10% --max-p99-rise 20%

With --baseline, every figure is set against the baseline run's, target by
target, and the deltas appear in the Markdown and HTML reports. A scenario that
passed in the baseline and fails now is always a regression; throughput and
p99 latency are regressions only past the thresholds given.

Exit codes:
  0  the reports were written and no regression was found
  1  the baseline comparison found a regression
  2  the command line or a file it names is wrong";

/// Runs implementations of the Triggers API against the contract and compares them.
#[derive(Parser, Debug)]
#[command(name = "harness", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What the harness is asked to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run conformance, then the load profiles, against every target and write the results.
    #[command(after_help = AFTER_HELP)]
    Run(RunArgs),
    /// Run the load profiles, after only the scenarios of the rules they depend on.
    #[command(after_help = AFTER_HELP)]
    Load(RunArgs),
    /// Run only the conformance phase against every target.
    #[command(after_help = AFTER_HELP)]
    Conformance(RunArgs),
    /// List the scenarios or show which spec rules they cover.
    #[command(after_help = AFTER_HELP)]
    Scenarios(ScenariosArgs),
    /// Show the targets a run would measure.
    #[command(after_help = AFTER_HELP)]
    Targets(TargetsArgs),
    /// Render the reports of an earlier run again, optionally against a baseline run.
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// Print the JSON Schema of the results file.
    Schema,
}

/// The arguments of `run` and `conformance`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub targets: TargetSelection,

    #[command(flatten)]
    pub scenarios: ScenarioSelection,

    #[command(flatten)]
    pub load: LoadSelection,

    /// Seed generated values with N to repeat a run [default: random].
    #[arg(long, value_name = "N", help_heading = "Run")]
    pub seed: Option<u64>,

    /// Write results under DIR.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "reports",
        help_heading = "Run"
    )]
    pub out: PathBuf,

    /// Run up to N scenarios of a target at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4,
        value_parser = clap::value_parser!(u16).range(1..=256),
        help_heading = "Run"
    )]
    pub parallel: u16,

    /// Give up on a single request after DURATION.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        help_heading = "Run"
    )]
    pub request_timeout: humantime::Duration,

    /// Hide the progress bars.
    #[arg(long, help_heading = "Run")]
    pub no_progress: bool,
}

/// Which targets to use.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Targets")]
pub struct TargetSelection {
    /// Read targets from FILE [default: scenarios/targets.toml, else the reference server].
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// Use only the target named NAME (repeat for more).
    #[arg(long = "target", value_name = "NAME")]
    pub names: Vec<String>,
}

/// Which scenarios to run.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Scenarios")]
pub struct ScenarioSelection {
    /// Read scenarios from DIR.
    #[arg(
        long = "scenarios",
        value_name = "DIR",
        default_value = "scenarios/conformance"
    )]
    pub directory: PathBuf,

    /// Select the scenario with id ID (repeat for more).
    #[arg(long = "scenario", value_name = "ID")]
    pub ids: Vec<String>,

    /// Select the scenarios tagged TAG (repeat for more).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// Select the scenarios of level LEVEL.
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<LevelArg>,

    /// Read the rules from FILE.
    #[arg(long, value_name = "FILE", default_value = "docs/SPEC.md")]
    pub spec: PathBuf,

    /// Read the schemas that scenarios check bodies against from FILE.
    #[arg(long, value_name = "FILE", default_value = "docs/openapi.json")]
    pub openapi: PathBuf,
}

/// Which load profiles to run.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Load")]
pub struct LoadSelection {
    /// Run the load profile NAME from the profiles directory (repeat for more) [default: ci-smoke].
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,

    /// Read load profiles from DIR.
    #[arg(
        long = "profiles",
        value_name = "DIR",
        default_value = "scenarios/load"
    )]
    pub profiles_dir: PathBuf,

    /// Skip the load phase.
    #[arg(long, conflicts_with = "profiles")]
    pub no_load: bool,
}

/// A scenario level as typed on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelArg {
    /// Scenarios whose miss is a failure.
    Must,
    /// Scenarios whose miss is non-strict.
    Should,
}

/// The arguments of `scenarios`.
#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("view").required(true).args(["list", "coverage"])))]
pub struct ScenariosArgs {
    /// Print each scenario with its rules, tags and title.
    #[arg(long, help_heading = "View")]
    pub list: bool,

    /// Print which spec rules the scenarios check and which they miss.
    #[arg(long, help_heading = "View")]
    pub coverage: bool,

    #[command(flatten)]
    pub scenarios: ScenarioSelection,
}

/// The arguments of `targets`.
#[derive(Args, Debug, Clone)]
pub struct TargetsArgs {
    /// Print one line per target.
    #[arg(long, required = true, help_heading = "View")]
    pub list: bool,

    #[command(flatten)]
    pub targets: TargetSelection,
}

/// The arguments of `report`.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Render the run whose results file is FILE.
    #[arg(value_name = "FILE")]
    pub results: PathBuf,

    /// Write only FORMAT (repeat for more) [default: markdown, junit and html].
    #[arg(long = "format", value_name = "FORMAT", help_heading = "Report")]
    pub formats: Vec<crate::report::Format>,

    /// Write the reports into DIR [default: the results file's directory].
    #[arg(long, value_name = "DIR", help_heading = "Report")]
    pub out: Option<PathBuf>,

    /// Compare with the run whose results file is FILE.
    #[arg(long, value_name = "FILE", help_heading = "Baseline")]
    pub baseline: Option<PathBuf>,

    /// Fail when a load level's throughput drops by more than PERCENT.
    #[arg(
        long,
        value_name = "PERCENT",
        requires = "baseline",
        value_parser = crate::report::baseline::parse_percent,
        help_heading = "Baseline"
    )]
    pub max_throughput_drop: Option<f64>,

    /// Fail when a load level's corrected p99 latency rises by more than PERCENT.
    #[arg(
        long,
        value_name = "PERCENT",
        requires = "baseline",
        value_parser = crate::report::baseline::parse_percent,
        help_heading = "Baseline"
    )]
    pub max_p99_rise: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_collects_repeated_filters() {
        let cli = Cli::try_parse_from([
            "harness",
            "run",
            "--target",
            "a",
            "--target",
            "b",
            "--tag",
            "ingest",
            "--level",
            "must",
            "--parallel",
            "2",
        ])
        .expect("valid arguments");
        let Command::Run(args) = cli.command else {
            panic!("expected the run command, got {:?}", cli.command);
        };
        assert_eq!(args.targets.names, ["a", "b"]);
        assert_eq!(args.scenarios.tags, ["ingest"]);
        assert_eq!(args.scenarios.level, Some(LevelArg::Must));
        assert_eq!(args.parallel, 2);
    }

    #[test]
    fn scenarios_needs_exactly_one_view() {
        assert!(Cli::try_parse_from(["harness", "scenarios"]).is_err());
        assert!(Cli::try_parse_from(["harness", "scenarios", "--list", "--coverage"]).is_err());
        assert!(Cli::try_parse_from(["harness", "scenarios", "--coverage"]).is_ok());
    }
}
