"""Search attributes, so the Temporal UI can filter workflows by program and phase."""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

PROGRAM = SearchAttributeKey.for_keyword("FlipsideProgram")
PHASE = SearchAttributeKey.for_keyword("FlipsidePhase")
KIND = SearchAttributeKey.for_keyword("FlipsideKind")
ALL = (PROGRAM, PHASE, KIND)


def initial(program_id: str, phase: str, kind: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [SearchAttributePair(PROGRAM, program_id), SearchAttributePair(PHASE, phase), SearchAttributePair(KIND, kind)]
    )
