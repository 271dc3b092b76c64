"""The tamper-evident audit log: each case's events form a hash chain.

An event's hash is SHA-256 over its canonical content (case, number, time, actor, what
changed, why) and the hash of the case's previous event; the case row keeps the head (last
number and hash). Database triggers refuse UPDATE and DELETE on the events, so changes must
be made behind the project's back (triggers dropped, the file edited), and then
``verify`` finds them: an edited event no longer matches its hash, a deleted or reordered
one breaks the numbering or the links, an inserted one has no valid link, a cut-off tail
no longer reaches the head. A checkpoint (the heads, kept somewhere else) also catches a
rewrite of a whole chain and its head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Any

from engine.store import case_queries
from engine.store.chain import GENESIS, METHOD, event_hash, utc_text
from engine.store.models import Case, Event

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def hash_of(event: Event) -> str:
    return event_hash(event.case_id, event.seq, event.at, event.actor, event.kind, event.trigger,
                      event.from_state, event.to_state, event.round, event.note, event.data, event.prev_hash)


def chain(case: Case, event: Event) -> None:
    """Link a new event to the case's chain and move the head (before the event is flushed)."""
    # What is hashed must be what the database gives back: JSON turns tuples into lists.
    event.data = json.loads(json.dumps(event.data or {}))
    event.seq = case.event_seq + 1
    event.prev_hash = case.event_head or GENESIS
    event.hash = hash_of(event)
    case.event_seq, case.event_head = event.seq, event.hash


@dataclass(frozen=True)
class Break:
    """The first place where a case's chain is not what the project wrote."""

    case_ref: str
    seq: int | None
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.case_ref} 第 {self.seq} 条事件 event #{self.seq} (id {self.event_id})" if self.seq \
            else self.case_ref
        return f"{where}: {self.problem}"


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


def case_chains(session: Session, case_ids: list[int] | None = None) -> Iterator[tuple[Case, list[Event]]]:
    """Each case with its events in storage order, streaming the events in one query."""
    cases = case_queries.cases_by_id(session, case_ids)
    stream = groupby(case_queries.events_streamed(session, case_ids), key=lambda e: e.case_id)
    pending = next(stream, None)
    for case in cases:  # both ordered by case id: walk them side by side
        while pending is not None and pending[0] < case.id:
            pending = next(stream, None)  # events of a case that no longer exists: nothing to check them by
        if pending is not None and pending[0] == case.id:
            yield case, list(pending[1])
            pending = next(stream, None)
        else:
            yield case, []


@dataclass
class Verification:
    cases: int = 0
    events: int = 0
    first_break: Break | None = None
    checkpoint_breaks: int = 0

    @property
    def ok(self) -> bool:
        return self.first_break is None


def verify(session: Session, case_ids: list[int] | None = None,
           checkpoint: dict[str, list[Any]] | None = None) -> Verification:
    """Check every chain (or those of ``case_ids``); with a checkpoint, also that each head
    recorded there is still in its chain with the same hash."""
    result = Verification()
    for case, events in case_chains(session, case_ids):
        result.cases += 1
        result.events += len(events)
        found = check_case(case, events)
        if found is None and checkpoint and case.ref in checkpoint:
            found = _against_checkpoint(case, events, checkpoint[case.ref])
        if found is not None and result.first_break is None:
            result.first_break = found
    if checkpoint:
        known = case_queries.case_refs(session) if case_ids is None else set()
        missing = sorted(set(checkpoint) - known) if case_ids is None else []
        if missing and result.first_break is None:
            result.first_break = Break(missing[0], None, None, "检查点中的整顿对象已不存在 / a case of the "
                                                               "checkpoint is gone")
    return result


def _against_checkpoint(case: Case, events: list[Event], head: list[Any]) -> Break | None:
    seq, digest = int(head[0]), str(head[1])
    if seq == 0:
        return None
    if seq > len(events) or events[seq - 1].hash != digest:
        return Break(case.ref, seq, events[seq - 1].id if seq <= len(events) else None,
                     "与检查点不符：检查点之后有事件被改写 / differs from the checkpoint: the chain was rewritten")
    return None


def checkpoint(session: Session) -> dict[str, Any]:
    """The heads of every chain, to keep outside the database (a later verify compares)."""
    heads = {ref: [seq, head or GENESIS] for ref, seq, head in case_queries.chain_heads(session)}
    digest = hashlib.sha256(json.dumps(heads, sort_keys=True).encode()).hexdigest()
    return {"method": METHOD, "cases": len(heads), "digest": digest, "heads": heads}


def trail(session: Session, case: Case) -> list[dict[str, Any]]:
    """A case's full trail, each event with its links, as exported by ``rectify audit export``."""
    return [{"seq": e.seq, "at": utc_text(e.at), "actor": e.actor, "kind": e.kind, "trigger": e.trigger,
             "from": e.from_state, "to": e.to_state, "round": e.round, "note": e.note, "data": e.data,
             "prev_hash": e.prev_hash, "hash": e.hash}
            for e in case_queries.events_of(session, case.id)]
