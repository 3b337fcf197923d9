"""Benchmark result rows, the table printed to stdout and the JSON file.

A ``Row`` is one measurement of one workload step on one target. Rows of
the same (workload, metric) compare with each other: the ratio columns
divide a row's value by the disk row's and the passthrough row's value of
the same step in the same run, and (``x objfs``, for the cluster rows) by
the embedded objfs row's of the same step and ``sse`` (else its ``AES256``
row). Ratios exist only for rates (higher is better); sizes (space growth)
are shown without ratios.

Adding a row kind (another ``sse`` variant, another option set) needs no
change here: ``target`` and ``sse`` are free-form columns.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

JSON_FORMAT = 1


@dataclass(slots=True, frozen=True)
class Row:
    workload: str  # "seq", "small", "bigdir", "overwrite"
    metric: str  # the step, e.g. "write 1024 MiB"
    target: str  # "disk", "passthrough", "objfs"
    sse: str = "-"  # "-" where encryption does not apply, else "AES256" / "none"
    value: float | None = None
    unit: str = ""  # "MB/s", "ops/s", "MiB"
    seconds: float | None = None
    rate: bool = True  # higher is better; ratios apply
    peak_rss_kib: int | None = None
    note: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def ratios(rows: list[Row]) -> list[tuple[float | None, float | None]]:
    """(x disk, x passthrough) per row, None where not comparable."""
    base: dict[tuple[str, str, str], float] = {}
    for r in rows:
        if r.rate and r.error is None and r.value and r.target in ("disk", "passthrough"):
            base[(r.workload, r.metric, r.target)] = r.value
    out = []
    for r in rows:
        if not r.rate or r.error is not None or r.value is None:
            out.append((None, None))
            continue
        d = base.get((r.workload, r.metric, "disk"))
        p = base.get((r.workload, r.metric, "passthrough"))
        out.append((r.value / d if d else None, r.value / p if p else None))
    return out


# Targets the ``x objfs`` column leaves out: objfs itself and what it is compared with.
EMBEDDED = ("disk", "passthrough", "objfs", "http")


def objfs_ratios(rows: list[Row]) -> list[float | None]:
    """x embedded objfs per row of the other targets (cluster, JuiceFS), else None."""
    base: dict[tuple[str, str, str], float] = {}
    for r in rows:
        if r.rate and r.error is None and r.value and r.target == "objfs":
            base.setdefault((r.workload, r.metric, r.sse), r.value)
    out: list[float | None] = []
    for r in rows:
        ref = base.get((r.workload, r.metric, r.sse)) or base.get((r.workload, r.metric, "AES256"))
        ok = r.rate and r.error is None and r.value is not None and r.target not in EMBEDDED
        out.append(r.value / ref if ok and ref and r.value is not None else None)
    return out


def _fmt_value(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_table(rows: list[Row]) -> str:
    headers = [
        "workload",
        "step",
        "target",
        "sse",
        "result",
        "unit",
        "time s",
        "x disk",
        "x pthru",
        "x objfs",
        "RSS MiB",
        "notes",
    ]
    lines = []
    for r, (xd, xp), xo in zip(rows, ratios(rows), objfs_ratios(rows), strict=True):
        lines.append(
            [
                r.workload,
                r.metric,
                r.target,
                r.sse,
                "FAILED" if r.error else _fmt_value(r.value),
                r.unit,
                "-" if r.seconds is None else f"{r.seconds:.2f}",
                "-" if xd is None else f"{xd:.2f}",
                "-" if xp is None else f"{xp:.2f}",
                "-" if xo is None else f"{xo:.2f}",
                "-" if r.peak_rss_kib is None else f"{r.peak_rss_kib / 1024:.0f}",
                r.error or r.note,
            ]
        )
    widths = [max([len(h), *(len(line[i]) for line in lines)]) for i, h in enumerate(headers)]
    numeric = {4, 6, 7, 8, 9, 10}

    def render(cells: list[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1:
                parts.append(cell)
            elif i in numeric:
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out = [render(headers), render(["-" * w for w in widths[:-1]] + ["-----"])]
    out.extend(render(line) for line in lines)
    return "\n".join(out)


def host_info(workdir: Path) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cpus": len(os.sched_getaffinity(0)),
        "workdir": str(workdir),
        "workdir_fs": filesystem_type(workdir),
        # Other work on the machine skews results: record how busy it was.
        "loadavg_at_start": os.getloadavg(),
    }


def filesystem_type(path: Path) -> str:
    """The file system type of the mount that holds ``path``."""
    best, fstype = "", "unknown"
    target = str(path.resolve())
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                mnt = fields[4]
                sep = fields.index("-")
                inside = target == mnt or target.startswith(mnt.rstrip("/") + "/")
                if inside and len(mnt) >= len(best):
                    best, fstype = mnt, fields[sep + 1]
    except (OSError, ValueError, IndexError):
        pass
    return fstype


def write_json(path: Path, rows: list[Row], params: dict[str, Any], host: dict[str, Any]) -> None:
    data = {
        "format": JSON_FORMAT,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": host,
        "params": params,
        "rows": [
            {**asdict(r), "x_disk": xd, "x_passthrough": xp, "x_objfs": xo}
            for r, (xd, xp), xo in zip(rows, ratios(rows), objfs_ratios(rows), strict=True)
        ],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
