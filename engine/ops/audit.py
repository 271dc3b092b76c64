"""The tamper-evident audit log: hash chains, and the records checked against them.

Each case's events form a hash chain (format in ``engine.store.chain``): an event's hash covers
its content and the case's previous event's hash, and the case row keeps the head. Every event
is also anchored in its campaign's chain, so a case's head is kept outside its row: the last
events of a case cannot be cut off (and the head moved back) without breaking the campaign's
chain, unless every anchor after them is recomputed. Refusals form a chain of their own.
Database triggers refuse UPDATE and DELETE on events, anchors and refusals, so changes must be
made behind the project's back (triggers dropped, the file edited), and then ``verify`` finds
them: an edited record no longer matches its hash, a deleted or reordered one breaks the
numbering or the links, an inserted one has no valid link, a cut-off tail no longer reaches
its head or its anchor. ``verify`` also replays each case's events and compares the state,
round and facts they give with the rows the rules read, since those rows can be changed
without touching a chain. A checkpoint (every head, kept somewhere else) also catches a
rewrite that recomputed every hash. Evidence files live outside the database: each case's
evidence rows are held against the "evidence" events that chained their hashes, and every
stored file against its hash (``engine.ops.evidence_audit``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from engine.base.clock import utcnow
from engine.base.errors import BadInput, CheckFailed
from engine.ops import evidence_audit, problem_audit
from engine.store import case_queries
from engine.store.chain import (
    GENESIS,
    METHOD,
    anchor_hash,
    anchor_heads,
    anchors_of_cases,
    anchors_streamed,
    event_hash,
    facts_streamed,
    last_refusal,
    locked_anchor_head,
    refusal_hash,
    refusals_streamed,
    utc_text,
)
from engine.store.duty_queries import duty_action_hash, duty_actions_streamed
from engine.store.evidence_queries import case_evidence_streamed, evidence_by_hash_streamed
from engine.store.models import AnchorHead, AuditAnchor, Case, Event, Refusal
from engine.store.problem_queries import problems_streamed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.store.evidence_files import EvidenceFiles

CHECKPOINT_FORMAT = 2  # heads of the cases and of the anchor and refusal chains; 1 (no "format"): the cases' only
SHOWN_PROBLEMS = 100  # a verification keeps this many problems to show, and counts the rest


def hash_of(event: Event) -> str:
    return event_hash(event.case_id, event.seq, event.at, event.actor, event.kind, event.trigger,
                      event.from_state, event.to_state, event.round, event.note, event.data, event.prev_hash)


def chain(session: Session, case: Case, event: Event) -> None:
    """Link a new event to the case's chain, move the case's head and anchor the event in the
    campaign's chain (before the event is flushed): one anchor row and the campaign's head per
    event, whatever the length of either chain."""
    with session.no_autoflush:  # the case's pending changes go in one UPDATE (one version) at the flush
        head = locked_anchor_head(session, case.campaign_id)  # a campaign's appends queue here
    if head is None:
        head = AnchorHead(campaign_id=case.campaign_id, seq=0, hash=GENESIS)
        session.add(head)
    # What is hashed must be what the database gives back: JSON turns tuples into lists.
    event.data = json.loads(json.dumps(event.data or {}))
    event.seq = case.event_seq + 1
    event.prev_hash = case.event_head or GENESIS
    event.hash = hash_of(event)
    case.event_seq, case.event_head = event.seq, event.hash
    anchor = AuditAnchor(campaign_id=case.campaign_id, seq=head.seq + 1, case_id=case.id, case_seq=event.seq,
                         event_hash=event.hash, prev_hash=head.hash)
    anchor.hash = anchor_hash(anchor.campaign_id, anchor.seq, anchor.case_id, anchor.case_seq, anchor.event_hash,
                              anchor.prev_hash)
    head.seq, head.hash = anchor.seq, anchor.hash
    session.add(anchor)


def record_refusal(session: Session, login: str, actor: str | None, command: str, reason: str) -> Refusal:
    """Append a refused attempt to the refusals log, linked to the refusal before it."""
    last = last_refusal(session, lock=True)
    refusal = Refusal(at=utcnow(), login=login, actor=actor, command=command[:2000], reason=reason[:4000],
                      seq=last.seq + 1 if last else 1, prev_hash=last.hash if last else GENESIS)
    refusal.hash = _refusal_hash(refusal)
    session.add(refusal)
    return refusal


def _refusal_hash(r: Refusal) -> str:
    return refusal_hash(r.seq, r.at, r.login, r.actor, r.command, r.reason, r.prev_hash)


def _anchor_hash(a: Any) -> str:
    return anchor_hash(a.campaign_id, a.seq, a.case_id, a.case_seq, a.event_hash, a.prev_hash)


# --- what a verification finds ------------------------------------------------------------------

_RECORDS = {"event": ("条事件", "event"), "anchor": ("个锚点", "anchor"), "refusal": ("条拒绝记录", "refusal"),
            "filing": ("条报送记录", "filing")}


@dataclass(frozen=True)
class Break:
    """A place where a chain, or a record checked against one, is not what the project wrote."""

    where: str  # a case's reference, a campaign's anchor chain, the refusals log
    seq: int | None  # the record's number in its chain, when one record is at fault
    row_id: int | None
    problem: str
    record: str = "event"  # event | anchor | refusal

    def __str__(self) -> str:
        if self.seq is None:
            return f"{self.where}: {self.problem}"
        zh, en = _RECORDS[self.record]
        row = f" (id {self.row_id})" if self.row_id is not None else ""
        return f"{self.where} 第 {self.seq} {zh} {en} #{self.seq}{row}: {self.problem}"


@dataclass
class Verification:
    cases: int = 0
    events: int = 0
    anchors: int = 0
    refusals: int = 0
    filings: int = 0  # units' submissions and returns (engine.ops.duties)
    evidence_files: int = 0  # distinct stored files hashed (engine.ops.evidence_audit)
    problems: list[Break] = field(default_factory=list)  # the first SHOWN_PROBLEMS
    problem_count: int = 0
    checkpoint_digest: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_break(self) -> Break | None:
        return self.problems[0] if self.problems else None

    def add(self, found: Break | None) -> None:
        if found is None:
            return
        self.problem_count += 1
        if len(self.problems) < SHOWN_PROBLEMS:
            self.problems.append(found)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as read back: its digest, every case's head (ref → number, hash) and the
    anchor and refusal chains' heads (``campaign-ID``, ``refusals`` → number, hash)."""

    digest: str
    heads: dict[str, tuple[int, str]]
    chains: dict[str, tuple[int, str]]


@dataclass(frozen=True)
class Anchored:
    """A case's latest anchor: where it is in its campaign's chain, and the event it holds."""

    campaign_id: int
    seq: int
    case_seq: int
    event_hash: str


# --- one chain, link by link --------------------------------------------------------------------

class _Links:
    """Walks one chain in order: numbering, links and content hashes, then where it ends; the
    first break is kept. ``kept`` is the (number, hash) a checkpoint holds for it."""

    def __init__(self, where: str, record: str, recompute: Callable[[Any], str],
                 kept: tuple[int, str] | None = None):
        self.where, self.record, self.recompute, self.kept = where, record, recompute, kept
        self.prev, self.expected = GENESIS, 1
        self.broken: Break | None = None

    def step(self, item: Any) -> None:
        if self.broken is None:
            self.broken = self._check(item)

    def fail(self, seq: int, row_id: int | None, problem: str) -> None:
        if self.broken is None:
            self.broken = Break(self.where, seq, row_id, problem, self.record)

    def _check(self, item: Any) -> Break | None:
        if item.seq != self.expected:
            return Break(self.where, self.expected, item.id, f"应为第 {self.expected} 条，实为第 {item.seq} 条："
                         f"记录缺失、重复或顺序错乱 / expected {self.expected}, found {item.seq}: one is missing, "
                         "repeated or out of order", self.record)
        if item.prev_hash != self.prev:
            return Break(self.where, item.seq, item.id, "与上一条的链接不符：有记录被删除、插入或调换 / does not link "
                         "to the previous one: one was deleted, inserted or swapped", self.record)
        if self.recompute(item) != item.hash:
            return Break(self.where, item.seq, item.id, "内容与其哈希不符：记录被修改 / content does not match its "
                         "hash: it was altered", self.record)
        if self.kept is not None and item.seq == self.kept[0] and item.hash != self.kept[1]:
            return Break(self.where, item.seq, item.id, "与检查点不符：检查点之前的记录被改写 / differs from the "
                         "checkpoint: the chain was rewritten", self.record)
        self.prev, self.expected = item.hash, self.expected + 1
        return None

    def end(self, head: tuple[int, str] | None = None) -> Break | None:
        """The first break, or where the chain ends against its ``head`` and the checkpoint."""
        if self.broken is not None:
            return self.broken
        last = self.expected - 1
        if head is not None and (head[0], head[1] or GENESIS) != (last, self.prev):
            return Break(self.where, None, None, f"链止于第 {last} 条，但链头记为第 {head[0]} 条：末尾记录被删除或改动 / "
                                                 f"the chain ends at {last} but its head says {head[0]}: records at "
                                                 "the end were removed or altered")
        if self.kept is not None and self.kept[0] > last:
            return Break(self.where, None, None, f"与检查点不符：检查点记有第 {self.kept[0]} 条，链只到第 {last} 条 / "
                                                 f"differs from the checkpoint: it holds record {self.kept[0]}, the "
                                                 f"chain ends at {last}")
        return None


def _campaign_chain(campaign_id: int) -> str:
    return f"campaign-{campaign_id}"


def _anchors_where(campaign_id: int) -> str:
    return f"整顿活动 #{campaign_id} 锚链 / campaign #{campaign_id} anchor chain"


def _kept(checkpoint: Checkpoint | None, name: str) -> tuple[int, str] | None:
    return checkpoint.chains.get(name) if checkpoint is not None else None


def _anchor_chains(session: Session, result: Verification, checkpoint: Checkpoint | None) -> dict[int, Anchored]:
    """Walk every campaign's anchor chain (streamed) to its head; returns each case's latest anchor."""
    latest: dict[int, Anchored] = {}
    heads = anchor_heads(session)
    walked = set()
    for campaign_id, anchors in groupby(anchors_streamed(session), key=lambda a: a.campaign_id):
        walked.add(campaign_id)
        links = _Links(_anchors_where(campaign_id), "anchor", _anchor_hash, _kept(checkpoint, _campaign_chain(campaign_id)))
        for anchor in anchors:
            result.anchors += 1
            links.step(anchor)
            before = latest.get(anchor.case_id)
            if before is not None and anchor.case_seq <= before.case_seq:
                links.fail(anchor.seq, anchor.id, f"记有整顿对象 id {anchor.case_id} 的第 {anchor.case_seq} 条事件，"
                           f"不在已锚定的第 {before.case_seq} 条之后 / holds event {anchor.case_seq} of case id "
                           f"{anchor.case_id}, not after event {before.case_seq} anchored before it")
            latest[anchor.case_id] = Anchored(campaign_id, anchor.seq, anchor.case_seq, anchor.event_hash)
        result.add(links.end(heads.get(campaign_id, (0, GENESIS))))
    for campaign_id in sorted(set(heads) - walked):  # a head whose anchors are all gone
        walked.add(campaign_id)
        result.add(_Links(_anchors_where(campaign_id), "anchor", _anchor_hash,
                          _kept(checkpoint, _campaign_chain(campaign_id))).end(heads[campaign_id]))
    kept = checkpoint.chains.items() if checkpoint is not None else ()
    gone = {name for name, (seq, _) in kept if name.startswith("campaign-") and seq > 0} - {
        _campaign_chain(c) for c in walked}
    for name in sorted(gone):
        result.add(Break(name, None, None, "与检查点不符：检查点中的锚链已不存在 / differs from the checkpoint: a "
                                           "chain it holds is gone"))
    return latest


def _anchors_of(session: Session, case_ids: list[int], result: Verification) -> dict[int, Anchored]:
    """Check the anchors of ``case_ids`` alone: each one's hash, and that the campaign's chain
    goes on from it (its next anchor links to it, or it is the head); returns the latest."""
    latest: dict[int, Anchored] = {}
    heads = anchor_heads(session)
    for anchor in anchors_of_cases(session, case_ids):
        result.anchors += 1
        where = _anchors_where(anchor.campaign_id)
        problem = None
        if _anchor_hash(anchor) != anchor.hash:
            problem = "内容与其哈希不符：锚点被修改 / content does not match its hash: the anchor was altered"
        elif anchor.next_prev is None and heads.get(anchor.campaign_id) != (anchor.seq, anchor.hash):
            problem = ("其后没有锚点，但它不是链头：其后的锚点被删除 / no anchor follows it, yet it is not the chain's "
                       "head: the anchors after it were removed")
        elif anchor.next_prev is not None and anchor.next_prev != anchor.hash:
            problem = ("下一个锚点与它的链接不符：有锚点被删除、插入或修改 / the next anchor does not link to it: one "
                       "was deleted, inserted or altered")
        result.add(Break(where, anchor.seq, anchor.id, problem, "anchor") if problem else None)
        latest[anchor.case_id] = Anchored(anchor.campaign_id, anchor.seq, anchor.case_seq, anchor.event_hash)
    return latest


def _filing_chain(session: Session, result: Verification) -> None:
    """The units' submissions and returns (报送、退回): one chain, like the refusals."""
    links = _Links("单位报送记录 / the units' filings", "filing", _filing_hash)
    for action in duty_actions_streamed(session):
        result.filings += 1
        links.step(action)
    result.add(links.end())


def _filing_hash(a: Any) -> str:
    return duty_action_hash(a.seq, a.unit_duty_id, a.kind, a.at, a.actor, a.note, a.files, a.prev_hash, a.via)


def _refusal_chain(session: Session, result: Verification, checkpoint: Checkpoint | None) -> None:
    links = _Links("拒绝记录 / the refusals log", "refusal", _refusal_hash, _kept(checkpoint, "refusals"))
    for refusal in refusals_streamed(session):
        result.refusals += 1
        links.step(refusal)
    result.add(links.end())


# --- each case: its chain, its anchor, its rows -------------------------------------------------

def check_case(case: Case, events: list[Event]) -> Break | None:
    """Walk one case's events in storage order (id) and return the first break."""
    prev, expected = GENESIS, 1
    for event in events:
        if event.seq != expected:
            what = "缺失 / missing" if event.seq > expected else "顺序错乱或重复 / out of order or repeated"
            return Break(case.ref, expected, event.id, f"应为第 {expected} 条，实为第 {event.seq} 条：事件{what} "
                                                     f"(expected event {expected}, found {event.seq})")
        if event.prev_hash != prev:
            return Break(case.ref, event.seq, event.id, "与上一条事件的链接不符：有事件被删除、插入或调换 / "
                                                        "does not link to the previous event: one was deleted, "
                                                        "inserted or swapped")
        if hash_of(event) != event.hash:
            return Break(case.ref, event.seq, event.id, "内容与其哈希不符：事件被修改 / content does not match "
                                                        "its hash: the event was altered")
        prev, expected = event.hash, expected + 1
    if (case.event_seq, case.event_head or GENESIS) != (expected - 1, prev):
        return Break(case.ref, None, None, f"事件链止于第 {expected - 1} 条，但记录的末条为第 {case.event_seq} 条："
                                           f"末尾事件被删除或改动 / the chain ends at event {expected - 1} but the "
                                           f"case's head says {case.event_seq}: events at the end were removed")
    return None


def _against_anchor(case: Case, events: list[Event], anchored: Anchored | None) -> Break | None:
    """A whole chain against the case's latest anchor: it must still hold the anchored event,
    and no event may follow it (every writer anchors, the daemon's chunks too)."""
    covered = 0
    if anchored is not None:
        zh = f"整顿活动 #{anchored.campaign_id} 锚链第 {anchored.seq} 个锚点"
        en = f"anchor #{anchored.seq} of campaign #{anchored.campaign_id}"
        if anchored.campaign_id != case.campaign_id:
            return Break(case.ref, None, None, f"{zh}不属于本整顿对象的整顿活动 / {en} is not of the case's campaign")
        if anchored.case_seq > len(events):
            return Break(case.ref, None, None, f"{zh}记有第 {anchored.case_seq} 条事件，但事件链止于第 {len(events)} 条："
                                               f"末尾事件被删除 / {en} holds event {anchored.case_seq}, but the chain "
                                               f"ends at event {len(events)}: events at the end were removed")
        event = events[anchored.case_seq - 1]
        if event.hash != anchored.event_hash:
            return Break(case.ref, event.seq, event.id, f"与{zh}记有的哈希不符：事件链被改写 / differs from the hash "
                                                        f"{en} holds: the chain was rewritten")
        covered = anchored.case_seq
    if len(events) > covered:
        event = events[covered]
        return Break(case.ref, event.seq, event.id, "未锚定于整顿活动锚链：事件是绕过本系统添加的 / not anchored "
                                                    "in the campaign's chain: it was added behind the project's back")
    return None


def _against_checkpoint(case: Case, events: list[Event], head: tuple[int, str]) -> Break | None:
    seq, digest = head
    if seq == 0:
        return None
    if seq > len(events) or events[seq - 1].hash != digest:
        return Break(case.ref, seq, events[seq - 1].id if seq <= len(events) else None,
                     "与检查点不符：检查点之前的事件被改写 / differs from the checkpoint: the chain was rewritten")
    return None


@dataclass(frozen=True)
class Replayed:
    """What a case's events say its state, round and facts are."""

    state: str | None
    round: int | None
    facts: dict[str, Any]


def replay(events: Iterable[Event]) -> Replayed:
    """Recompute a case's state, round and facts from its events, in order: an opening or a
    transition sets the state and round (and drops the facts a new round cleared); a fact
    event sets its fact (or clears it, when its new value is None)."""
    state: str | None = None
    round_: int | None = None
    facts: dict[str, Any] = {}
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        if event.kind in ("opened", "transition"):
            state, round_ = event.to_state, event.round
            for name in data.get("cleared_facts") or {}:
                facts.pop(name, None)
        elif event.kind == "fact":
            name, new = data.get("fact"), data.get("new")
            if isinstance(name, str):
                if new is None:
                    facts.pop(name, None)
                else:
                    facts[name] = new
    return Replayed(state, round_, facts)


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _against_rows(case: Case, events: list[Event], fact_rows: list[Any]) -> Break | None:
    """The case row's state and round, and its stored facts, against what its events say."""
    said = replay(events)
    absent = "无 / absent"
    stored = {row.name: _shown(row.value["v"]) if isinstance(row.value, dict) and set(row.value) == {"v"}
              else f"malformed {_shown(row.value)}" for row in fact_rows}
    replayed = {name: _shown(value) for name, value in said.facts.items()}
    differs = []
    if case.state != said.state:
        differs.append(f"state 状态 {_shown(case.state)} (events: {_shown(said.state)})")
    if case.round != said.round:
        differs.append(f"round 轮次 {case.round} (events: {said.round})")
    for name in sorted(stored.keys() | replayed.keys()):
        if stored.get(name) != replayed.get(name):
            differs.append(f"fact 事实 {name} = {stored.get(name, absent)} (events: {replayed.get(name, absent)})")
    if not differs:
        return None
    return Break(case.ref, None, None, "记录与其事件不符：被绕过本系统改动 / the case differs from what its events "
                                       "say, changed behind the project's back: " + "; ".join(differs))


T = TypeVar("T")


class _ByCase(Generic[T]):
    """Rows streamed by case id, taken a case at a time while the cases are walked in id order."""

    def __init__(self, rows: Iterable[T], case_of: Callable[[T], int]):
        self.groups = groupby(rows, key=case_of)
        self.pending = next(self.groups, None)

    def take(self, case_id: int) -> list[T]:
        while self.pending is not None and self.pending[0] < case_id:
            self.pending = next(self.groups, None)  # rows of a case that no longer exists
        if self.pending is None or self.pending[0] != case_id:
            return []
        rows = list(self.pending[1])
        self.pending = next(self.groups, None)
        return rows


def case_records(session: Session, case_ids: list[int] | None = None) -> Iterator[tuple[Case, list[Event], list[Any]]]:
    """Each case (by id) with its events in storage order and its stored facts, the events and
    facts streamed in one query each."""
    events = _ByCase(case_queries.events_streamed(session, case_ids), lambda e: e.case_id)
    facts = _ByCase(facts_streamed(session, case_ids), lambda r: r.case_id)
    for case in case_queries.cases_by_id(session, case_ids):
        yield case, events.take(case.id), facts.take(case.id)


def verify(session: Session, case_ids: list[int] | None = None, checkpoint: Checkpoint | None = None,
           files: EvidenceFiles | None = None) -> Verification:
    """Check every chain (or those of ``case_ids`` and their anchors), each case against its
    anchor and its rows (facts, evidence) against its events; with a checkpoint, also that every
    head it holds is still in its chain with the same hash; with the evidence store ``files``,
    that every evidence file is there and hashes to its record. Every problem is counted, each
    case's chain and rows once, each damaged file for each row naming it."""
    result = Verification(checkpoint_digest=checkpoint.digest if checkpoint else None)
    everything = case_ids is None
    if everything:
        latest = _anchor_chains(session, result, checkpoint)
        _refusal_chain(session, result, checkpoint)
        _filing_chain(session, result)
    else:
        latest = _anchors_of(session, list(case_ids or ()), result)
    evidence = _ByCase(case_evidence_streamed(session, case_ids), lambda r: r.case_id)
    listed = _ByCase(problems_streamed(session, case_ids), lambda r: r.case_id)  # problem lists
    for case, events, facts in case_records(session, case_ids):
        result.cases += 1
        result.events += len(events)
        anchored = latest.pop(case.id, None)
        broken = check_case(case, events)
        found = broken or _against_anchor(case, events, anchored)
        if found is None and checkpoint and case.ref in checkpoint.heads:
            found = _against_checkpoint(case, events, checkpoint.heads[case.ref])
        result.add(found)
        attached = evidence.take(case.id)
        problems = listed.take(case.id)
        if broken is None:  # replaying an altered chain would prove nothing more
            result.add(_against_rows(case, events, facts))
            for problem in evidence_audit.case_problems(events, attached):
                result.add(Break(case.ref, None, None, problem))
            for problem in problem_audit.case_problems(events, problems):
                result.add(Break(case.ref, None, None, problem))
    if files is not None:
        checked = evidence_audit.FilesChecked()
        with closing(evidence_by_hash_streamed(session, case_ids)) as rows:  # closed if a read fails half-way
            for where, problem in evidence_audit.file_problems(rows, files, checked):
                result.add(Break(where, None, None, problem))
        result.evidence_files = checked.files
    if everything:
        for case_id, anchored in latest.items():
            result.add(Break(_anchors_where(anchored.campaign_id), anchored.seq, None, f"记有的整顿对象 id {case_id} "
                             f"已不存在 / holds case id {case_id}, which no longer exists", "anchor"))
        if checkpoint:
            for ref in sorted(set(checkpoint.heads) - case_queries.case_refs(session)):
                result.add(Break(ref, None, None, "检查点中的整顿对象已不存在 / a case of the checkpoint is gone"))
    return result


# --- checkpoints ----------------------------------------------------------------------------------

def checkpoint_digest(document: dict[str, Any]) -> str:
    """A checkpoint's own digest: SHA-256 over its canonical JSON, all but the digest itself."""
    body = {key: value for key, value in document.items() if key != "digest"}
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


def checkpoint(session: Session, at: str) -> dict[str, Any]:
    """Every chain's head, to keep outside the database (a later verify compares): the cases',
    the campaigns' anchor chains' and the refusals log's, with the document's digest."""
    heads = {ref: [seq, head or GENESIS] for ref, seq, head in case_queries.chain_heads(session)}
    chains: dict[str, list[Any]] = {_campaign_chain(c): [seq, digest]
                                    for c, (seq, digest) in sorted(anchor_heads(session).items())}
    last = last_refusal(session)
    chains["refusals"] = [last.seq, last.hash] if last else [0, GENESIS]
    document = {"format": CHECKPOINT_FORMAT, "method": METHOD, "at": at, "cases": len(heads), "heads": heads,
                "chains": chains}
    return {**document, "digest": checkpoint_digest(document)}


def read_checkpoint(document: Any, source: str) -> Checkpoint:
    """A checkpoint file's content, checked against its own digest before it is believed:
    ``BadInput`` if it is not a checkpoint, ``CheckFailed`` if it was edited after it was
    written (it no longer gives its own digest)."""
    try:
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        heads = _heads(document["heads"], "heads")
        if document.get("format") == CHECKPOINT_FORMAT:
            chains, expected = _heads(document["chains"], "chains"), checkpoint_digest(document)
        else:  # written before the anchors: its digest covers the cases' heads
            chains, expected = {}, hashlib.sha256(json.dumps(document["heads"], sort_keys=True).encode()).hexdigest()
        digest = document["digest"]
        if not isinstance(digest, str):
            raise ValueError("digest must be a string")
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{source}: 不是有效的检查点文件 / not a checkpoint written by 'rectify audit checkpoint': "
                       f"{exc}") from exc
    if digest != expected:
        raise CheckFailed(f"{source}: 检查点文件与其摘要不符，写出后被改动过 / the checkpoint does not match its own "
                          f"digest (it says {digest}, its content gives {expected}): it was altered after it was "
                          "written; use the copy whose digest was published")
    return Checkpoint(digest, heads, chains)


def _heads(value: Any, name: str) -> dict[str, tuple[int, str]]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must map names to [seq, hash]")
    heads = {}
    for key, head in value.items():
        if not (isinstance(head, list) and len(head) == 2 and type(head[0]) is int and isinstance(head[1], str)):
            raise ValueError(f"{name} must map names to [seq, hash]; {key!r} does not")
        heads[key] = (head[0], head[1])
    return heads


def trail(session: Session, case: Case) -> list[dict[str, Any]]:
    """A case's full trail, each event with its links, as exported by ``rectify audit export``."""
    return [{"seq": e.seq, "at": utc_text(e.at), "actor": e.actor, "kind": e.kind, "trigger": e.trigger,
             "from": e.from_state, "to": e.to_state, "round": e.round, "note": e.note, "data": e.data,
             "prev_hash": e.prev_hash, "hash": e.hash}
            for e in case_queries.events_of(session, case.id)]
