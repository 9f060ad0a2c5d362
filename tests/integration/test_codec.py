"""Large payloads travel compressed, so a program of thousands stays inside Temporal's payload limits."""

import zoneinfo

from temporalio.api.common.v1 import Payload

from adapters.codec import COMPRESS_ABOVE, DATA_CONVERTER, ENCRYPTED, ZLIB, CompressionCodec, Keyring, data_converter
from bench.roster import roster_csv
from domain.answers import CoordinatorAction
from domain.people import parse_roster
from domain.program import ProgramInput, new_program_state
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, spec
from tests.helpers.programs import result, start_program, status

WARNING_LIMIT = 512 * 1024  # Temporal warns above this; it refuses above 2 MiB


async def test_large_payloads_are_compressed_and_small_ones_stay_readable() -> None:
    codec = CompressionCodec(above=1000)
    small = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    large = Payload(metadata={"encoding": b"json/plain"}, data=b'{"participant": "x"},' * 500)
    encoded = await codec.encode([small, large])
    assert encoded[0] == small
    assert encoded[1].metadata["encoding"] == ZLIB and encoded[1].ByteSize() < large.ByteSize() / 10
    assert await codec.decode(encoded) == [small, large]


async def test_a_five_thousand_person_program_fits_well_inside_the_limits() -> None:
    people = parse_roster(roster_csv(5000), frozenset(zoneinfo.available_timezones()))
    inp = ProgramInput(spec=spec(), roster=people)
    carried = ProgramInput(spec=spec(), roster=[], state=new_program_state(inp))  # what continue-as-new sends
    production = data_converter(Keyring.generate())  # compressed, then encrypted
    for value in (inp, carried):
        plain = DATA_CONVERTER.payload_converter.to_payloads([value])[0]
        assert plain.ByteSize() > WARNING_LIMIT  # too big as plain JSON
        sent = (await DATA_CONVERTER.encode([value]))[0]
        assert sent.metadata["encoding"] == ZLIB and sent.ByteSize() < WARNING_LIMIT
        sealed = (await production.encode([value]))[0]
        assert sealed.metadata["encoding"] == ENCRYPTED and sealed.ByteSize() < WARNING_LIMIT


async def test_a_program_with_a_compressed_input_runs(dev_harness: Harness) -> None:
    # On the local dev server: on the shared time-skipping server this 600-person program once stalled the tests
    # after it, and in a later run took over 15 minutes and 16 GB of test-process memory.
    harness = dev_harness
    people = parse_roster(roster_csv(600), frozenset(zoneinfo.available_timezones()))
    assert DATA_CONVERTER.payload_converter.to_payloads([people])[0].ByteSize() > COMPRESS_ABOVE
    handle = await start_program(harness, spec(), people)
    assert (await status(handle)).funnel.invited == 600
    # Cancelled as a coordinator would, and awaited, rather than terminated with its invitations in flight.
    await handle.execute_update(
        "cancel", CoordinatorAction(coordinator=COORDINATOR, reason="seen running"), result_type=str
    )
    assert (await result(handle)).cancelled
