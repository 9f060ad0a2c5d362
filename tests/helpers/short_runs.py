"""A program workflow that hands over to a fresh run after 60 events instead of 3,000, registered
under the program's own name: a test sees continue-as-new in a twelve-person program, in seconds."""

from temporalio import workflow

from workflows.program import ProgramWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.program import ProgramInput, ProgramResult

SHORT_RUN = 60  # events: a twelve-person program hands over before its pairings are approved, and after


@workflow.defn(name="ProgramWorkflow")
class ShortRunProgram(ProgramWorkflow):
    events_per_run = SHORT_RUN

    @workflow.run
    async def run(self, inp: ProgramInput) -> ProgramResult:  # the SDK wants the run method on the class itself
        return await super().run(inp)
