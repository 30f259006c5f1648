"""The statements a refresh sends, written once per database connection from the models' metadata: the
locked read of a session with what its tokens need, the rotation's update, and the insert of an audit event.

A refresh is the issuer's most frequent write, and the ORM compiles its queries afresh on every call (a
select_related read, an update, an insert): measured, that compiling was most of a refresh's time beyond its
one signature and its one commit. Here the SQL is built once, rows are turned into model instances the way the
ORM turns them (each field's database converters, then Model.from_db), and values are prepared for the
database the way the ORM prepares them (Field.pre_save, Field.get_db_prep_save), so SQLite and PostgreSQL
both work as through the ORM. No model signals are sent, as none is connected to these models' saves. The row
lock is `FOR UPDATE OF` the session alone where the database has row locks (PostgreSQL); SQLite has none and
serialises writers with BEGIN IMMEDIATE instead. On PostgreSQL the ordinary refresh sends its update and
insert as one statement (session_rotate), a round trip to the server costing more than the statement."""

import functools
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from ..models import AuditEvent, RelyingApp, SSOSession

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


class _SessionRow:
    """A result row holding a session's columns, then its user's, then its client's (SESSION_FIELDS,
    USER_FIELDS, CLIENT_FIELDS), and the model instances made from it, for one connection."""

    def __init__(self, db: BaseDatabaseWrapper) -> None:
        self.parts = (
            _Part(db, SSOSession, SESSION_FIELDS),
            _Part(db, get_user_model(), USER_FIELDS),
            _Part(db, RelyingApp, CLIENT_FIELDS),
        )
        self.ends = (len(self.parts[0].fields), len(self.parts[0].fields) + len(self.parts[1].fields))

    def session(self, db: BaseDatabaseWrapper, row: Sequence[Any]) -> SSOSession:
        session_part, user_part, client_part = self.parts
        first, second = self.ends
        session = session_part.instance(db, row[:first])
        session.user = user_part.instance(db, row[first:second])
        if session.client_id is not None:
            session.client = client_part.instance(db, row[second:])
        return session


class _LockedRead(_SessionRow):
    """The read's SQL: the session with this sid, joined to its user and its client."""

    def __init__(self, db: BaseDatabaseWrapper) -> None:
        super().__init__(db)
        qn = db.ops.quote_name
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


class _Rotation(_SessionRow):
    """PostgreSQL's rotation in one statement (a data-modifying WITH): the session's update, on condition that
    it is the ordinary case (the presented jti is the current one, the session live, its apps and roles
    worked out, its user active), returning the session and its user; the audit event inserted from that row;
    the client joined. A loopback round trip to PostgreSQL costs more than a refresh's Python, and the read,
    update and insert of the general path are three; the update's row lock serialises concurrent refreshes as
    the locked read does (a second refresh with the same token waits, then finds the jti changed, matches
    nothing and takes the general path, which sees a retry)."""

    def __init__(self, db: BaseDatabaseWrapper) -> None:
        super().__init__(db)
        qn = db.ops.quote_name
        session_part, user_part, client_part = self.parts
        session, user, client = (qn(part.model._meta.db_table) for part in self.parts)
        meta, audit = SSOSession._meta, AuditEvent._meta
        column = {name: qn(meta.get_field(name).column) for name in ("sid", "user", "client", "revoked_at")}
        column.update({name: qn(meta.get_field(name).column) for name in self.UPDATED + self.WORKED_OUT})
        # Each returned column under its own alias (the session's and the user's ids share a name).
        returned = [
            (f"{qn(part.model._meta.db_table)}.{qn(field.column)}", f"{prefix}{index}")
            for prefix, part in (("s", session_part), ("u", user_part))
            for index, field in enumerate(part.fields)
        ]
        alias = {
            (part.model, field.name): f"{prefix}{index}"
            for prefix, part in (("s", session_part), ("u", user_part))
            for index, field in enumerate(part.fields)
        }
        user_model = user_part.model
        self.audit_fields = tuple(audit.get_field(name) for name in ("kind", "created_at", "ip_address"))
        # Identifiers come from the models' metadata, quoted by the backend; every value is a parameter.
        self.sql = (
            f"WITH rotated AS (UPDATE {session} SET"  # noqa: S608
            f" {', '.join(f'{column[name]} = %s' for name in self.UPDATED)}"
            f" FROM {user} WHERE {session}.{column['sid']} = %s AND {session}.{column['refresh_jti']} = %s"
            f" AND {session}.{column['revoked_at']} IS NULL"
            f" AND {' AND '.join(f'{session}.{column[name]} IS NOT NULL' for name in self.WORKED_OUT)}"
            f" AND {session}.{column['user']} = {user}.{qn(user_model._meta.pk.column)}"
            f" AND {user}.{qn(user_model._meta.get_field('is_active').column)}"
            f" RETURNING {', '.join(f'{expression} AS {name}' for expression, name in returned)}),"
            f" recorded AS (INSERT INTO {qn(audit.db_table)} ("
            f"{', '.join(qn(field.column) for field in self.audit_fields)},"
            f" {qn(audit.get_field('user').column)}, {qn(audit.get_field('username').column)},"
            f" {qn(audit.get_field('sid').column)}, {qn(audit.get_field('detail').column)})"
            f" SELECT %s, %s, %s, {alias[user_model, 'id']}, {alias[user_model, user_model.USERNAME_FIELD]},"
            f" {alias[SSOSession, 'sid']}, '' FROM rotated)"
            f" SELECT {', '.join(name for _, name in returned)}, {client_part.select_list(db)} FROM rotated"
            f" LEFT OUTER JOIN {client} ON (rotated.{alias[SSOSession, 'client']} = {client}.{qn('id')})"
        )

    UPDATED = ("refresh_jti", "last_refreshed_at", "expires_at")
    WORKED_OUT = ("token_audiences", "token_roles")


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
    return None if row is None else read.session(db, row)


_rotations: "weakref.WeakKeyDictionary[BaseDatabaseWrapper, _Rotation]" = weakref.WeakKeyDictionary()


def session_rotate(
    *, sid: str, jti: str, new_jti: str, now: datetime, expires_at: datetime, audit_kind: str, ip: str | None
) -> SSOSession | None:
    """On PostgreSQL, the ordinary refresh's writes in one statement (_Rotation): the session with this sid
    whose current refresh jti is `jti` gets `new_jti`, refreshed `now`, expiring at `expires_at`, and the
    audit event is inserted. Returns the session as updated, with its user and client, or None when the
    session is not in the ordinary case (or the database is not PostgreSQL): nothing was written and the
    caller takes the general path (session_locked_read). Call it inside transaction.atomic."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        return None
    rotation = _rotations.get(db)
    if rotation is None:
        rotation = _rotations[db] = _Rotation(db)
    meta = SSOSession._meta
    updated = [
        meta.get_field(name).get_db_prep_save(value, db)
        for name, value in zip(_Rotation.UPDATED, (new_jti, now, expires_at), strict=True)
    ]
    recorded = [
        field.get_db_prep_save(value, db)
        for field, value in zip(rotation.audit_fields, (audit_kind, now, ip), strict=True)
    ]
    with db.cursor() as cursor:
        cursor.execute(rotation.sql, [*updated, sid, jti, *recorded])
        row = cursor.fetchone()
    if row is None:
        return None
    session = rotation.session(db, row)
    session.expires_at = expires_at
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
