"""The store's tables (SQLAlchemy 2). Timestamps are stored in UTC, shown in the campaign's zone.

Schema changes go through alembic (``engine/migrations``); ``rectify init`` upgrades.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from enum import Enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no tz support) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        return value.astimezone(timezone.utc) if dialect.name != "sqlite" else \
            value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


# A natural-order key (engine.base.natural), compared by code point: PostgreSQL's default
# collation may ignore punctuation and the separator, so the column says "C" there.
SortKey = Text().with_variant(Text(collation="C"), "postgresql")


class OrgKind(str, Enum):
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"
    COMMUNITY = "community"
    ENTERPRISE = "enterprise"
    SCHOOL = "school"
    INSTITUTION = "institution"
    OTHER = "other"


class TimerStatus(str, Enum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    FAILED = "failed"  # could not fire (its error is in the payload); never retried by itself


class NoticeStatus(str, Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    # Needed a fact the record does not hold (its ``last_error`` says which): never delivered
    # with a placeholder (engine.ops.notices.notice_row).
    HELD = "held"


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    # The township (乡镇/街道) an organization belongs to, denormalised for filtering and quotas.
    township_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    # Materialised ancestor path "/1/7/42/" for cheap jurisdiction checks.
    path: Mapped[str] = mapped_column(String(400), index=True)
    # Hierarchy order with codes in natural order (engine.base.natural.hierarchy_key), set when
    # the organization is created: lists and the ledger are ordered by it.
    sort_key: Mapped[str] = mapped_column(SortKey, index=True)
    secretary_name: Mapped[str | None] = mapped_column(String(50))
    secretary_phone: Mapped[str | None] = mapped_column(String(30))

    parent: Mapped[Organization | None] = relationship(remote_side=[id], foreign_keys=[parent_id])


class Official(Base):
    __tablename__ = "officials"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    role: Mapped[str] = mapped_column(String(50))
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The operating-system login that acts as this official (who runs `rectify` is who acts).
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)  # may deploy, import, manage officials, use --as
    # When this administrator's own login first ran rectify: set once, never cleared. Bootstrap
    # mode lasts until one administrator has taken office this way (engine/ops/identity.py).
    admin_since: Mapped[datetime | None] = mapped_column(default=None)

    jurisdiction: Mapped[Organization] = relationship()


class WorkflowVersion(Base):
    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("name", "version"), UniqueConstraint("name", "digest"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    templates: Mapped[dict[str, Any]] = mapped_column()
    calendar: Mapped[str | None] = mapped_column(Text)  # the calendar.yaml deployed with it
    deployed_at: Mapped[datetime] = mapped_column()
    deployed_by: Mapped[str] = mapped_column(String(50))


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("workflow_name", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_name: Mapped[str] = mapped_column(String(100))
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    # The version new cases start on; existing cases keep theirs.
    current_version_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id"))
    case_seq: Mapped[int] = mapped_column(Integer, default=0)

    current_version: Mapped[WorkflowVersion] = relationship()


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("campaign_id", "organization_id"),
        # a campaign's cases, and a state's, in the natural order of their references
        Index("ix_cases_campaign_sort_key", "campaign_id", "sort_key"),
        Index("ix_cases_campaign_state_sort_key", "campaign_id", "state", "sort_key"),
        Index("ix_cases_due_at", "due_at"),
        # a state's cases by deadline, of the campaign or of one township (the to-do list reads
        # the first few of each straight from these: engine.store.todo_queries)
        Index("ix_cases_campaign_state_due_at", "campaign_id", "state", "due_at", "id"),
        Index("ix_cases_township_campaign_state_due_at", "township_id", "campaign_id", "state", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    sort_key: Mapped[str] = mapped_column(SortKey)  # engine.base.natural.natural_key(ref)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    township_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    workflow_version_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id"))
    state: Mapped[str] = mapped_column(String(50))
    round: Mapped[int] = mapped_column(Integer, default=1)
    key_target: Mapped[bool] = mapped_column(Boolean, default=False)
    weak_and_lax: Mapped[bool] = mapped_column(Boolean, default=False)
    problems: Mapped[list[Any]] = mapped_column(default=list)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    measures: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column()
    entered_at: Mapped[datetime] = mapped_column()
    # The current state's deadline, kept on the row so "overdue" is one indexed range query.
    due_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The head of the case's hash chain of events: its last event's number and hash.
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    event_head: Mapped[str] = mapped_column(String(64), default="")

    __mapper_args__ = {"version_id_col": version}

    organization: Mapped[Organization] = relationship(foreign_keys=[organization_id])
    township: Mapped[Organization | None] = relationship(foreign_keys=[township_id])
    campaign: Mapped[Campaign] = relationship()
    workflow_version: Mapped[WorkflowVersion] = relationship()


class CaseFact(Base):
    __tablename__ = "case_facts"
    __table_args__ = (UniqueConstraint("case_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    value: Mapped[dict[str, Any]] = mapped_column()  # {"v": value}: keeps JSON types exact
    set_at: Mapped[datetime] = mapped_column()
    set_by: Mapped[str] = mapped_column(String(50))


class Event(Base):
    """The append-only log: every change to a case, by whom, when (the clock's time) and why.

    Database triggers refuse UPDATE and DELETE; each event carries the hash of the case's
    previous event and its own (``engine.ops.audit``), so an edit made behind the project's back
    is found by ``rectify audit verify``.
    """

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))  # opened | transition | fact | timer
    trigger: Mapped[str | None] = mapped_column(String(50))
    from_state: Mapped[str | None] = mapped_column(String(50))
    to_state: Mapped[str | None] = mapped_column(String(50))
    round: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(Base):
    """One link of a campaign's anchor chain: every event appended to a case of the campaign
    also appends (campaign, number, case, the event's number and hash) here, hash-linked to the
    campaign's previous anchor (``engine.ops.audit``). A case's head is so kept outside its
    row: cutting a case's last events off is found unless the anchors of every case after them
    are recomputed too. Append-only, like the events."""

    __tablename__ = "audit_anchors"
    __table_args__ = (
        UniqueConstraint("campaign_id", "seq"),
        Index("ix_audit_anchors_case_seq", "case_id", "seq"),  # a case's anchors (verify --case)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, … in the campaign
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    case_seq: Mapped[int] = mapped_column(Integer)  # the event's number in its case
    event_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AnchorHead(Base):
    """The head of a campaign's anchor chain (its last anchor's number and hash): read and
    locked by each append (``FOR UPDATE`` on PostgreSQL), so a campaign's anchors never fork."""

    __tablename__ = "anchor_heads"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class Refusal(Base):
    """A refused attempt (permission, rule or conflict): who tried what, and why it was refused.

    Append-only like the events, and hash-chained like them (``seq``, ``prev_hash``, ``hash``:
    ``engine.ops.audit``); written in its own transaction after the refused one rolled back.
    """

    __tablename__ = "refusals"
    __table_args__ = (Index("ix_refusals_seq", "seq", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column()  # real time, whatever --now said
    login: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(50))
    command: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Timer(Base):
    __tablename__ = "timers"
    __table_args__ = (
        # Only pending timers are ever looked up by due time: a partial index stays small. The
        # migrations make it partial on PostgreSQL too; naming postgresql_where here would load
        # SQLAlchemy's PostgreSQL dialect in every process (30 ms of each command's start).
        Index("ix_timers_pending_due", "due_at", sqlite_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    state: Mapped[str] = mapped_column(String(50))
    round: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # deadline | reminder | escalation | recurring | auto
    due_at: Mapped[datetime] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=TimerStatus.PENDING.value)
    fired_at: Mapped[datetime | None] = mapped_column()


class Notice(Base):
    """The transactional outbox: written with the event that causes it, delivered after commit."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(100))
    template_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default=NoticeStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    # Who it is for, resolved when it was written: [{"name", "role", "email", "phone"}].
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    expanded: Mapped[bool] = mapped_column(Boolean, default=False)  # deliveries created
    # 发文字号 (×组通〔2014〕12号) of a notice issued as an official document, from
    # DocumentCounter in the same transaction; None for one that is not. Several NULLs pass the
    # unique index on both backends.
    document_number: Mapped[str | None] = mapped_column(String(60), index=True, unique=True)
    # The audiences nobody could be found for when it was written (a role no official holds in
    # the jurisdiction, a contact leader nobody assigned): [{"role", "label"}]. Shown loudly by
    # ``rectify notices list`` and the dashboard, never dropped silently.
    unreached: Mapped[list[Any]] = mapped_column(default=list)


Index("ix_notices_pending", Notice.next_attempt_at, sqlite_where=text("status = 'pending'"))


class DocumentCounter(Base):
    """The yearly register of document numbers: the last number given for a prefix (×组通) in a
    year. Incremented in the transaction that issues the notice (``engine.store.doc_numbers``),
    whose row lock serialises issuers, so numbers are unique and a rollback leaves no gap."""

    __tablename__ = "document_counters"

    prefix: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class Delivery(Base):
    """One notice through one channel to one address: retried with backoff, then dead-lettered."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    channel: Mapped[str] = mapped_column(String(50))
    address: Mapped[str] = mapped_column(String(300))
    recipient: Mapped[str] = mapped_column(String(50))
    idempotency_key: Mapped[str] = mapped_column(String(400), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=NoticeStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column()  # on the campaign's clock (a simulated one too)
    # Held by a daemon sending it until then, on the database's clock: real time, whatever
    # --now says, so a daemon whose clock is set differently cannot send it a second time.
    leased_until: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()


Index("ix_deliveries_pending", Delivery.next_attempt_at, sqlite_where=text("status = 'pending'"))


class SpotCheckDraw(Base):
    """A spot-check draw as published: anyone can recompute ``selected`` from the rest."""

    __tablename__ = "spot_check_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(50))
    seed: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(50))
    rate: Mapped[float] = mapped_column()
    include_key_targets: Mapped[bool] = mapped_column(Boolean)
    population: Mapped[list[Any]] = mapped_column()  # [{"ref", "key_target"}], sorted by ref
    selected: Mapped[list[Any]] = mapped_column()  # refs, sorted
    announcement_id: Mapped[int | None] = mapped_column()  # the announcement whose seed it used


class SpotCheckAnnouncement(Base):
    """A draw announced before it is made: its seed is fixed now (``commitment`` is the SHA-256
    of it, published with the announcement), so whoever draws later cannot choose it."""

    __tablename__ = "spot_check_announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(50))
    commitment: Mapped[str] = mapped_column(String(64))
    seed: Mapped[str | None] = mapped_column(String(100))  # None: the county keeps it until the draw
    draw_id: Mapped[int | None] = mapped_column()  # set by the draw that used it


# --- the campaign as it is run: units' duties, people, evidence, problem lists (issue 16) ------

class DutyStatus(str, Enum):
    OPEN = "open"  # nothing filed yet (or what was filed was returned)
    SUBMITTED = "submitted"  # filed and not returned: the duty is done


class UnitDuty(Base):
    """One occurrence of a duty a unit owes (a township's 汇总表 due 03-16, its progress report due
    05-20): created for each unit the workflow's ``duties`` name, with the next moment its
    reminders and escalations are due (``next_at``: the duty's own timer, read along a partial
    index by the daemon, engine.ops.duties)."""

    __tablename__ = "unit_duties"
    __table_args__ = (
        UniqueConstraint("campaign_id", "unit_id", "duty", "occurrence"),
        Index("ix_unit_duties_next_at", "next_at", sqlite_where=text("next_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    duty: Mapped[str] = mapped_column(String(50))
    occurrence: Mapped[int] = mapped_column(Integer)  # 1, 2, … for a recurring duty
    due_at: Mapped[datetime] = mapped_column()  # the end of its last day (midnight after it)
    status: Mapped[str] = mapped_column(String(20), default=DutyStatus.OPEN.value)
    # When what stands now was filed (None while open): on time or late is ``submitted_at`` ≤ ``due_at``.
    submitted_at: Mapped[datetime | None] = mapped_column()
    next_at: Mapped[datetime | None] = mapped_column()  # the next reminder or escalation; None: none left
    step: Mapped[int] = mapped_column(Integer, default=0)  # how many of its reminders/escalations are past

    unit: Mapped[Organization] = relationship()


class DutyAction(Base):
    """A submission of a duty (报送, with its note and files' hashes) or the county's return of it
    (退回, with the reason): append-only and hash-chained (``seq``, ``prev_hash``, ``hash``) like
    the refusals, so ``rectify audit verify`` finds an edited filing or a replaced file."""

    __tablename__ = "duty_actions"
    __table_args__ = (Index("ix_duty_actions_seq", "seq", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_duty_id: Mapped[int] = mapped_column(ForeignKey("unit_duties.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # submit | return
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(50))
    note: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[list[Any]] = mapped_column(default=list)  # [{"sha256", "name", "size"}]
    via: Mapped[str | None] = mapped_column(String(10))  # how the official acted: web, api, cli, local
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Person(Base):
    """Someone the campaign reaches who is not (necessarily) an official with a login: a contact
    leader, a county leader, a cadre, a first secretary, a stationed cadre, a work-team member."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("name", "unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    unit: Mapped[str] = mapped_column(String(200), default="")  # 派出单位 / 工作单位
    title: Mapped[str] = mapped_column(String(100), default="")  # 职务
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[datetime] = mapped_column()
    added_by: Mapped[str] = mapped_column(String(50))


class Assignment(Base):
    """A person in a role on a case for a period (``ends_on`` None: still assigned)."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_case_role", "case_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    role: Mapped[str] = mapped_column(String(50))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column()
    recorded_by: Mapped[str] = mapped_column(String(50))

    person: Mapped[Person] = relationship()


class SecretaryTerm(Base):
    """A secretary of an organization and the period in office: the organization's
    ``secretary_name`` is the current one's, and the ledger of a date shows the one then in office."""

    __tablename__ = "secretary_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(30))
    starts_on: Mapped[date | None] = mapped_column(Date)  # None: in office before the record began
    ends_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column()
    recorded_by: Mapped[str] = mapped_column(String(50))


class Problem(Base):
    """One problem on a case's list (一支一策): its measure, who is responsible, its deadline, and
    whether it is closed (销号, with evidence) or reopened. Every change is also a case event."""

    __tablename__ = "problems"
    __table_args__ = (
        UniqueConstraint("case_id", "number"),
        Index("ix_problems_due_at", "due_at"),
        # open problems by deadline (the to-do list); partial on PostgreSQL too (migration 0015)
        Index("ix_problems_open_due_at", "due_at", "id", sqlite_where=text("status IN ('open', 'reopened')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … within the case
    category: Mapped[int | None] = mapped_column(Integer)  # the workflow's problem_categories
    description: Mapped[str] = mapped_column(Text)
    measures: Mapped[str] = mapped_column(Text, default="")
    responsible: Mapped[str] = mapped_column(String(100), default="")
    responsible_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    deadline: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime | None] = mapped_column()  # the deadline's end, for the overdue query
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed | reopened
    opened_at: Mapped[datetime] = mapped_column()
    opened_by: Mapped[str] = mapped_column(String(50))
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by: Mapped[str | None] = mapped_column(String(50))


class Evidence(Base):
    """A file behind a fact, a problem or a duty submission: the file itself lives in the evidence
    store, named by its SHA-256 (engine.store.evidence_files); the hash is also in the audit chain
    of what it is attached to, so a replaced or missing file is found by ``audit verify``."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(255))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    fact: Mapped[str | None] = mapped_column(String(50))
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id"))
    duty_action_id: Mapped[int | None] = mapped_column(ForeignKey("duty_actions.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column()
    added_by: Mapped[str] = mapped_column(String(50))


class WebAccount(Base):
    """An official's way into the web workspace and the API (``rectify serve``): a password set
    through a one-time invitation an administrator issued, stored as an argon2id hash. Only the
    SHA-256 of the invitation's token is kept, so a copy of the database cannot accept it.
    ``failed_logins`` and ``locked_until`` are shared by every worker of the service."""

    __tablename__ = "web_accounts"

    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # None until an invitation is accepted
    password_set_at: Mapped[datetime | None] = mapped_column()
    invite_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invite_expires: Mapped[datetime | None] = mapped_column()
    invited_at: Mapped[datetime | None] = mapped_column()
    invited_by: Mapped[str | None] = mapped_column(String(50))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()  # deactivated: no login, every session revoked

    official: Mapped[Official] = relationship()


class WebSession(Base):
    """A logged-in browser: the cookie holds a random token, the row its SHA-256, so a session is
    revoked (logout, reset, deactivation) by one update and expires by its own dates."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()  # absolute end
    last_seen_at: Mapped[datetime] = mapped_column()  # idle expiry counts from here
    revoked_at: Mapped[datetime | None] = mapped_column()

    official: Mapped[Official] = relationship()


class ApiToken(Base):
    """A per-official bearer token for the JSON API (``kind`` api) or the CLI in client mode
    (``kind`` cli, issued by ``rectify login``). Only its SHA-256 is stored; revoking it stops
    it on the next request."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # api | cli
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(50))
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    official: Mapped[Official] = relationship()


class ServiceKey(Base):
    """Secrets the web service's workers share (the cookie-signing key), made once at the first
    ``rectify serve`` and kept in the database the service account alone can open."""

    __tablename__ = "service_keys"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()
