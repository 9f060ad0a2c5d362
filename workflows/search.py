"""Search attributes, so the Temporal UI can filter workflows by program and phase, and list them with a summary.

`FlipsideSummary` holds the workflow's one-line summary (domain/summaries.py) in plain text, so the UI's
workflow list can show it as a column: the summary proper is user metadata, sealed by the payload codec, and the
list is built from visibility records, which never hold it. The line names ids, counts and durations only.
"""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

PROGRAM = SearchAttributeKey.for_keyword("FlipsideProgram")
PHASE = SearchAttributeKey.for_keyword("FlipsidePhase")
KIND = SearchAttributeKey.for_keyword("FlipsideKind")
SUMMARY = SearchAttributeKey.for_keyword("FlipsideSummary")
ALL = (PROGRAM, PHASE, KIND, SUMMARY)


def initial(program_id: str, phase: str, kind: str, summary: str | None = None) -> TypedSearchAttributes:
    pairs = [
        SearchAttributePair(PROGRAM, program_id),
        SearchAttributePair(PHASE, phase),
        SearchAttributePair(KIND, kind),
    ]
    if summary is not None:
        pairs.append(SearchAttributePair(SUMMARY, summary))
    return TypedSearchAttributes(pairs)
