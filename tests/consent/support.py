"""Searching the whole database for a piece of text (erasure tests)."""

from __future__ import annotations

from django.db import connection


def _columns() -> list[tuple[str, str, bool]]:
    """(table, column, is binary) for every column of every table of the database."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT table_name, column_name, data_type = 'bytea' "
                           "FROM information_schema.columns "
                           "WHERE table_schema = current_schema()")
            return list(cursor.fetchall())
        found = []
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'PRAGMA table_info("{table}")')
            found += [(table, row[1], False) for row in cursor.fetchall()]
        return found


def tables_mentioning(text: str) -> list[str]:
    """``table.column`` of every column holding ``text`` in any row (any case)."""
    hits = []
    with connection.cursor() as cursor:
        for table, column, binary in _columns():
            if binary:
                condition = f'position(%s::bytea in "{column}") > 0'
                param: object = text.encode()
            else:
                condition = f'LOWER(CAST("{column}" AS TEXT)) LIKE %s'
                param = f"%{text.lower()}%"
            cursor.execute(f'SELECT COUNT(*) FROM "{table}" WHERE {condition}',  # noqa: S608
                           [param])
            if cursor.fetchone()[0]:
                hits.append(f"{table}.{column}")
    return hits
