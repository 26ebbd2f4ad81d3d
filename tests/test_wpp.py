"""The WPP reader: formats, units, and a clear line-and-column error for every bad file."""

import gzip

import pytest

from forecasts import wpp


def read_all(path, **options):
    reader = wpp.read(path, **options)
    records = [record for chunk in reader.chunks() for record in chunk.itertuples(index=False)]
    return reader, records


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


LONG_HEADER = (
    "SortOrder,LocID,Notes,ISO3_code,LocTypeName,ParentID,Location,Variant,Time,PopTotal\n"
)


def long_rows(*rows):
    return LONG_HEADER + "".join(row + "\n" for row in rows)


def test_wide_file_gives_estimates_in_persons(small_wide_file):
    reader, records = read_all(small_wide_file)
    assert reader.file_format == wpp.WIDE
    assert reader.edition == "WPP2019"
    world_1950 = next(r for r in records if r.region_code == 900 and r.year == 1950)
    assert world_1950.persons == 2_536_431_000
    assert {r.variant for r in records} == {wpp.ESTIMATES}


def test_wide_file_keeps_hierarchy_and_headings(small_wide_file):
    reader, records = read_all(small_wide_file)
    heading = reader.locations[1803]
    assert heading.is_heading
    assert heading.parent_code == 900
    assert reader.locations[900].parent_code is None
    assert not any(r.region_code == 1803 for r in records)


def test_wide_file_decodes_latin1_names(small_wide_file):
    reader, _ = read_all(small_wide_file)
    assert reader.locations[384].name == "Côte d'Ivoire"


def test_wide_file_saved_as_utf8_with_bom_reads_the_same(tmp_path, small_wide_file):
    text = small_wide_file.read_bytes().decode("latin-1")
    copy = write(tmp_path, "copy.csv", "\ufeff" + text, encoding="utf-8")
    reader, records = read_all(copy)
    assert reader.locations[384].name == "Côte d'Ivoire"
    assert len(records) == len(read_all(small_wide_file)[1])


def test_real_wpp2019_file_has_285_series_of_71_years(wpp2019_file):
    reader, records = read_all(wpp2019_file)
    assert len(reader.locations) == 289
    assert len(records) == 285 * 71
    assert sum(location.is_heading for location in reader.locations.values()) == 4


def test_long_file_splits_medium_into_estimates_and_projection(small_long_file):
    reader, records = read_all(small_long_file)
    assert reader.file_format == wpp.LONG
    assert reader.last_estimate_year == 2021
    medium_years = {r.year for r in records if r.variant == wpp.MEDIUM}
    estimate_years = {r.year for r in records if r.variant == wpp.ESTIMATES}
    assert max(estimate_years) == 2021 and min(medium_years) == 2022
    assert {r.variant for r in records} == {wpp.ESTIMATES, wpp.MEDIUM, "Low", "High"}


def test_long_file_converts_thousands_with_decimals_to_persons(small_long_file):
    _, records = read_all(small_long_file)
    first = next(r for r in records if r.region_code == 1509 and r.year == 1950)
    assert first.persons == 721_866_476


def test_last_estimate_year_can_be_given(small_long_file):
    reader, records = read_all(small_long_file, last_estimate_year=2000)
    assert max(r.year for r in records if r.variant == wpp.ESTIMATES) == 2000


def test_real_excerpt_allows_missing_parents_and_a_cut_off_location(wpp2022_excerpt):
    reader, records = read_all(wpp2022_excerpt)
    assert reader.edition == "WPP2022"
    assert reader.last_estimate_year == 2021
    assert len(reader.locations) == 9
    assert len(records) == 6943
    who_years = [r.year for r in records if r.region_code == 1820]
    assert max(who_years) == 1996


def test_gzipped_long_file_with_bom_reads_the_same(tmp_path, small_long_file):
    content = b"\xef\xbb\xbf" + small_long_file.read_bytes()
    path = write(tmp_path, "WPP2024_TotalPopulationBySex.csv.gz", gzip.compress(content))
    reader, records = read_all(path)
    assert reader.edition == "WPP2024"
    assert len(records) == len(read_all(small_long_file)[1])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "The file is empty."),
        ("\n\n", "line 1: The first line is empty"),
        ("a;b;c\n1;2;3\n", "line 1: Unknown header"),
        ("LocID,Location,Variant,Time\n1,X,Medium,1950\n", "line 1: Missing column(s) PopTotal"),
        ("Index,Variant,Country code,Type\n", "line 1: Missing column(s) Region, subregion"),
        (LONG_HEADER, "no data rows"),
        (
            long_rows(",1,,,,,A,Medium,1950,abc", ",1,,,,,A,Low,2022,1"),
            "line 2, column 'PopTotal': 'abc' is not a number",
        ),
        (
            long_rows(",1,,,,,A,Medium,1950,-5", ",1,,,,,A,Low,2022,1"),
            "line 2, column 'PopTotal': -5 is negative",
        ),
        (
            long_rows(",1,,,,,A,Medium,1950,", ",1,,,,,A,Low,2022,1"),
            "line 2, column 'PopTotal': '' is not a number",
        ),
        (
            long_rows(",1,,,,,A,Medium,19x0,5", ",1,,,,,A,Low,2022,1"),
            "line 2, column 'Time': '19x0' is not a whole number",
        ),
        (
            long_rows(",1,,,,,A,Low,2022,1", ",1,,,,,A,Medium,1850,5"),
            "line 3, column 'Time': 1850 is outside 1950–2100",
        ),
        (
            long_rows(",x,,,,,A,Medium,1950,5", ",1,,,,,A,Low,2022,1"),
            "line 2, column 'LocID': 'x' is not a whole number",
        ),
        (
            long_rows(",1,,,,,A,Medium,1950,5", ",1,,,,,A,Medium,1950,6", ",1,,,,,A,Low,2022,1"),
            "line 3: the same location, variant and year as line 2 appears again",
        ),
        (
            long_rows(",1,,,,77,A,Medium,1950,5", ",1,,,,77,A,Low,2022,1"),
            "line 2: parent code 77 of 'A' is not a location in the file",
        ),
        (long_rows(",1,,,,,A,Medium,1950,5"), "Cannot tell where the estimates end"),
        (long_rows(",1,,,,,A,Medium,1950,5,extra", ",1,,,,,A,Low,2022,1"), "The CSV is malformed"),
    ],
    ids=[
        "empty",
        "blank-header",
        "wrong-delimiter",
        "missing-column",
        "wide-missing-column",
        "header-only",
        "non-numeric",
        "negative",
        "empty-value",
        "bad-year",
        "year-out-of-range",
        "bad-code",
        "duplicate",
        "unknown-parent",
        "only-medium",
        "extra-field",
    ],
)
def test_bad_file_is_rejected_with_line_and_column(tmp_path, content, expected):
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(wpp.WppFormatError) as raised:
        read_all(path)
    assert expected in str(raised.value)


def test_undecodable_bytes_name_their_line(tmp_path):
    content = long_rows(
        ",1,,,,,A,Medium,1950,5", ",1,,,,,A,Low,2022,1"
    ).encode() + "2,Zürich".encode("latin-1")
    path = write(tmp_path, "latin1.csv", content)
    with pytest.raises(wpp.WppFormatError, match="line 4: bytes that are not valid utf-8"):
        read_all(path)


def test_truncated_gzip_is_rejected(tmp_path, small_long_file):
    data = gzip.compress(small_long_file.read_bytes())
    path = write(tmp_path, "cut.csv.gz", data[: len(data) // 2])
    with pytest.raises(wpp.WppFormatError, match="gzip data is damaged or truncated"):
        read_all(path)


def test_wide_file_with_text_in_a_year_column_names_it(tmp_path, small_wide_file):
    text = small_wide_file.read_bytes().decode("latin-1").replace(" 2 536 431", "lots", 1)
    path = write(tmp_path, "bad_wide.csv", text, encoding="latin-1")
    with pytest.raises(wpp.WppFormatError, match="line 2, column '1950': 'lots' is not a number"):
        read_all(path)


def test_download_without_network_says_how_to_pass_a_file(tmp_path):
    with pytest.raises(wpp.WppFormatError, match="pass a local WPP file"):
        wpp.download("http://127.0.0.1:9/WPP2024.csv.gz", tmp_path, timeout=2, allow_private=True)
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]
