"""CPU to read and check a wide CSV header, and to read rows, in the import's reading layer.

Times ``CsvReader.read_header`` plus the importer's header check (names, duplicates,
dotted prefixes) for a header of N ``attributes.*`` columns and for one twice as wide:
the ratio shows the growth (2.0 is linear; the quadratic check was about 4). Then reads
rows through the same layer (decoding each line on its own, no database) in UTF-8 and
in CP949, the cost the per-line decoding adds to an import. ``time.process_time()``:
CPU seconds, so the figures hold on a busy machine.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import common  # noqa: E402


def header_bytes(columns: int) -> bytes:
    return ("email," + ",".join(f"attributes.c{n:05d}" for n in range(columns - 1))
            + "\n").encode()


def best_cpu(repeat: int, action) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        runs.append(time.process_time() - start)
    return min(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--columns", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    common.configure("sqlite:///" + common.temp_dir("envoi-bench-csv-") + "/db.sqlite3",
                     common.temp_dir("envoi-bench-csv-data-"))
    common.setup_django()

    from envoi.audiences.csvreading import CsvReader
    from envoi.audiences.importer import _read_header

    def read_header(raw: bytes, limit: int) -> None:
        reader = CsvReader(io.BytesIO(raw), print, column_limit=limit)
        assert len(_read_header(reader.read_header())[0]) == limit

    times = {}
    for columns in (args.columns, 2 * args.columns):
        raw = header_bytes(columns)
        times[columns] = best_cpu(args.repeat, lambda raw=raw, n=columns: read_header(raw, n))
        print(f"# header of {columns} columns ({len(raw) // 1024} KB): "
              f"{times[columns] * 1000:.1f} ms CPU")

    text = "email,first_name,last_name,attributes.city\n" + "".join(
        f"user{n}@example.com,민준{n},김,서울\n" for n in range(args.rows))
    rates = []
    for codec in ("utf-8", "cp949"):
        raw = text.encode(codec)

        def read_rows(raw: bytes = raw, codec: str = codec) -> None:
            reader = CsvReader(io.BytesIO(raw), print, encoding=codec)
            reader.read_header()
            assert sum(1 for _ in reader.records()) == args.rows

        rates.append(args.rows / best_cpu(args.repeat, read_rows))
        print(f"# reading {args.rows} rows in {codec}: {rates[-1]:,.0f} rows/s CPU")
    small, large = times[args.columns], times[2 * args.columns]
    print(f"envoi-csv-header: {args.columns} columns in {small * 1000:.1f} ms CPU, "
          f"{2 * args.columns} in {large * 1000:.1f} ms (x{large / small:.1f}); "
          f"rows read at {rates[0]:,.0f}/s (UTF-8), {rates[1]:,.0f}/s (CP949)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
