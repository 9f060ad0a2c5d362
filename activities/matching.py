"""Matching runs as an activity: it can take seconds for a large cohort, which a workflow task must not.

Synchronous on purpose: the solver is CPU-bound, so it runs on the worker's thread pool and never stalls the
event loop that drives the workflows.
"""

import structlog
from temporalio import activity

from activities.messages import MatchRequest
from domain.matching import MatchProposal, propose_matches

log = structlog.get_logger()


@activity.defn(name="propose_matches")
def propose_matches_activity(request: MatchRequest) -> MatchProposal:
    proposal = propose_matches(request.people, request.mode, request.context)
    log.info(
        "matches proposed",
        program_id=request.program_id,
        people=len(request.people),
        pairs=len(proposal.pairs),
        unmatched=len(proposal.unmatched),
    )
    return proposal
