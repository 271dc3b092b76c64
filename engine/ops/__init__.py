"""Operations on the campaign inside a caller's transaction: cases and their facts and
transitions, timers, notices (the outbox rows), organizations and officials, identity, the
audit chains, the quota, the survey and the spot-check draw, deployed workflows, the ledger.
Nothing here commits, decides who the caller is, or talks to the outside world."""
