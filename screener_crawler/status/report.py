"""The status report (``checks.build_report``) as text for people or JSON for machines.

The text is a table of one line per dataset, then, per dataset, what needs a word: units
staged but not published, failures by reason, files in trouble, one line of coverage on disk
and one of the field coverage in the last crawl's rows; for ``financial_ratios``, every ratio's
coverage, lowest first, those null on more than 95 % of rows flagged with the catalogue's note.
Lists are cut at ``limit`` items; ``--json`` holds everything, coverage of every column too.
"""

import json
from datetime import datetime, timedelta

TABLE_COLUMNS = ("dataset", "files", "size", "rows", "through", "updates from", "tickers", "staged", "done",
                 "failed", "pending", "done%", "schema", "status")
COVERAGE_LOWEST = 3
"""Partly filled columns named on a dataset's coverage line: the least filled ones."""
FAILURE_EXAMPLES = 3
"""Tickers named per failure reason."""
LINE_WIDTH = 100
"""Ratios and their coverage are packed into lines this wide."""


def format_json(report: dict) -> str:
    return json.dumps(report, indent=1)


def format_text(report: dict, limit: int) -> str:
    """The report of a data root in the current layout (``report["v1_layout"]`` false)."""
    lines = [f"Data root: {report['data_root']}", _ledger_line(report), _last_crawl_line(report["last_crawl"])]
    unlisted = _unlisted_line(report["last_crawl"])
    if unlisted:
        lines.append(unlisted)
    base = report["completion_base"]
    lines.append(f"Completion is measured against {base['tickers']:,} tickers "
                 f"({'the universe table' if base['source'] == 'universe' else 'every ticker the ledger mentions'}).")
    if report["datasets"]:
        lines += ["", *format_table(report)]
    else:
        lines += ["", "Nothing downloaded yet: no dataset folder under the data root."]
    crawl_coverage = (report["last_crawl"] or {}).get("field_coverage") or {}
    for name, dataset in report["datasets"].items():
        detail = dataset_detail(dataset, limit, crawl_coverage.get(name))
        if detail:
            lines += ["", name, *detail]
    notes = []
    if report["crawl_running"]:
        notes.append("a crawl is writing to this data root, or the last one did not stop cleanly")
    if report["other_folders"]:
        notes.append(f"folders that are not datasets: {', '.join(report['other_folders'])}")
    if report["ledger_only_datasets"]:
        notes.append(f"ledger entries for undeclared datasets: {', '.join(report['ledger_only_datasets'])}")
    if notes:
        lines += ["", *(f"Note: {note}" for note in notes)]
    lines += ["", f"Checked {report['files_checked']['footers_read']:,} partition file(s) "
                  f"in {report['elapsed_seconds']:.1f}s."]
    if report["ok"]:
        lines.append("OK: every dataset is consistent.")
    else:
        lines += ["BROKEN:", *(f"  {problem}" for problem in report["problems"])]
    return "\n".join(lines)


def _ledger_line(report: dict) -> str:
    ledger, path = report["ledger"], report["progress_file"]
    if ledger["error"]:
        return f"Ledger:    {path} is UNREADABLE ({ledger['error']})"
    if not ledger["found"]:
        return f"Ledger:    none at {path}"
    of_total = f" of {ledger['total_tickers']:,}" if ledger["total_tickers"] is not None else ""
    return (f"Ledger:    {path} (last updated {ledger['last_updated'] or '-'}; "
            f"{ledger['completed']:,}{of_total} tickers complete, {ledger['failed']:,} failed)")


def _last_crawl_line(crawl: dict | None) -> str:
    if crawl is None:
        return "Last crawl: no stats file beside the ledger"
    if crawl["error"]:
        return f"Last crawl: {crawl['stats_file']} is UNREADABLE ({crawl['error']})"
    elapsed = timedelta(seconds=round(crawl["elapsed_seconds"] or 0))
    finished = datetime.fromisoformat(crawl["finish_time"]).isoformat(timespec="seconds") if crawl["finish_time"] else "-"
    return (f"Last crawl: {crawl['spider']}, {crawl['finish_reason']} at {finished} after "
            f"{elapsed}, {crawl['requests']:,} requests; every stat in {crawl['stats_file']}")


def _unlisted_line(crawl: dict | None) -> str | None:
    if not crawl or crawl["error"] or not crawl.get("tickers_not_in_universe"):
        return None
    sample = crawl["tickers_not_in_universe_sample"]
    more = ", ..." if crawl["tickers_not_in_universe"] > len(sample) else ""
    return (f"            {crawl['tickers_not_in_universe']:,} tickers had grouped daily bars but are not in the "
            f"universe, so their bars are not in daily_prices: {', '.join(sample)}{more}")


def format_table(report: dict) -> list[str]:
    rows = [TABLE_COLUMNS]
    for name, dataset in report["datasets"].items():
        completion = dataset["completion"] or {}
        rows.append((name, _number(dataset["files"]), _size(dataset["bytes"]), _number(dataset["rows"]),
                     dataset["through"] or "-", dataset["updates_from"] or "-", _number(dataset["tickers"]),
                     _staged_cell(dataset["staged"]),
                     _number(completion.get("done")), _number(completion.get("failed")),
                     _number(completion.get("pending")), _percent(completion.get("done_pct")),
                     f"{len(dataset['schema_mismatches'])} bad" if dataset["schema_mismatches"] else "ok",
                     "BROKEN" if dataset["broken"] else "ok"))
    widths = [max(len(row[index]) for row in rows) for index in range(len(TABLE_COLUMNS))]
    lines = ["  ".join([row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:]))])
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return lines


def dataset_detail(dataset: dict, limit: int, crawl_coverage: dict | None = None) -> list[str]:
    """The lines under a dataset's name: whatever is not all right, then its coverage on disk,
    in the last crawl's rows (``crawl_coverage``), and per ratio."""
    lines = []
    staged = dataset["staged"]
    if staged["files"]:
        lines.append(f"  staged, not yet published: {_staged_files(staged)}; "
                     "the next crawl publishes them first")
    if dataset["failures_by_reason"]:
        lines.append(f"  failed units by reason ({len(dataset['failed_tickers']):,}):")
        examples = {}
        for ticker, reason in dataset["failed_tickers"].items():
            examples.setdefault(reason, []).append(ticker)
        lines += _listed([f"{reason}: {count:,} ({_examples(examples[reason])})"
                          for reason, count in dataset["failures_by_reason"].items()], limit)
    sections = (
        ("files whose schema is not the declared one", [f"{item['file']}: {item['problem']}"
                                                        for item in dataset["schema_mismatches"]]),
        ("files written before columns were added (read as null; the next publish of their partition "
         "rewrites them)", [f"{item['file']}: lacks {', '.join(item['columns_added_since'])}"
                            for item in dataset["older_files"]]),
        ("unreadable files", [f"{item['file']}: {item['error']}" for item in dataset["unreadable_files"]]),
        ("unreadable staged files", [f"{item['file']}: {item['error']}"
                                     for item in staged["unreadable_files"]]),
        ("files outside the layout (readers of the folder read them too)", dataset["stray_files"]),
        ("done in the ledger but without rows on disk", dataset["done_but_missing"]),
    )
    for title, items in sections:
        if items:
            lines.append(f"  {title} ({len(items):,}):")
            lines += _listed(items, limit)
    if dataset["rows"]:
        lines.append(coverage_line(dataset["coverage"]))
    if crawl_coverage:
        lines.append(coverage_line(crawl_coverage, "in the last crawl's rows"))
    if dataset["rows"] and dataset.get("ratio_coverage"):
        lines += ratio_coverage_lines(dataset["ratio_coverage"], dataset["rows"])
    return lines


def coverage_line(coverage: dict, of: str = "(non-null)") -> str:
    """One line: how many columns are full, empty and partly filled (naming the least filled)."""
    known = {column: value for column, value in coverage.items() if value is not None}
    full = sum(1 for value in known.values() if value == 100)
    empty = sum(1 for value in known.values() if value == 0)
    partial = sorted((value, column) for column, value in known.items() if 0 < value < 100)
    line = f"  coverage {of}: {full} of {len(coverage)} columns full, {empty} empty, {len(partial)} partly filled"
    if partial:
        line += f" (lowest: {', '.join(f'{column} {value:.1f}%' for value, column in partial[:COVERAGE_LOWEST])})"
    if len(known) < len(coverage):
        line += f"; {len(coverage) - len(known)} without null counts"
    return line


def ratio_coverage_lines(ratios: list[dict], rows: int) -> list[str]:
    """Every ratio's coverage, lowest first: those null on more than 95 % of rows one a line
    with the catalogue's note, then those partly filled packed into lines of ``LINE_WIDTH``,
    then how many have a value on every row."""
    sparse = [ratio for ratio in ratios if ratio["sparse"]]
    full = [ratio for ratio in ratios if ratio["non_null_pct"] == 100]
    lines = [f"  coverage per ratio (share of the {rows:,} rows with a value, lowest first; "
             f"{len(sparse)} of {len(ratios)} null on more than 95 % of rows, marked !):"]
    width = max((len(ratio["ratio"]) for ratio in sparse), default=0)
    lines += [f"  ! {ratio['ratio']:<{width}} {_percent(ratio['non_null_pct']):>6}  "
              f"{ratio['note'] or 'no note in the ratio catalogue says why'}" for ratio in sparse]
    line = ""
    for ratio in ratios:
        if ratio["sparse"] or ratio in full:
            continue
        cell = f"{ratio['ratio']} {_percent(ratio['non_null_pct'])}"
        if line and len(line) + len(cell) + 2 > LINE_WIDTH:
            lines.append(line + ",")
            line = ""
        line = f"{line}, {cell}" if line else f"    {cell}"
    lines += [line] if line else []
    if full:
        lines.append(f"    and {len(full)} ratio(s) 100.0%: a value on every row (--json names them)")
    return lines


def _listed(items: list[str], limit: int) -> list[str]:
    lines = [f"    {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"    ... and {len(items) - limit:,} more (--json lists all)")
    return lines


def _examples(tickers: list[str]) -> str:
    shown = ", ".join(tickers[:FAILURE_EXAMPLES])
    return shown + (f", +{len(tickers) - FAILURE_EXAMPLES:,} more" if len(tickers) > FAILURE_EXAMPLES else "")


def _staged_cell(staged: dict) -> str:
    if not staged["files"]:
        return "-"
    return "all" if staged["whole_table"] else f"{staged['tickers']:,}"


def _staged_files(staged: dict) -> str:
    """How many files are staged and what they do: replace tickers or the whole table, or
    upsert rows by natural key (``2 file(s) replacing 3 ticker(s)``)."""
    upserts = staged["upsert_files"]
    replacing = ("replacing the whole table" if staged["whole_table"]
                 else f"replacing {len(staged['replaced_tickers']):,} ticker(s)")
    upserting = f"upserting rows of {len(staged['upserted_tickers']):,} ticker(s) by natural key"
    if not upserts:
        return f"{staged['files']:,} file(s) {replacing}"
    if upserts == staged["files"]:
        return f"{upserts:,} file(s) {upserting}"
    return f"{staged['files']:,} file(s): {staged['files'] - upserts:,} {replacing}, {upserts:,} {upserting}"


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1024
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}"
