//! One function per subcommand, and the mapping from their outcome to the exit code.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use tabled::builder::Builder;
use tabled::settings::peaker::Priority;
use tabled::settings::{Style, Width};

use crate::cli::{Cli, Command, RunArgs, ScenariosArgs, TargetsArgs};
use crate::report::baseline::{Thresholds, compare};
use crate::report::terminal;
use crate::report::{Format, write_reports};
use crate::results::RunResults;
use crate::run::{EmbeddedTarget, plan_targets, run_conformance};
use crate::scenario::{Coverage, load_spec_rules, load_suite};
use crate::settings::{RunSettings, ScenarioSettings, TargetSettings, TargetsSource};
use crate::target::TargetKind;

/// Every target started and met every MUST.
pub const EXIT_PASSED: u8 = 0;
/// A MUST failed, or a target failed to start or crashed.
pub const EXIT_FAILED: u8 = 1;
/// The command line or a file it names is wrong, or the run was interrupted.
pub const EXIT_SETUP: u8 = 2;

/// Runs the parsed command; errors are printed once, with their causes.
pub async fn execute(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Run(args) => run(&args, Phases::All).await,
        Command::Conformance(args) => run(&args, Phases::Conformance).await,
        Command::Load(args) => run(&args, Phases::Load).await,
        Command::Scenarios(args) => scenarios(&args).map(|()| EXIT_PASSED),
        Command::Targets(args) => targets(&args).map(|()| EXIT_PASSED),
        Command::Report(args) => report(&args),
        Command::Schema => {
            print!("{}", crate::report::schema::results_schema());
            Ok(EXIT_PASSED)
        }
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_SETUP)
        }
    }
}

/// Which phases a run command runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phases {
    /// `run`: every conformance scenario, then the load profiles.
    All,
    /// `conformance`: the scenarios only.
    Conformance,
    /// `load`: only the scenarios of the rules the profiles depend on, so
    /// the gate has verdicts to read, then the profiles.
    Load,
}

/// `run`, `conformance` and `load`.
async fn run(args: &RunArgs, phases: Phases) -> anyhow::Result<u8> {
    let current_dir = std::env::current_dir().context("cannot read the current directory")?;
    let mut settings = RunSettings::from_args(args, &current_dir)?;
    match phases {
        Phases::All => {}
        Phases::Conformance => settings.load.profiles.clear(),
        Phases::Load => {
            if settings.load.profiles.is_empty() {
                anyhow::bail!("`harness load` with --no-load has nothing to do; name a --profile");
            }
            let suite = load_suite(&settings.scenarios.directory)?;
            let required = settings.load.required_rules();
            settings.scenarios.filter.ids = suite
                .scenarios
                .iter()
                .filter(|scenario| scenario.rules.iter().any(|rule| required.contains(rule)))
                .map(|scenario| scenario.id.clone())
                .collect();
        }
    }
    let report = run_conformance(&settings, std::env::args().collect()).await?;

    print!("{}", terminal::render(&report.results));
    println!("results: {}", report.results_path.display());
    let passed = report.results.all_must_passed() && report.results.all_load_passed();
    Ok(if passed { EXIT_PASSED } else { EXIT_FAILED })
}

/// `scenarios --list` and `scenarios --coverage`.
fn scenarios(args: &ScenariosArgs) -> anyhow::Result<()> {
    let current_dir = std::env::current_dir().context("cannot read the current directory")?;
    let settings = ScenarioSettings::from_args_here(&args.scenarios, &current_dir)?;
    let suite = load_suite(&settings.directory)?;

    if args.coverage {
        let rules = load_spec_rules(&settings.spec)?;
        print!("{}", coverage_report(&suite.coverage(&rules)));
        return Ok(());
    }
    // Two lines per scenario: ids, rules and tags line up on the first, and
    // the title, the longest part, gets a line of its own.
    let selected = suite.filter(&settings.filter);
    let id_width = selected
        .iter()
        .map(|scenario| scenario.id.len())
        .max()
        .unwrap_or(0);
    for scenario in &selected {
        println!(
            "{:id_width$}  {:6}  {}  [{}]\n    {}",
            scenario.id,
            scenario.level.to_string(),
            scenario.rules.join(","),
            scenario.tags.join(", "),
            scenario.title
        );
    }
    println!("{} scenarios", selected.len());
    Ok(())
}

/// `targets --list`: what a run would start or reach, without starting anything.
fn targets(args: &TargetsArgs) -> anyhow::Result<()> {
    let current_dir = std::env::current_dir().context("cannot read the current directory")?;
    let settings = TargetSettings::from_args_here(&args.targets, &current_dir)?;
    match &settings.source {
        TargetsSource::File(path) => println!("targets from \"{}\":", path.display()),
        TargetsSource::Embedded => println!("no targets file; the built-in reference server:"),
    }

    let mut builder = Builder::new();
    builder.push_record(["name", "kind", "dialect", "capabilities", "reached by"]);
    for planned in plan_targets(&settings, EmbeddedTarget::Describe)? {
        let spec = planned.spec;
        let reached_by = match &spec.kind {
            TargetKind::Process(process) => process.command.join(" "),
            TargetKind::Url(url) => url.base_url.clone(),
            TargetKind::Container(container) => container.image.to_string(),
        };
        builder.push_record([
            spec.name.clone(),
            spec.kind.name().to_string(),
            spec.dialect.clone().unwrap_or_else(|| "-".to_string()),
            spec.capabilities
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
            reached_by,
        ]);
    }
    print!("{}", plain_table(builder));
    Ok(())
}

/// `report`: renders an earlier run's results again, against a baseline when
/// one is given; a regression the baseline comparison finds exits with 1.
fn report(args: &crate::cli::ReportArgs) -> anyhow::Result<u8> {
    let results = RunResults::read(&args.results)?;
    let comparison = match &args.baseline {
        None => None,
        Some(path) => {
            let baseline = RunResults::read(path).context("cannot read the baseline")?;
            let thresholds = Thresholds {
                max_throughput_drop: args.max_throughput_drop,
                max_p99_rise: args.max_p99_rise,
            };
            Some(compare(&results, &baseline, thresholds))
        }
    };

    let formats = if args.formats.is_empty() {
        Format::FILES.to_vec()
    } else {
        args.formats.clone()
    };
    let directory = match &args.out {
        Some(directory) => directory.clone(),
        None => args
            .results
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    if formats.contains(&Format::Terminal) {
        print!("{}", terminal::render(&results));
    }
    for path in write_reports(&results, comparison.as_ref(), &formats, &directory)? {
        println!("wrote {}", path.display());
    }

    let regressions = comparison
        .map(|comparison| comparison.regressions())
        .unwrap_or_default();
    for line in &regressions {
        println!("regression: {line}");
    }
    Ok(if regressions.is_empty() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
}

/// One row per spec rule with the scenarios that check it, then the totals and
/// any rule id a scenario names that the spec lacks.
fn coverage_report(coverage: &Coverage) -> String {
    let mut builder = Builder::new();
    builder.push_record(["rule", "level", "scenarios"]);
    for entry in &coverage.rules {
        let scenarios = if entry.scenarios.is_empty() {
            "-".to_string()
        } else {
            entry.scenarios.join(", ")
        };
        builder.push_record([
            entry.rule.id.clone(),
            entry.rule.level.to_string(),
            scenarios,
        ]);
    }
    let table = plain_table(builder);

    let covered = coverage
        .rules
        .iter()
        .filter(|entry| !entry.scenarios.is_empty())
        .count();
    let mut out = format!(
        "{table}\n{covered} of {} rules are checked\n",
        coverage.rules.len()
    );
    for (scenario, rule) in &coverage.unknown {
        out.push_str(&format!(
            "scenario \"{scenario}\" names rule \"{rule}\", which the spec lacks\n"
        ));
    }
    out
}

/// A borderless table fitted to the report width, without trailing spaces.
///
/// The last column wraps first: it holds the long free text (a command line,
/// a list of scenario ids).
fn plain_table(builder: Builder) -> String {
    let mut table = builder.build();
    table.with(Style::blank());
    let wrap = Width::wrap(terminal::REPORT_WIDTH).keep_words(true);
    table.with(wrap.priority(Priority::right()));
    let lines = table.to_string();
    lines
        .lines()
        .map(|line| line.trim_end().to_string() + "\n")
        .collect()
}
