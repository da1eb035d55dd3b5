"""FHIR NDJSON to a MEDS folder, range by range and shard by shard, on Dask or in-process.

Two steps, each a map of small tasks whose inputs and outputs are files, so a worker
holds one range or one shard at a time, never the dataset:

1. each byte range (`ramultimodal.io._ndjson_chunks`; a gzip file is one, read in parts of
   its lines) is read by `read_fhir`'s rules (`ramultimodal.io._range_reader`) and its
   events written, split by subject shard (`shard_of`), as one small parquet part per
   shard into a staging folder beside the output; it returns its distinct subjects, from
   which the driver numbers every subject (int64 ``subject_id`` by sorted string id, as
   `write_meds` numbers them) without reading the parts again;
2. each shard's parts are read in range order, the Medications that requests refer to
   resolved over every range, versions of a resource in different ranges compared
   (`ramultimodal.io._range_merge`), and the shard written as `write_meds_shard` writes it; then
   the metadata.

The driver holds only what the tasks return: counts, the Medication codes, the codes and
the subjects. The same task functions run in a loop in this process when there is no
cluster, so both give the same folder.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ramultimodal._staging import staged_folder
from ramultimodal.io._events import as_events
from ramultimodal.io._meds import (
    _write_shard_rows,
    shard_of,
    shard_rows,
    subject_positions,
    subject_table,
    write_meds_metadata,
)
from ramultimodal.io._ndjson_chunks import (
    DEFAULT_CHUNK_BYTES,
    ByteRange,
    file_ranges,
    input_files,
)
from ramultimodal.io._range_merge import line_offsets, merge_events, merge_reports
from ramultimodal.io._range_reader import read_range_parts, true_lines
from ramultimodal.io._range_versions import part_id
from ramultimodal.io._read_report import ReadReport, check_errors

if TYPE_CHECKING:  # dask is imported on first use
    from dask.distributed import Client

__all__ = ["SHARD_INPUT_BYTES", "ingest_fhir"]

logger = logging.getLogger(__name__)

#: Input bytes per shard when `n_shards` is not given: a shard task holds the events of
#: about this much NDJSON (gzip files counted at `GZIP_RATIO` times their size).
SHARD_INPUT_BYTES = 128 * 2**20
#: How much larger FHIR NDJSON is than its gzip file, to size shards (about 10x measured
#: on Synthea's Bulk Data export; a guess only sets the number of shards).
GZIP_RATIO = 8
_PARTS = ".ingest-parts"


@dataclass
class _RangeSummary:
    """What a range task gives back to the driver (its events are in the parts)."""

    medications: dict[str, str]
    report: ReadReport
    lines: int
    #: The distinct subject ids of its events (strings), for the subject table.
    subjects: np.ndarray


def ingest_fhir(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    n_shards: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    client: Client | str | None = None,
    errors: str = "raise",
    validate: bool = False,
    dataset_name: str = "ramultimodal",
    overwrite: bool = False,
    verbose: int = 0,
) -> ReadReport:
    """Read FHIR NDJSON (a folder, a file or files) into a MEDS folder, range by range.

    The events are those of `ramultimodal.io.read_fhir` on the same input, written as
    `ramultimodal.io.write_meds` writes them: each subject in the shard `shard_of` its id,
    rows sorted by subject and time, the string ids in ``metadata/subjects.parquet``.
    Plain NDJSON files are cut into ranges of about `chunk_bytes` bytes on line
    boundaries; a gzip or JSON file is one range (gzip cannot be entered in the middle).
    With a cluster, the ranges and the shards are spread over its workers, which must see
    `source` and `out` at the same paths (a shared file system).

    Parameters
    ----------
    source : path or iterable of paths
        A FHIR NDJSON file, a folder of FHIR files (read as `read_fhir` reads one), or
        a list of files.
    out : path-like
        The MEDS folder to write; written whole or not at all.
    n_shards : int, optional
        Number of shards. Default: one per `SHARD_INPUT_BYTES` of input (at least one),
        so that a shard task's memory does not grow with the data.
    chunk_bytes : int, default 64 MiB
        The size of a range: what a reading task holds (its events take about 3x that).
        A gzip file, one range, is read in parts of this many (uncompressed) bytes.
    client : Client, str or None
        A `dask.distributed.Client` or a scheduler address; None: the
        ``RAMULTIMODAL_SCHEDULER`` variable or a client made in Python, else this process
        (`ramultimodal.distributed.dask_client`).
    errors, validate
        As `read_fhir`'s. A problem names the file and its line, as `read_fhir` does;
        with ``errors="raise"`` the problem of the earliest range is raised.
    dataset_name : str, default "ramultimodal"
        ``metadata/dataset.json``'s name.
    overwrite : bool, default False
        Replace a MEDS folder that ramultimodal wrote.
    verbose : int, default 0
        Progress bars over ranges and shards when > 0.

    Returns
    -------
    ReadReport
        What was read, dropped and skipped, over all ranges (``events``: rows written).

    Raises
    ------
    FHIRReadError
        As `read_fhir`.

    Notes
    -----
    Versions of a resource (the same type and id) in different ranges are compared when
    their shard is written, by `read_fhir`'s rule; two versions of different patients
    (in different shards), or one dropped for its status (it has no events), are not.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from ramultimodal.io import read_meds
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> line = b'{"resourceType": "Patient", "id": "p%d", "gender": "female"}\\n'
    >>> _ = (folder / "Patient.ndjson").write_bytes(b"".join(line % i for i in range(9)))
    >>> report = ingest_fhir(folder, folder / "meds", n_shards=2, chunk_bytes=200)
    >>> report.events, len(read_meds(folder / "meds"))
    (9, 9)
    """
    from ramultimodal.distributed._client import dask_client, workers

    check_errors(errors)
    named, ignored = input_files(source)
    ranges = file_ranges(named, chunk_bytes)
    if n_shards is None:
        n_shards = _default_shards(ranges)
    if int(n_shards) < 1:
        raise ValueError(f"n_shards must be at least 1; got {n_shards}.")
    with (
        dask_client(client) as dask,
        staged_folder(out, "meds", overwrite=overwrite) as folder,
    ):
        where = (
            f"on the Dask cluster ({len(workers(dask))} workers)"
            if dask is not None
            else "in this process"
        )
        logger.info(
            "ingest: %d ranges of %d files into %d shards, %s",
            len(ranges),
            len({r.path for r in ranges}),
            n_shards,
            where,
        )
        parts = folder / _PARTS
        # Made here, not by the tasks: a task still running after a failure finds no folder
        # to write into once the staged output is removed, instead of making one again.
        parts.mkdir()
        summaries = _run(
            dask,
            _ingest_range,
            ranges,
            "ranges",
            verbose,
            work=[_input_bytes(byte_range) for byte_range in ranges],
            parts=str(parts),
            n_shards=n_shards,
            chunk_bytes=chunk_bytes,
            validate=validate,
            errors=errors,
        )
        # A range's problems name lines within it (errors="skip"): named in their file here.
        offsets = line_offsets(ranges, [summary.lines for summary in summaries])
        for summary, offset in zip(summaries, offsets, strict=True):
            true_lines(summary.report, offset)
        report = merge_reports(summary.report for summary in summaries)
        medications: dict[str, str] = {}
        for summary in summaries:
            medications.update(summary.medications)
        lines = sum(summary.lines for summary in summaries)
        subjects = subject_table(
            np.concatenate([np.empty(0, dtype=object), *(s.subjects for s in summaries)])
        )
        del summaries
        shards = list(range(n_shards))
        # Sorted and numbered 0..n-1 (subject_table): a subject's position is its id. One
        # index for every shard (each worker gets one copy), not one built per shard.
        source_ids = pd.Index(subjects["source_subject_id"])
        shared = _share(dask, source_ids=source_ids, medications=medications, ranges=ranges)
        written = _run(
            dask,
            _write_shard,
            shards,
            "shards",
            verbose,
            parts=str(parts),
            folder=str(folder),
            errors=errors,
            **shared,
        )
        codes: set[str] = set()
        for shard_codes, _ in written:
            codes.update(shard_codes)
        # The shards' reports hold what the merge dropped: versions, unresolved references.
        report = merge_reports([report, *(shard_report for _, shard_report in written)])
        report.events = sum(shard_report.events for _, shard_report in written)
        report.files_ignored = ignored.total()  # as read_fhir counts them
        shutil.rmtree(parts, ignore_errors=True)
        write_meds_metadata(
            folder, codes=sorted(codes), subjects=subjects, dataset_name=dataset_name
        )
    logger.info(
        # No folder named: under `convert`, `out` is still its staging name.
        "ingest: %d events of %d subjects from %d lines in %d shards",
        report.events,
        len(subjects),
        lines,
        n_shards,
    )
    return report


def _default_shards(ranges: Sequence[ByteRange]) -> int:
    """One shard per `SHARD_INPUT_BYTES` of (uncompressed) input."""
    total = sum(_input_bytes(byte_range) for byte_range in ranges)
    return max(1, math.ceil(total / SHARD_INPUT_BYTES))


def _input_bytes(byte_range: ByteRange) -> int:
    """About how much NDJSON a range holds (a gzip file counted at `GZIP_RATIO` times its
    size): the measure of its work."""
    if not byte_range.whole:
        return byte_range.end - byte_range.start
    size = os.path.getsize(byte_range.path)
    return size * GZIP_RATIO if byte_range.path.lower().endswith(".gz") else size


def _ingest_range(
    byte_range: ByteRange,
    *,
    parts: str,
    n_shards: int,
    chunk_bytes: int,
    validate: bool,
    errors: str,
) -> _RangeSummary:
    """Read one range (a gzip file part by part) and write its events as one parquet part
    per shard it touches."""
    medications: dict[str, str] = {}
    reports, lines, subjects = [], 0, []
    for read in read_range_parts(
        byte_range, validate=validate, errors=errors, part_bytes=chunk_bytes
    ):
        medications.update(read.medications)
        reports.append(read.report)
        lines += read.lines
        events, segment = read.tagged(byte_range.index), read.segment
        del read
        if not len(events):
            continue
        subjects.append(pd.unique(events["subject_id"].to_numpy(dtype=object)))
        for shard, rows in enumerate(
            shard_rows(shard_of(events["subject_id"], n_shards), n_shards)
        ):
            if not len(rows):
                continue
            folder = Path(parts) / str(shard)
            folder.mkdir(exist_ok=True)
            # Named by range and part: the shard reads its parts in reading order.
            name = f"{part_id(byte_range.index, segment):015d}.parquet"
            events.iloc[rows].to_parquet(folder / name, index=False)
    distinct = pd.unique(np.concatenate([np.empty(0, dtype=object), *subjects]))
    return _RangeSummary(medications, merge_reports(reports), lines, distinct)


def _part_files(parts: str, shard: int) -> list[Path]:
    return sorted((Path(parts) / str(shard)).glob("*.parquet"))


def _write_shard(
    shard: int,
    *,
    parts: str,
    folder: str,
    errors: str,
    source_ids: pd.Index,
    medications: dict[str, str],
    ranges: list[ByteRange],
) -> tuple[list[str], ReadReport]:
    """Write one MEDS shard from its parts; return its codes and what it skipped."""
    frames = [pd.read_parquet(path) for path in _part_files(parts, shard)]
    report = ReadReport()
    events = merge_events(frames, ranges, medications, errors=errors, report=report)
    del frames
    events = as_events(events, sort=False)
    _write_shard_rows(events, subject_positions(source_ids, events), folder, shard)
    report.events = len(events)
    return events["code"].unique().tolist(), report


def _share(client: Client | None, **values: Any) -> dict[str, Any]:
    """`values` sent once to every worker (futures), or as they are in this process."""
    if client is None:
        return values
    # In a list: scatter would spread a list's or a dict's items, each a future of its own.
    return {name: client.scatter([value], broadcast=True)[0] for name, value in values.items()}


def _run(
    client: Client | None,
    task: Callable[..., Any],
    items: Sequence[Any],
    what: str,
    verbose: int,
    work: Sequence[float] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """``[task(item, **kwargs) for item in items]``, on the cluster's workers if any.

    Results come back in the order of `items`; the first failure in that order is
    raised (the rest are cancelled), so an error is the one `read_fhir` would meet first.
    On a cluster, items are started largest `work` first, so that the small files of an
    export fill the workers' last gaps instead of one large range running alone at the end.
    """
    from tqdm.auto import tqdm

    progress = tqdm(total=len(items), disable=verbose <= 0, unit=what[:-1], desc=f"ingest {what}")
    results = []
    try:
        if client is None:
            for item in items:
                results.append(task(item, **kwargs))
                progress.update()
                _log_progress(len(results), len(items), what)
            return results
        order = range(len(items)) if work is None else np.argsort(-np.asarray(work), kind="stable")
        started = client.map(task, [items[i] for i in order], pure=False, **kwargs)
        futures = [None] * len(items)
        for i, future in zip(order, started, strict=True):
            futures[i] = future
        try:
            for future in futures:
                results.append(future.result())
                progress.update()
                _log_progress(len(results), len(items), what)
        except BaseException:
            client.cancel(futures)
            raise
        return results
    finally:
        progress.close()


def _log_progress(done: int, total: int, what: str) -> None:
    """A logging line every tenth of the way (for logs, where no bar is shown)."""
    step = max(1, total // 10)
    if done % step == 0 or done == total:
        logger.info("ingest: %d of %d %s done", done, total, what)
