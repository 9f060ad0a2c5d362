"""Roster import at scale: thousands of rows, and every bad one reported with its line and a reason, all at once."""

import zoneinfo

import pytest

from bench.roster import SPOILS, chain_rows, roster_csv, roster_rows, spoil, start_lines, to_csv
from domain.people import ROSTER_HEADER, Role, RosterError, parse_roster

ZONES = frozenset(zoneinfo.available_timezones())
HEADER = ",".join(ROSTER_HEADER) + "\n"


def problems_of(text: str, zones: frozenset[str] | None = ZONES) -> list[tuple[int, str]]:
    with pytest.raises(RosterError) as error:
        parse_roster(text, zones)
    return [(p.line, p.message) for p in error.value.problems]


def test_a_generated_roster_of_5000_rows_parses_to_5000_participants() -> None:
    rows = roster_rows(5000)

    people = parse_roster(to_csv(rows), ZONES)

    assert len(people) == 5000
    assert len({p.email for p in people}) == 5000
    assert [p.email for p in people] == [row[0].lower() for row in rows]
    top, first_report = people[0], people[1]
    assert (top.role, top.manager_email, top.timezone) == (Role.MENTEE, None, "UTC")  # an empty zone means UTC
    assert "\n" in rows[0][1] and top.name == " ".join(rows[0][1].split())  # a line break in a name is dropped
    assert first_report.manager_email == top.email
    assert all(p.skills_offered for p in people) and all(s == s.strip().lower() for s in people[5].skills_offered)
    by_email = {p.email: p for p in people}
    assert all(p.manager_email is None or p.manager_email in by_email for p in people)


def test_every_kind_of_bad_row_is_reported_with_its_line_and_a_reason_all_at_once() -> None:
    text = HEADER + (
        'ana@example.com,"Ana\nLopez",mentor,1,engineering,ai tools,,,Europe/London,bo@example.com\n'  # lines 2-3
        "bo@example.com,Bo Chen,mentee,9,sales,,,,Europe/Londn,\n"
        "ANA@example.com,Ana Again,mentee,6,sales,,,,UTC,\n"
        "cy@example.com,Cy Diaz,boss,5,sales,,,,UTC,\n"
        "di@example.com,Di Eze,mentee,senior,sales,,,,UTC,\n"
        "ed@example.com,Ed Fox,mentee,21,sales,,,,Mars/Base,\n"  # line 8: two problems
        "fay@example.com,Fay Gill,mentee,7,sales,,,,UTC,gus@example.com\n"  # lines 9-11: a loop of three
        "gus@example.com,Gus Ho,mentee,8,sales,,,,UTC,hal@example.com\n"
        "hal@example.com,Hal Ito,mentee,9,sales,,,,UTC,fay@example.com\n"
        "ivy@example.com,Ivy Jo,mentee,3,sales,,,,UTC,fay@example.com\n"  # reports into the loop, is not in it
        "jo@example.com,Jo Kay,mentor,2,sales,,,,UTC,JO@example.com\n"
        "kim at example.com,Kim Lee,mentor,2,sales,,,,UTC,\n"
        "lu@example.com,Lu Ma,mentor,2,sales,,,,UTC,lu's boss\n"
        "mo@example.com,Mo Ng,mentor,2\n"
        "nia@example.com,Lopez, Nia,mentor,2,sales,,,,UTC,\n"
        "pat@example.com,,mentor,2,sales,,,,UTC,\n"
        ",Quin Roe,,,sales,,,,UTC,\n"
    )

    assert problems_of(text) == [
        (4, "timezone: unknown time zone 'Europe/Londn'; did you mean 'Europe/London'?"),
        (5, "email: ana@example.com already appears on line 2"),
        (6, "role: 'boss' is not a role; use mentor, mentee or either"),
        (7, "seniority: 'senior' is not a whole number from 0 to 20, higher is more senior"),
        (8, "seniority: '21' is not a whole number from 0 to 20, higher is more senior"),
        (8, "timezone: unknown time zone 'Mars/Base'"),
        (9, "manager_email: the chain of managers loops back: fay@example.com -> gus@example.com -> hal@example.com"
            " -> fay@example.com"),
        (10, "manager_email: the chain of managers loops back: gus@example.com -> hal@example.com -> fay@example.com"
             " -> gus@example.com"),
        (11, "manager_email: the chain of managers loops back: hal@example.com -> fay@example.com -> gus@example.com"
             " -> hal@example.com"),
        (13, "manager_email: a person cannot be their own manager"),
        (14, "email: 'kim at example.com' is not an email address"),
        (15, "manager_email: \"lu's boss\" is not an email address"),
        (16, "expected 10 columns, found 4"),
        (17, "expected 10 columns, found 11; a value containing a comma must be in double quotes"),
        (18, "name: missing"),
        (19, "email: missing"),
        (19, "role: missing; use mentor, mentee or either"),
        (19, "seniority: missing; use a whole number from 0 to 20, higher is more senior"),
    ]  # fmt: skip


def test_every_spoiled_row_of_a_5000_row_roster_is_reported_and_no_other() -> None:
    rows = roster_rows(5000)
    spoiled = spoil(rows)
    lines = start_lines(rows)  # counted independently of the csv module, line breaks in cells included
    assert {kind for _, kind in spoiled} == set(SPOILS) and lines[-1] > 5001

    problems = problems_of(to_csv(rows))

    reported: dict[int, list[str]] = {}
    for line, message in problems:
        reported.setdefault(line, []).append(message)
    assert sorted(reported) == sorted(lines[i] for i, _ in spoiled)
    for i, kind in spoiled:
        assert any(SPOILS[kind] in message for message in reported[lines[i]]), (kind, reported[lines[i]])
        if kind == "duplicate email":
            assert f"already appears on line {lines[i - 1]}" in " ".join(reported[lines[i]])


def test_nothing_is_returned_when_a_single_row_of_5000_is_bad() -> None:
    rows = roster_rows(5000)
    rows[-1][2] = "observer"

    assert problems_of(to_csv(rows)) == [
        (start_lines(rows)[-1], "role: 'observer' is not a role; use mentor, mentee or either")
    ]


def test_a_quoted_cell_with_line_breaks_keeps_the_line_numbers_of_the_rows_after_it() -> None:
    three_lines = 'a@example.com,Ann Ash,mentor,1,eng,"ai tools;\nvideo;\nsql",,,UTC,\n'
    text = (
        HEADER
        + three_lines
        + (  # the first row is on lines 2-4
            "b@example.com,Bo Bell,boss,6,eng,,,,UTC,\n"  # line 5
            'c@example.com,"Cy\nCole",boss,6,eng,,,,UTC,\n'  # lines 6-7, reported by the line it starts on
            "d@example.com,Di Dunn,boss,6,eng,,,,UTC,\n"  # line 8
        )
    )

    assert [line for line, _ in problems_of(text)] == [5, 6, 8]
    (ann,) = parse_roster(HEADER + three_lines, ZONES)
    assert ann.skills_offered == ["ai tools", "video", "sql"]


def test_an_unmatched_quote_is_pointed_at_rather_than_swallowing_the_file_silently() -> None:
    text = HEADER + 'a@example.com,"Ann Ash,mentor,1,eng,,,,UTC,\nb@example.com,Bo Bell,mentee,6,eng,,,,UTC,\n'

    assert problems_of(text) == [
        (2, 'expected 10 columns, found 2; this row runs on to line 3: check it for an unmatched "')
    ]


def test_a_quote_left_open_in_a_large_file_stops_the_reading_at_its_row_and_says_why() -> None:
    rows = [row for row in roster_rows(3000) if not any(c in cell for cell in row for c in ',"\n')]
    rows[5][1] = "OPEN"
    text = to_csv(rows).replace("OPEN", '"Ann')  # no quote after it: the cell runs past csv's 128 KiB limit

    assert problems_of(text) == [
        (7, 'the file cannot be read past this row (field larger than field limit (131072)); check it for an'
            ' unmatched "')
    ]  # fmt: skip


def test_a_deep_chain_of_managers_without_a_loop_passes() -> None:
    rows = chain_rows(3000)

    people = parse_roster(to_csv(rows), ZONES)

    assert [p.manager_email for p in people[1:]] == [p.email for p in people[:-1]]


def test_a_long_loop_is_named_by_its_first_few_people_and_its_size() -> None:
    rows = chain_rows(10)
    rows[0][9] = rows[-1][0]  # the top now reports to the bottom: ten people in one loop

    problems = problems_of(to_csv(rows))

    assert len(problems) == 10
    line, message = problems[0]
    emails = [row[0].lower() for row in rows]
    assert line == 2
    assert message == (
        f"manager_email: the chain of managers loops back: {emails[0]} -> {emails[9]} -> {emails[8]} -> ... -> "
        f"{emails[1]} -> {emails[0]} (10 people)"
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("email,name\n", "missing: role, seniority, department, skills_offered, skills_wanted, interests, timezone,"
         " manager_email"),
        (HEADER.replace("manager_email", "manager").replace("email,", "e-mail,", 1),
         "missing: email, manager_email; unexpected: 'e-mail' (did you mean email?), 'manager' (did you mean"
         " manager_email?)"),
        (HEADER.rstrip("\n") + ",\n", "unexpected: an unnamed column"),
        (HEADER.replace("name,role", "role,name"), "the columns are in a different order"),
        (HEADER.replace("name,role", "name,email"), "missing: role; repeated: email"),
    ],
)  # fmt: skip
def test_a_wrong_header_says_which_columns_are_missing_or_unexpected(header: str, message: str) -> None:
    assert problems_of(header + "a@example.com,Ann Ash,mentor,1,eng,,,,UTC,\n") == [
        (1, f"the header must be {','.join(ROSTER_HEADER)}; {message}")
    ]


def test_an_empty_file_or_one_with_no_one_in_it_is_refused() -> None:
    assert problems_of("") == [(1, f"the file is empty; the first line must be the header {','.join(ROSTER_HEADER)}")]
    assert problems_of(HEADER + "\n,,,,,,,,,\n") == [(1, "the roster has no participants")]


def test_a_spreadsheet_export_with_bom_capitals_crlf_and_empty_rows_reads_cleanly() -> None:
    text = (
        "\ufeff"
        + HEADER.upper().replace("\n", "\r\n")
        + ("a@example.com,Ann Ash,Mentor,1,Eng ,AI tools;;Video ,,,europe/london,\r\n\r\n,,,,,,,,,\r\n")
    )

    assert problems_of(text) == [(2, "timezone: unknown time zone 'europe/london'; did you mean 'Europe/London'?")]
    (ann,) = parse_roster(text.replace("europe/london", "Europe/London"), ZONES)
    assert (ann.role, ann.department, ann.skills_offered, ann.timezone) == (
        Role.MENTOR,
        "Eng",
        ["ai tools", "video"],
        "Europe/London",
    )


def test_time_zones_are_not_checked_without_a_list_to_check_them_against() -> None:
    (ann,) = parse_roster(HEADER + "a@example.com,Ann Ash,mentor,1,eng,,,,Mars/Base,\n")

    assert ann.timezone == "Mars/Base"


def test_the_generator_is_deterministic_so_failures_can_be_replayed() -> None:
    assert roster_csv(50, seed=3) == roster_csv(50, seed=3) != roster_csv(50, seed=4)
