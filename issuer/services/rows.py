"""The statements a refresh sends, written once per database connection from the models' metadata: the
locked read of a session with what its tokens need, the rotation's update, and the insert of an audit event.

A refresh is the issuer's most frequent write, and the ORM compiles its queries afresh on every call (a
select_related read, an update, an insert): measured, that compiling was most of a refresh's time beyond its
one signature and its one commit. Here the SQL is built once, rows are turned into model instances the way the
ORM turns them (each field's database converters, then Model.from_db), and values are prepared for the
database the way the ORM prepares them (Field.pre_save, Field.get_db_prep_save), so SQLite and PostgreSQL
both work as through the ORM. No model signals are sent, as none is connected to these models' saves. The row
lock is `FOR UPDATE OF` the session alone where the database has row locks (PostgreSQL); SQLite has none and
serialises writers with BEGIN IMMEDIATE instead."""

import functools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from ..models import RelyingApp, SSOSession

# What a refresh reads: the session's rotation state and what its tokens name (and the OpenID Connect token
# endpoint its ID token), of its user what the tokens carry and whether they are still active, of its client
# the client id. Other fields are deferred, as with QuerySet.only().
SESSION_FIELDS = (
    "id",
    "sid",
    "user",
    "client",
    "audience",
    "scope",
    "auth_time",
    "amr",
    "acr",
    "created_at",
    "refresh_jti",
    "last_refreshed_at",
    "revoked_at",
    "token_audiences",
    "token_roles",
)
USER_FIELDS = ("id", "username", "is_active", "is_staff", "is_superuser", "first_name", "last_name", "email")
CLIENT_FIELDS = ("id", "client_id")

Converter = Callable[[Any, Any, Any], Any]


class _Part:
    """One model's columns in the read, in the model's field order (what Model.from_db expects), with each
    column's converters."""

    def __init__(self, db: BaseDatabaseWrapper, model: type[Model], names: Sequence[str]) -> None:
        self.model = model
        concrete = model._meta.concrete_fields
        self.fields: list[Field] = sorted((model._meta.get_field(name) for name in names), key=concrete.index)
        self.attnames = [field.attname for field in self.fields]
        self.columns: list[tuple[Any, list[Converter]]] = []
        for field in self.fields:
            column = field.get_col(model._meta.db_table)
            self.columns.append((column, db.ops.get_db_converters(column) + column.get_db_converters(db)))

    def select_list(self, db: BaseDatabaseWrapper) -> str:
        table = db.ops.quote_name(self.model._meta.db_table)
        return ", ".join(f"{table}.{db.ops.quote_name(field.column)}" for field in self.fields)

    def instance(self, db: BaseDatabaseWrapper, values: Sequence[Any]) -> Model:
        converted = []
        for value, (column, converters) in zip(values, self.columns, strict=True):
            for converter in converters:
                value = converter(value, column, db)
            converted.append(value)
        return self.model.from_db(db.alias, self.attnames, converted)


class _LockedRead:
    """The read's SQL and its three parts (session, user, client), for one connection."""

    def __init__(self, db: BaseDatabaseWrapper) -> None:
        qn = db.ops.quote_name
        self.parts = (
            _Part(db, SSOSession, SESSION_FIELDS),
            _Part(db, get_user_model(), USER_FIELDS),
            _Part(db, RelyingApp, CLIENT_FIELDS),
        )
        self.ends = (len(self.parts[0].fields), len(self.parts[0].fields) + len(self.parts[1].fields))
        session, user, client = (qn(part.model._meta.db_table) for part in self.parts)
        meta = SSOSession._meta
        # Identifiers come from the models' metadata, quoted by the backend; the one value is a parameter.
        self.sql = (
            f"SELECT {', '.join(part.select_list(db) for part in self.parts)} FROM {session}"  # noqa: S608
            f" INNER JOIN {user} ON ({session}.{qn(meta.get_field('user').column)} = {user}.{qn('id')})"
            f" LEFT OUTER JOIN {client} ON ({session}.{qn(meta.get_field('client').column)} = {client}.{qn('id')})"
            f" WHERE {session}.{qn(meta.get_field('sid').column)} = %s"
        )
        # Only the session row: locking the user's too would serialise every refresh of the user's other
        # sessions and block saves of the user.
        if db.features.has_select_for_update_of:
            self.sql += " " + db.ops.for_update_sql(of=(session,))
        elif db.features.has_select_for_update:
            self.sql += " " + db.ops.for_update_sql()


# Per connection object (one per thread and alias), since converters are bound to their connection's backend.
_locked_reads: "weakref.WeakKeyDictionary[BaseDatabaseWrapper, _LockedRead]" = weakref.WeakKeyDictionary()


def session_locked_read(*, sid: str) -> SSOSession | None:
    """The session with this sid, its user and its client, its row locked until the transaction ends (call it
    inside transaction.atomic); None when there is none."""
    db = connections[DEFAULT_DB_ALIAS]
    read = _locked_reads.get(db)
    if read is None:
        read = _locked_reads[db] = _LockedRead(db)
    with db.cursor() as cursor:
        cursor.execute(read.sql, [sid])
        row = cursor.fetchone()
    if row is None:
        return None
    session_part, user_part, client_part = read.parts
    first, second = read.ends
    session = session_part.instance(db, row[:first])
    session.user = user_part.instance(db, row[first:second])
    if session.client_id is not None:
        session.client = client_part.instance(db, row[second:])
    return session


@functools.cache
def _update_sql(vendor: str, names: tuple[str, ...]) -> tuple[str, tuple[Field, ...]]:
    qn = connection.ops.quote_name
    fields = tuple(SSOSession._meta.get_field(name) for name in names)
    assignments = ", ".join(f"{qn(field.column)} = %s" for field in fields)
    # Identifiers from the model's metadata, quoted; values are parameters.
    return f"UPDATE {qn(SSOSession._meta.db_table)} SET {assignments} WHERE {qn('id')} = %s", fields  # noqa: S608


def session_fields_save(*, session: SSOSession, names: Sequence[str]) -> None:
    """session.save(update_fields=names), its one UPDATE statement compiled once per set of fields."""
    sql, fields = _update_sql(connection.vendor, tuple(names))
    values = [field.get_db_prep_save(getattr(session, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, session.pk])


@functools.cache
def _insert_sql(vendor: str, model: type[Model]) -> tuple[str, tuple[Field, ...]]:
    qn = connection.ops.quote_name
    fields = tuple(field for field in model._meta.local_concrete_fields if field is not model._meta.auto_field)
    columns = ", ".join(qn(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Identifiers from the model's metadata, quoted; values are parameters.
    return f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES ({placeholders})", fields  # noqa: S608


def row_insert(instance: Model) -> None:
    """instance.save() of a new row whose key the database assigns and nobody reads back (an audit event),
    its one INSERT statement compiled once per model."""
    sql, fields = _insert_sql(connection.vendor, type(instance))
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
