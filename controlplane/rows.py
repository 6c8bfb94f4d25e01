"""Fixed SQL selects whose rows become model instances as the ORM's would, for the reads on every API request.

The ORM compiles a query anew on each call; for the API-key gate (the key, then the project: every long poll and
witness upload) its compiler was 37 % of the web workers' GIL time in a 2,000-daemon fan-out, the two queries 53 %
(bench/RESULTS.md, "branch gate"). A select written once and run through `connection.cursor()` skips it. Plain
SQL that PostgreSQL and SQLite (`make run`) both take; values go through the same converters the ORM applies.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: type[models.Model], alias: str) -> str:
    """Every concrete column of `model` in the table named `alias`, in the order `instance` reads them."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(str(field.column))}" for field in model._meta.concrete_fields)


@functools.cache
def _loader(model: type[models.Model], vendor: str) -> tuple[list[str], list[tuple[int, Any, Callable[..., Any]]]]:
    """The attribute names of `model`'s concrete fields, and (index, column, converter) for each converter of
    each field on this database (SQLite's datetimes and booleans, a field's `from_db_value`)."""
    fields = model._meta.concrete_fields
    conversions = [
        (index, field.cached_col, convert)
        for index, field in enumerate(fields)
        for convert in connection.ops.get_db_converters(field.cached_col) + field.get_db_converters(connection)
    ]
    return [field.attname for field in fields], conversions


def instance(model: type[M], row: Sequence[Any], start: int = 0) -> M:
    """The `model` instance whose `columns` begin at `row[start]`, as the ORM would have loaded it."""
    names, conversions = _loader(model, connection.vendor)
    values = list(row[start : start + len(names)])
    for index, column, convert in conversions:
        values[index] = convert(values[index], column, connection)
    return model.from_db(connection.alias, names, values)


def width(model: type[models.Model]) -> int:
    """How many columns `columns(model, …)` selects."""
    return len(model._meta.concrete_fields)


def fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row
