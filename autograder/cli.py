"""The ``autograder`` command: one click group, a verb per job of students, TAs and instructors.

Every verb prints a short human summary; problems the user can fix exit non-zero with a one-line message
(an :class:`AutograderError`), never a traceback.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console

from autograder.errors import AutograderError
from autograder.layout import CourseLayout
from autograder.spec import AssignmentSpec, load_spec

console = Console(highlight=False)


def _fail_cleanly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an AutograderError into ``error: <message>`` and exit status 2."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AutograderError as exc:
            for line in str(exc).splitlines() or [""]:  # several problems (SpecProblems): one line each
                click.echo(f"error: {line}", err=True)
            sys.exit(2)
        except ModuleNotFoundError as exc:  # the student wheel leaves the staff tools out
            if not (exc.name or "").startswith("autograder."):
                raise
            click.echo(f"error: `autograder {func.__name__}` is a course-staff command and is not part of the student "
                       "package; students use `autograder check`", err=True)
            sys.exit(2)
    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def _spec(slug: str) -> tuple[CourseLayout, AssignmentSpec]:
    layout = CourseLayout.discover()
    return layout, load_spec(layout, slug)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autograder")
def main() -> None:
    """Grade, verify, package and release the course's assignments."""


@main.command()
@click.argument("slug")
@_fail_cleanly
def validate(slug: str) -> None:
    """Check assignments/SLUG/assignment.toml and the files it names."""
    _, spec = _spec(slug)
    folders = ", ".join(f"{f.name} ({f.visibility})" for f in spec.test_folders)
    console.print(f"[green]ok[/] {spec.spec_path}: {spec.title}; submits {', '.join(spec.submission.files)}; "
                  f"tests {folders}; timeout {spec.limits.test_timeout_s:g} s per test, deadline {spec.limits.deadline_s:g} s")


@main.command()
@click.argument("slug")
@click.option("--title", default=None, help="The assignment's title (default: a placeholder to edit).")
@_fail_cleanly
def new(slug: str, title: str | None) -> None:
    """Create a complete, working assignment SLUG to edit: spec, handout, reference, tests, starter, one perf
    threshold. It passes `validate` and `verify` as it is; docs/new-assignment.md is the checklist from there."""
    from autograder.scaffold import create_assignment

    layout = CourseLayout.discover()
    written = create_assignment(layout, slug, title)
    for path in written:
        console.print(f"wrote {path.relative_to(layout.root)}")
    console.print(f"[green]created[/] {slug}; next: `autograder verify {slug}`, then follow docs/new-assignment.md")


@main.command()
@click.argument("slug")
@_fail_cleanly
def starter(slug: str) -> None:
    """Regenerate starter/SLUG from the solution blocks in reference/SLUG."""
    from autograder.starter import write_starter

    _, spec = _spec(slug)
    written = write_starter(spec.reference_dir, spec.starter_dir, slug=slug)
    console.print(f"wrote {len(written)} file(s) to {spec.starter_dir}")


def _write_json(results: dict[str, Any], path: Path | None) -> None:
    if path is not None:
        from autograder.results import write_results

        write_results(results, path)
        console.print(f"results written to {path}")


@main.command()
@click.argument("slug")
@click.option("--submission", "submission", type=click.Path(path_type=Path, exists=True, file_okay=False),
              required=True, help="Folder with the student's files.")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write results.json here.")
@click.option("--seed", type=int, default=None, help="Run seed (fresh each run when omitted; recorded in results).")
@click.option("--public-only", is_flag=True, help="Run only the public tests.")
@click.option("--details", is_flag=True, help="Print each failing test's full output.")
@_fail_cleanly
def grade(slug: str, submission: Path, json_path: Path | None, seed: int | None, public_only: bool, details: bool) -> None:
    """Grade one submission folder as Gradescope would, and show the result."""
    from autograder.grading import grade as run_grade
    from autograder.report import print_results

    _, spec = _spec(slug)
    with console.status(f"grading {submission} …"):
        results = run_grade(spec, submission, folders=("public",) if public_only else None, seed=seed)
    print_results(console, results, f"{slug} ← {submission}", details=details)
    _write_json(results, json_path)


@main.command()
@click.argument("slug")
@click.option("--seed", type=int, default=None, help="Run seed for both runs.")
@_fail_cleanly
def verify(slug: str, seed: int | None) -> None:
    """Check that the reference earns every point, the starter none, and both list the same tests."""
    from autograder.grading import grade as run_grade
    from autograder.report import print_results, totals
    from autograder.verification import verify as run_verify

    _, spec = _spec(slug)

    def grade_one(spec: AssignmentSpec, folder: Path) -> dict[str, Any]:
        with console.status(f"grading {folder} …"):
            return run_grade(spec, folder, seed=seed)

    outcome = run_verify(spec, grade_one, on_run=lambda label, results: print_results(console, results, f"{slug} {label}"))
    for problem in outcome.problems:
        console.print(f"[red]FAIL[/] {problem}", markup=True, highlight=False)
    if not outcome.ok:
        sys.exit(1)
    score, out_of = totals(outcome.runs["reference"])
    listed = len(outcome.runs["reference"]["tests"])
    console.print(f"[green]verified[/] {slug}: reference {score:g}/{out_of:g}, starter 0, {listed} tests listed by both")


@main.command()
@click.argument("slug")
@click.option("--runs", type=int, default=30, show_default=True, help="Reference-vs-reference checks per threshold.")
@_fail_cleanly
def calibrate(slug: str, runs: int) -> None:
    """Measure the reference against itself and propose time thresholds that a correct solution passes; record
    the reference's timings for students' local preview (tests/perf_preview.json)."""
    from rich.progress import Progress
    from rich.table import Table

    from autograder.perf.calibrate import calibrate as run_calibration, quantile, write_record

    _, spec = _spec(slug)
    if not any(d.metric == "time" for d in spec.perf):
        raise AutograderError(f"{spec.spec_path}: no [perf.*] table with metric = \"time\"; nothing to calibrate")
    with Progress(console=console) as progress:
        tasks: dict[str, Any] = {}

        def advance(name: str, done: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=runs)
            progress.update(tasks[name], completed=done)

        calibrations = run_calibration(spec, runs, advance)
    table = Table(title=f"{slug}: reference vs itself, {runs} checks per threshold", title_justify="left")
    for column in ("threshold", "ratio min", "median", "p95", "p99.5", "max", "current full", "false fails",
                   "proposed full / zero", "s/check"):
        table.add_column(column, justify="right")
    for c in calibrations:
        table.add_row(c.name, f"{min(c.ratios):.3f}", f"{quantile(c.ratios, .5):.3f}", f"{quantile(c.ratios, .95):.3f}",
                      f"{quantile(c.ratios, .995):.3f}", f"{max(c.ratios):.3f}", f"{c.full:g}",
                      f"{c.false_fail_rate:.1%}", f"{c.proposed_full:g} / {c.proposed_zero:g}",
                      f"{sorted(c.seconds)[len(c.seconds) // 2]:.1f}")
    console.print(table)
    console.print(f"record written to {write_record(spec, calibrations)} (proposal = 99.5th percentile + 0.05)")
    from autograder.loading import PackageView
    from autograder.perf.preview import record
    from autograder.perf.sides import LocalSide

    assert spec.reference_dir is not None
    reference = LocalSide(PackageView(spec.reference_dir, label="reference", namespace="_autograder_reference"),
                          "reference", spec.assignment_dir / "tests")
    console.print(f"students' local preview record written to {record(spec, reference)} (timings only, shipped in starter.zip)")


@main.command()
@click.argument("slug")
@click.option("-j", "--jobs", type=int, default=2, show_default=True, help="Mutants graded at once.")
@click.option("--module", default=None, help="Submitted module to mutate (default: every submitted .py file).")
@click.option("--limit", type=int, default=None, help="Grade only the first N mutants (a quick look).")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the full report (every mutant, its diff and the tests that killed it) here.")
@click.option("--show", type=int, default=20, show_default=True, help="Surviving mutants to print as diffs.")
@_fail_cleanly
def mutants(slug: str, jobs: int, module: str | None, limit: int | None, json_path: Path | None, show: int) -> None:
    """How strong are the tests? Mutate the reference's solution blocks (cosmic-ray's operators) and grade each
    mutant with the assignment's correctness tests: the kill rate, the survivors as diffs, which test killed what."""
    from rich.progress import Progress

    from autograder.mutation.run import SURVIVED, UNCOVERED, run_mutants

    _, spec = _spec(slug)
    modules = [module] if module else [Path(n).stem for n in spec.submission.files if n.endswith(".py")]
    reports = []
    for name in modules:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"mutants of {name}.py", total=None)
            report = run_mutants(spec, name, jobs=jobs, limit=limit,
                                 progress=lambda done, total: progress.update(task, completed=done, total=total))
        reports.append(report)
        survivors = [r for r in report.results if r.status in (SURVIVED, UNCOVERED)]
        for result in survivors[:show]:
            console.rule(f"survived: mutant {result.mutant.number} ({result.mutant.operator}, line {result.mutant.line})"
                         + (" — no test reaches this line" if result.status == UNCOVERED else ""), style="yellow")
            console.print(result.mutant.diff(report.original, f"{name}.py"), markup=False, highlight=False)
        if report.baseline_failures:
            console.print(f"[red]the reference fails {len(report.baseline_failures)} test(s); they were left out:[/] "
                          f"{', '.join(report.baseline_failures)}")
        console.print("tests that killed the most mutants: " + ", ".join(
            f"{test.rpartition('::')[2]} ({count})" for test, count in list(report.kills_by_test().items())[:8]))
        console.print(f"[bold]{report.module}[/]: {len(report.results)} mutants, kill rate {report.kill_rate:.1%} "
                      f"({len(survivors)} survived), {report.seconds:g} s")
    if json_path is not None:
        json_path.write_text(json.dumps([{
            "module": r.module, "kill_rate": r.kill_rate, "seconds": r.seconds, "kills_by_test": r.kills_by_test(),
            "mutants": [{"number": m.mutant.number, "operator": m.mutant.operator, "line": m.mutant.line,
                         "status": m.status, "killed_by": m.killed_by, "seconds": m.seconds,
                         "diff": m.mutant.diff(r.original, r.module)} for m in r.results]}
            for r in reports], indent=2), encoding="utf-8")
        console.print(f"report written to {json_path}")


def _package(slug: str, which: str, verb: str) -> None:
    from autograder import packaging

    layout, spec = _spec(slug)
    path = getattr(packaging, which)(layout, spec)
    console.print(f"{verb} {path} ({path.stat().st_size / 1024:.0f} KB)")


@main.command()
@click.argument("slug")
@_fail_cleanly
def build(slug: str) -> None:
    """Write dist/SLUG/autograder.zip for Gradescope (deterministic: same inputs, same bytes), and say which
    Gradescope settings to choose for it (the [gradescope] table of assignment.toml)."""
    _package(slug, "build_autograder_zip", "built")
    spec = _spec(slug)[1]
    gradescope = spec.gradescope
    if gradescope is None:
        console.print("[yellow]no [gradescope] table[/] in assignment.toml: Gradescope would use its default, 0.5 CPU, "
                      "0.75 GB, 10 min. Measure the reference in that container (`python -m autograder.envelope`, "
                      "docs/assignment-spec.md) and declare the setting it needs.")
        return
    console.print(f"Gradescope settings (Configure Autograder): base image Ubuntu 22.04, {gradescope.describe()}")
    if gradescope.measured_peak_mb is not None or gradescope.measured_grade_s is not None:
        peak = f"peaked at {gradescope.measured_peak_mb} MB" if gradescope.measured_peak_mb is not None else ""
        took = f"took {gradescope.measured_grade_s:g} s" if gradescope.measured_grade_s is not None else ""
        console.print(f"  the reference's grade {' and '.join(p for p in (peak, took) if p)} in that container")


@main.command()
@click.argument("slug")
@_fail_cleanly
def release(slug: str) -> None:
    """Write dist/SLUG/starter.zip for students, refusing if reference code or hidden tests would leak."""
    _package(slug, "build_starter_zip", "released")


@main.command()
@click.argument("slug", required=False)
@click.option("--submission", type=click.Path(path_type=Path, exists=True, file_okay=False), default=Path("."),
              show_default=True, help="Your project folder.")
@_fail_cleanly
def check(slug: str | None, submission: Path) -> None:
    """Run the public tests on your work and say what to fix first.

    In the folder unzipped from starter.zip just run `autograder check`; in the course repository name the
    assignment (`autograder check a1_execution_modes --submission starter/a1_execution_modes`).
    """
    from autograder.check_report import print_check
    from autograder.grading import grade as run_grade
    from autograder.spec import load_student_spec

    if (submission / "assignment.toml").is_file():
        spec = load_student_spec(submission)
    elif slug is None:
        raise AutograderError(f"{submission.resolve()}: no assignment.toml here; run `autograder check` inside the "
                              "folder unzipped from starter.zip, or name the assignment: `autograder check SLUG`")
    else:
        _, spec = _spec(slug)
    with console.status("running the public tests …"):
        results = run_grade(spec, submission, folders=("public",), reference_dir=None, local=True)
    print_check(console, results, f"{spec.slug} public tests")
    try:
        from autograder.staff.honesty import check_reminder
    except ModuleNotFoundError:  # a package without autograder/staff: no reminder, check itself still works
        return
    if reminder := check_reminder(spec.slug):
        console.print(reminder, markup=False)


@main.command("sandbox-setup")
@click.option("--slots", type=int, default=0, show_default=True,
              help="Also prepare grading slots 1..N for parallel regrades (`regrade -j N`; two accounts per slot).")
@_fail_cleanly
def sandbox_setup(slots: int) -> None:
    """As root: create the unprivileged grading account and let it reach this Python (setup.sh runs this)."""
    import os

    from autograder.isolation import sandbox

    if os.geteuid() != 0:
        console.print("not root: nothing to set up; student code will run as your own user, in its own process")
        return
    account = sandbox.grading_account()
    assert account is not None
    changed = sandbox.make_interpreter_reachable(sys.executable)
    for folder in changed:
        console.print(f"added the traverse bit (o+x) to {folder}")
    problem = sandbox.account_can_run(sys.executable, account)
    if problem:
        raise AutograderError(problem)
    console.print(f"[green]ok[/] account {account.name} (uid {account.uid}) can run {sys.executable}")
    for slot in range(1, slots + 1):
        for extra in sandbox.slot_accounts(slot) or ():
            console.print(f"[green]ok[/] slot {slot}: account {extra.name} (uid {extra.uid})")


def _protect_grader_folders(root: Path) -> None:
    """Hidden tests, the reference and the results folder: root's alone (Gradescope's own advice).

    Student code runs as another user, so it can neither read the tests nor write results.json.
    """
    import os

    if os.geteuid() != 0:
        return
    for folder in (root / "source", root / "results"):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, 0, 0)
        os.chmod(folder, 0o700)


def _add_honesty_entry(results: dict[str, Any], submission: Path) -> None:
    """The staff-only declarations entry (hidden, 0 points, never changes the score; docs/staff.md)."""
    try:
        from autograder.staff.honesty import add_to_results
    except ModuleNotFoundError:  # a grader built without autograder/staff: grading goes on without it
        return
    add_to_results(results, submission)


@main.command(hidden=True)
@click.argument("slug")
@click.option("--root", type=click.Path(path_type=Path, file_okay=False), default=Path("/autograder"), show_default=True)
def gradescope(slug: str, root: Path) -> None:
    """Entry point of run_autograder: grade ROOT/submission, write ROOT/results/results.json."""
    from autograder.results import write_results

    results_path = root / "results" / "results.json"
    try:
        _protect_grader_folders(root)
        layout = CourseLayout(root / "source")
        spec = load_spec(layout, slug)
        from autograder.grading import grade as run_grade

        results = run_grade(spec, root / "submission")
        _add_honesty_entry(results, root / "submission")
    except Exception as exc:  # the grader itself broke: still write a parseable file that says so
        results = {
            "score": 0.0, "execution_time": 0.0, "tests": [], "output_format": "md",
            "output": ("## The autograder itself failed\nThis is not a problem with your code. Please tell your TA; "
                       "your submission is saved and will be regraded."),
            "extra_data": {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-5000:]},
        }
    write_results(results, results_path)
    click.echo(json.dumps({"score": results["score"], "tests": len(results["tests"])}))


try:
    from autograder.staff import cli as _staff_cli  # noqa: E402 - the staff verbs live in their own package
except ImportError:  # a student package built without the staff tools (autograder/staff holds only honesty.py there)
    pass
else:
    main.add_command(_staff_cli.regrade)
    main.add_command(_staff_cli.merge)
    main.add_command(_staff_cli.similarity)
