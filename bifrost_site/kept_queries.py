"""Lookups compiled once per process, for the request hot path (docs/performance.md §7).

Django compiles a queryset to SQL every time it is evaluated. For a one-row lookup by key that
costs about 0.5 ms of CPU, five times the round trip to PostgreSQL itself. A `KeptQuery` compiles
its queryset once, with placeholder values, and then runs the same SQL with the caller's values.
Rows become model instances through Django's own converters and `select_related` populators, so
the answer is what the queryset would have returned.

    USER_BY_ID = KeptQuery(lambda user_id: User.objects.select_related("organization").filter(id=user_id),
                           uuid.UUID(int=1))
    user = USER_BY_ID.first(some_id)

Each placeholder must reach the compiled parameters exactly once and unchanged (a UUID for a UUID
column, a string for a text column); the caller passes values of the same type. The database alias
is the one the queryset chose when it was compiled (Bifrost has a single database and no router).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections, transaction
from django.db.models import Model, QuerySet, signals
from django.db.models.query import get_related_populators

from bifrost_site.postgres_backend.base import bound_cursor


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slots: tuple[int, ...]  # where each placeholder sits in `params`
    model: type[Model]
    init_list: tuple[str, ...]
    model_slice: slice
    converters: tuple
    related_populators: tuple
    annotation_col_map: dict


class KeptQuery:
    def __init__(self, build: Callable[..., QuerySet], *placeholders):
        self._build = build
        self._placeholders = placeholders
        self._compiled: _Compiled | None = None
        self._alias: str | None = None
        self._lock = threading.Lock()

    def first(self, *values) -> Model | None:
        rows = self.all(*values)
        return rows[0] if rows else None

    def all(self, *values) -> list[Model]:
        if len(values) != len(self._placeholders):
            raise TypeError(f"expected {len(self._placeholders)} values, got {len(values)}")
        compiled = self._compiled or self._compile()
        alias = self._alias
        params = list(compiled.params)
        for slot, value in zip(compiled.slots, values, strict=True):
            params[slot] = value
        connection = connections[alias]
        with bound_cursor(connection) as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return [self._instance(compiled, alias, connection, row) for row in rows]

    @staticmethod
    def _instance(compiled: _Compiled, alias: str, connection, row) -> Model:
        if compiled.converters:
            row = list(row)
            for position, converters, expression in compiled.converters:
                value = row[position]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[position] = value
        obj = compiled.model.from_db(alias, compiled.init_list, row[compiled.model_slice])
        for populator in compiled.related_populators:
            populator.populate(row, obj)
        for name, position in compiled.annotation_col_map.items():
            setattr(obj, name, row[position])
        return obj

    def _compile(self) -> _Compiled:
        with self._lock:
            if self._compiled is not None:
                return self._compiled
            queryset = self._build(*self._placeholders)
            alias = queryset.db
            compiler = queryset.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            slots = []
            for placeholder in self._placeholders:
                found = [index for index, param in enumerate(params) if param == placeholder]
                if len(found) != 1:
                    raise ValueError(f"placeholder {placeholder!r} appears {len(found)} times in the compiled query")
                slots.append(found[0])
            klass_info = compiler.klass_info
            select_fields = klass_info["select_fields"]
            start, end = select_fields[0], select_fields[-1] + 1
            columns = [expression for expression, _sql, _alias in compiler.select[: compiler.col_count]]
            compiled = _Compiled(
                sql=sql,
                params=tuple(params),
                slots=tuple(slots),
                model=klass_info["model"],
                init_list=tuple(column.target.attname for column in columns[start:end]),
                model_slice=slice(start, end),
                converters=tuple(
                    (position, tuple(converters), expression)
                    for position, (converters, expression) in compiler.get_converters(columns).items()
                ),
                related_populators=tuple(get_related_populators(klass_info, compiler.select, alias)),
                annotation_col_map=dict(compiler.annotation_col_map or {}),
            )
            self._alias = alias
            self._compiled = compiled
            return compiled


class KeptInsert:
    """`INSERT` of a new instance with every concrete column, its SQL built once per process.

    What `Model.save(force_insert=True)` does for a model with a client-side primary key (Bifrost's
    UUIDs): `pre_save` per field (auto_now, auto_now_add) and the fields' own database preparation
    (JSON, UUID). When `pre_save`/`post_save` receivers are connected for the model, it takes
    `save()` instead, so no signal is ever skipped.

    `only_if=(condition_sql, params)` inserts the row only while the SQL condition holds, checked in
    the same statement (`INSERT … SELECT … WHERE condition`), and answers whether it did.
    """

    def __init__(self, model: type[Model]):
        self._model = model
        self._fields: tuple = ()
        self._columns: str | None = None
        self._statements: dict[str | None, str] = {}

    def insert(self, obj: Model, *, using: str = "default", only_if: tuple[str, list] | None = None) -> bool:
        if not isinstance(obj, self._model):
            raise TypeError(f"expected a {self._model.__name__}, got {type(obj).__name__}")
        connection = connections[using]
        if signals.pre_save.has_listeners(self._model) or signals.post_save.has_listeners(self._model):
            with transaction.atomic(using=using):
                if only_if is not None and not self._holds(connection, *only_if):
                    return False
                obj.save(force_insert=True, using=using)
            return True
        condition, condition_params = only_if if only_if is not None else (None, [])
        sql = self._statements.get(condition) or self._compile(connection, condition)
        params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in self._fields]
        with bound_cursor(connection) as cursor:
            cursor.execute(sql, [*params, *condition_params])
            if cursor.rowcount == 0:
                return False
        obj._state.adding = False
        obj._state.db = using
        return True

    @staticmethod
    def _holds(connection, condition: str, params: list) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {condition}", params)
            return bool(cursor.fetchone()[0])

    def _compile(self, connection, condition: str | None) -> str:
        if self._columns is None:
            meta = self._model._meta
            if meta.pk.db_returning or not meta.pk.has_default():
                raise TypeError(f"{self._model.__name__} needs a client-side primary key for KeptInsert")
            self._fields = tuple(field for field in meta.concrete_fields if not field.generated)
            quote = connection.ops.quote_name
            self._columns = f"{quote(meta.db_table)} ({', '.join(quote(field.column) for field in self._fields)})"
        placeholders = ", ".join(["%s"] * len(self._fields))
        if condition is None:
            sql = f"INSERT INTO {self._columns} VALUES ({placeholders})"  # noqa: S608 (names from the model)
        else:
            # PostgreSQL types the SELECT's parameters from the target columns, as it does for VALUES.
            sql = f"INSERT INTO {self._columns} SELECT {placeholders} WHERE {condition}"
        self._statements[condition] = sql
        return sql
