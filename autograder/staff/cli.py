"""The staff verbs: ``regrade``, ``merge`` and ``similarity`` (registered on the main CLI in autograder/cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from autograder.errors import AutograderError

console = Console(highlight=False)


def _fail_cleanly(func):  # type: ignore[no-untyped-def]
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return func(*args, **kwargs)
        except AutograderError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
    wrapper.__name__, wrapper.__doc__ = func.__name__, func.__doc__
    return wrapper


def _spec(slug: str):  # type: ignore[no-untyped-def]
    from autograder.layout import CourseLayout
    from autograder.spec import load_spec

    return load_spec(CourseLayout.discover(), slug)


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise AutograderError(f"--shard {value}: write it as I/N, e.g. --shard 2/8 (shard 2 of 8)") from None
    if count < 1 or not 1 <= index <= count:
        raise AutograderError(f"--shard {value}: I must be between 1 and N")
    return index, count


@click.command()
@click.argument("slug")
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Output folder; rerunning with the same folder resumes where it stopped.")
@click.option("-j", "--jobs", type=int, default=1, show_default=True, help="Submissions graded at once (one slot each).")
@click.option("--shard", "shard_text", default=None, help="Grade only shard I of N (e.g. 2/8); `merge` joins shards.")
@click.option("--compare", "previous", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="An earlier regrade's --out folder: list submissions whose score changed, and which tests.")
@click.option("--force", is_flag=True, help="Regrade everything, even submissions already graded in OUT.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="cuda: on a GPU machine, runs the requires(\"cuda\") tests Gradescope left pending.")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed; each submission's seed derives from it.")
@click.option("--no-similarity", is_flag=True, help="Skip the similarity report.")
@_fail_cleanly
def regrade(slug: str, source: Path, out: Path, jobs: int, shard_text: str | None, previous: Path | None,
            force: bool, device: str, seed: int, no_similarity: bool) -> None:
    """Grade every submission in SOURCE (a Gradescope export zip/folder, or a folder of submission folders).

    Writes OUT/submissions/<id>/results.json, OUT/grades.csv, OUT/gradebook.csv, OUT/report.html and
    OUT/similarity.html. Details: docs/staff.md.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from autograder.staff.compare import compare_folders, write_changes
    from autograder.staff.outputs import write_outputs
    from autograder.staff.regrade import RegradeOptions, regrade as run_regrade

    spec = _spec(slug)
    options = RegradeOptions(jobs=jobs, shard=_parse_shard(shard_text), force=force, device=device, seed=seed)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task(f"regrading {slug}", total=None)

        def advance(last: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"regrading {slug} {last}".rstrip())

        run = run_regrade(spec, source, out, options, advance)
    written = write_outputs(spec, out, with_similarity=not no_similarity and options.shard is None)
    console.print(f"{run.total} submission(s): {len(run.graded)} graded now, {len(run.skipped)} already done, "
                  f"{len(run.failed)} could not be graded normally ({run.elapsed_s:.0f} s)")
    for name, path in written.items():
        console.print(f"  {name}: {path}")
    if previous is not None:
        changes = compare_folders(previous, out)
        write_changes(changes, out / "changes.txt")
        console.print(f"{len(changes)} submission(s) changed score since {previous}:" if changes else
                      f"no score changed since {previous}")
        for change in changes:
            console.print("  " + change.line(), markup=False)


@click.command()
@click.argument("slug")
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Merged output folder.")
@click.option("--cpu", "cpu", type=click.Path(path_type=Path, exists=True), default=None,
              help="The CPU side: the Gradescope export (zip or folder) or a CPU regrade folder; PARTS are then the "
                   "GPU regrade (its shards).")
@_fail_cleanly
def merge(slug: str, parts: tuple[Path, ...], out: Path, cpu: Path | None) -> None:
    """Join regrade shards (PARTS), and with --cpu, combine Gradescope's CPU results with a GPU regrade."""
    from autograder.staff.collect import read_output
    from autograder.staff.merge import combine_shards, cpu_side, merge_cpu_gpu, write_merged
    from autograder.staff.outputs import write_outputs

    spec = _spec(slug)
    if cpu is None:
        combine_shards(list(parts), out)
    else:
        staging = out / "gpu"
        manifest = combine_shards(list(parts), staging)
        gpu = {g.id: g for g in read_output(staging)[1]}
        records = merge_cpu_gpu(cpu_side(cpu, out / "source"), gpu)
        write_merged(records, out, manifest)
    written = write_outputs(spec, out)
    _, records = read_output(out)
    flagged = [r for r in records if r.flags]
    console.print(f"merged {len(records)} submission(s); {len(flagged)} flagged")
    for record in flagged:
        console.print(f"  {record.id}: {'; '.join(record.flags)}", markup=False)
    for name, path in written.items():
        console.print(f"  {name}: {path}")


@click.command()
@click.argument("slug")
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=Path("similarity.html"),
              show_default=True)
@click.option("--top", type=int, default=10, show_default=True, help="Pairs shown side by side.")
@_fail_cleanly
def similarity(slug: str, source: Path, out: Path, top: int) -> None:
    """Rank pairs of submissions in SOURCE by shared code (copydetect; the starter is ignored)."""
    import tempfile

    from autograder.staff import similarity as sim
    from autograder.staff.sources import load_submissions

    spec = _spec(slug)
    with tempfile.TemporaryDirectory(prefix="autograder-similarity-") as scratch:
        submissions, _ = load_submissions(source, Path(scratch))
        pairs = sim.rank_pairs({s.id: s.folder for s in submissions}, list(spec.submission.files),
                               spec.starter_dir if spec.starter_dir.is_dir() else None, top=top)
        sim.write_report(pairs, out, f"{slug}: similar submissions", top=top)
    for pair in pairs[:top]:
        console.print(f"  {pair.score:5.0%}  {pair.a} ↔ {pair.b}", markup=False)
    console.print(f"report: {out}")
