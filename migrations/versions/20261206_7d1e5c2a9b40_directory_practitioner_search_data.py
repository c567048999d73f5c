"""Directory: stored search summaries, per-prefix owner counts and name masks of professionals

Revision ID: 7d1e5c2a9b40
Revises: 5e1d3c0a9b27
Create Date: 2026-12-06 04:00:00

Derived data the name search reads instead of computing it per request: each professional's
summary as the JSON API writes it, how many professionals have a name word starting with
each prefix, and on every token the mask of the pairs of first letters of the name's words
(in the search index, so that a several-word search skips most entries by an integer test).
All are filled here for the rows already loaded (a minute or two per million professionals)
with a frozen copy of the application's computation, so that this revision keeps giving the
same result whatever the code becomes.
"""

import json
from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter

import sqlalchemy as sa
from alembic import op

revision = "7d1e5c2a9b40"
down_revision = "5e1d3c0a9b27"
branch_labels = None
depends_on = None

_Token = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_CHUNK = 5000


def upgrade() -> None:
    op.create_table(
        "directory_practitioner_prefix",
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("prefix", _Token, nullable=False),
        sa.Column("owners", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("active", "prefix", name=op.f("pk_directory_practitioner_prefix")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("directory_practitioner", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
    with op.batch_alter_table("directory_practitioner_token", schema=None) as batch_op:
        # Every bit by default: a row without its mask is never filtered out. A constant
        # default adds the column without rewriting the table (SQLite and PostgreSQL).
        batch_op.add_column(
            sa.Column("name_mask", sa.BigInteger(), server_default=sa.text("-1"), nullable=False)
        )
        batch_op.drop_index("ix_directory_practitioner_token_search")
    connection = op.get_bind()
    _fill_summaries(connection)
    _fill_prefix_counts(connection)
    _fill_name_masks(connection)
    with op.batch_alter_table("directory_practitioner_token", schema=None) as batch_op:
        batch_op.create_index(
            "ix_directory_practitioner_token_search",
            ["active", "token", "name_key", "practitioner_id", "name_mask"],
            unique=False,
        )


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 too): a batch rebuild of a table
    # other tables refer to fails on SQLite once they hold rows.
    op.drop_index("ix_directory_practitioner_token_search", "directory_practitioner_token")
    op.execute("ALTER TABLE directory_practitioner_token DROP COLUMN name_mask")
    op.create_index(
        "ix_directory_practitioner_token_search",
        "directory_practitioner_token",
        ["active", "token", "name_key", "practitioner_id"],
        unique=False,
    )
    op.execute("ALTER TABLE directory_practitioner DROP COLUMN summary")
    op.drop_table("directory_practitioner_prefix")


def _fill_name_masks(connection: sa.Connection) -> None:
    """One bit per pair of first letters of each word of the owner's name, hashed on 63 bits:
    the bits are distinct powers of two, so the sum of the distinct ones is their union."""
    code = "ascii" if connection.dialect.name == "postgresql" else "unicode"
    bit = (
        f"CASE WHEN length(w.token) >= 2 THEN (CAST(1 AS BIGINT) << (({code}(substr(w.token, 1, 1))"
        f" * 37 + {code}(substr(w.token, 2, 1))) % 63)) ELSE 0 END"
    )
    connection.execute(
        sa.text(
            "UPDATE directory_practitioner_token SET name_mask = ("  # noqa: S608 - no input
            f"SELECT CAST(sum(DISTINCT {bit}) AS BIGINT) FROM directory_practitioner_token w"
            " WHERE w.practitioner_id = directory_practitioner_token.practitioner_id)"
        )
    )


def _luhn_valid(number: str) -> bool:
    if not (number.isascii() and number.isdigit()):
        return False
    reverse = number[::-1]
    total = sum(map(int, reverse[0::2])) + sum(_DOUBLED[int(c)] for c in reverse[1::2])
    return total % 10 == 0


def _summary(row: sa.Row, activities: list[tuple[str | None, ...]]) -> str:
    rpps = row.rpps
    warnings = []
    if rpps and not _luhn_valid(rpps):
        warnings.append(f"RPPS number {rpps} fails the Luhn check: check it for a typing error")
    return json.dumps(
        {
            "active": bool(row.active),
            "civility": row.civility,
            "departments": sorted({a[2] for a in activities if a[2]}),
            "exercise_civility": row.exercise_civility,
            "first_name": row.first_name,
            "id_type": "RPPS" if row.id_type == "8" else "ADELI",
            "last_name": row.last_name,
            "national_id": row.national_id,
            "professions": sorted({a[0] for a in activities if a[0]}),
            "rpps": rpps,
            "specialties": sorted({a[1] for a in activities if a[1]}),
            "warnings": warnings,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def _fill_summaries(connection: sa.Connection) -> None:
    people = sa.table(
        "directory_practitioner",
        *(
            sa.column(name)
            for name in (
                "id",
                "rpps",
                "national_id",
                "id_type",
                "civility",
                "exercise_civility",
                "last_name",
                "first_name",
                "active",
                "summary",
            )
        ),
    )
    activity = sa.table(
        "directory_practitioner_activity",
        *(
            sa.column(name)
            for name in ("practitioner_id", "profession_code", "specialty_code", "department")
        ),
        sa.column("active", sa.Boolean()),
    )
    write = (
        sa.update(people)
        .where(people.c.id == sa.bindparam("_id"))
        .values(summary=sa.bindparam("_summary"))
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(people).where(people.c.id > last).order_by(people.c.id).limit(_CHUNK)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        values: dict[int, list[tuple[str | None, ...]]] = {row.id: [] for row in rows}
        for owner, *columns in connection.execute(
            sa.select(
                activity.c.practitioner_id,
                activity.c.profession_code,
                activity.c.specialty_code,
                activity.c.department,
            ).where(
                activity.c.practitioner_id.between(rows[0].id, last),
                activity.c.active.is_(True),
            )
        ):
            if owner in values:
                values[owner].append(tuple(columns))
        connection.execute(
            write, [{"_id": row.id, "_summary": _summary(row, values[row.id])} for row in rows]
        )


def _fill_prefix_counts(connection: sa.Connection) -> None:
    token = sa.table(
        "directory_practitioner_token",
        sa.column("token"),
        sa.column("practitioner_id"),
        sa.column("active", sa.Boolean()),
    )
    prefix = sa.table(
        "directory_practitioner_prefix",
        sa.column("active", sa.Boolean()),
        sa.column("prefix"),
        sa.column("owners"),
    )
    for active in (False, True):
        rows = connection.execute(
            sa.select(token.c.token, token.c.practitioner_id)
            .where(token.c.active.is_(active))
            .order_by(token.c.token),
            execution_options={"yield_per": 50_000},
        )
        counts: list[dict[str, object]] = []
        for word, owners in _prefix_counts(rows):
            counts.append({"active": active, "prefix": word, "owners": owners})
            if len(counts) >= 50_000:
                connection.execute(sa.insert(prefix), counts)
                counts = []
        if counts:
            connection.execute(sa.insert(prefix), counts)


def _prefix_counts(rows: Iterable[tuple[str, int]]) -> Iterator[tuple[str, int]]:
    # Consecutive sorted tokens share their prefixes: one owner set per prefix length.
    open_sets: list[set[int]] = []
    current = ""
    for word, group in groupby(rows, key=itemgetter(0)):
        owners = [owner for _, owner in group]
        common = 0
        for a, b in zip(current, word, strict=False):
            if a != b:
                break
            common += 1
        while len(open_sets) > common:
            yield current[: len(open_sets)], len(open_sets.pop())
        while len(open_sets) < len(word):
            open_sets.append(set())
        for owner_set in open_sets:
            owner_set.update(owners)
        current = word
    while open_sets:
        yield current[: len(open_sets)], len(open_sets.pop())
