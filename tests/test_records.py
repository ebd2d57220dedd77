"""Metrics files are typed, versioned records: written and read by one pair of functions, and a file that is not
the record it should be fails in one line naming the file and the key."""

import json

import pytest
from factories import data_record, eval_record, level

from computematch.measure.records import DataRecord, EvalRecord, RecordError, SftRecord, read_record, write_record


def test_a_record_reads_back_equal_with_its_schema_and_the_files_keys(tmp_path):
    record = eval_record(0.25, greedy=0.5, majority={"4": 0.3, "16": 0.4})
    write_record(tmp_path / "eval.json", record)
    raw = json.loads((tmp_path / "eval.json").read_text())
    assert raw["schema"] == "eval/1" and raw["pass@1"] == 0.25 and raw["maj@4"] == 0.3 and raw["maj@16"] == 0.4
    assert "majority" not in raw and "seconds" not in raw  # flattened; omitted while None
    assert read_record(tmp_path / "eval.json", EvalRecord) == record
    data = data_record(0.9, 2.0, None, 9e6, {"1": level(0.9, 2.0, None, 9e6)}, {"2": level(0.9, 2.0, None)})
    write_record(tmp_path / "data.json", data)
    assert read_record(tmp_path / "data.json", DataRecord) == data


@pytest.mark.parametrize("content, message", [
    ({"pass@1": 0.5}, "eval.json: key 'schema' missing: not a computematch record, or written by an older version"),
    ({"schema": "sft/1"}, "eval.json: a 'sft' record, expected 'eval' (eval/1)"),
    ({"schema": "eval/0"}, "eval.json: schema eval/0 is older than this computematch reads (eval/1); rerun `dvc repro`"),
    ({"schema": "eval/9"}, "eval.json: schema eval/9 is newer than this computematch reads (eval/1); upgrade"),
    ({"schema": "eval/1", "greedy": 0.5}, "eval.json: key 'pass@1' missing"),
    ({"schema": "eval/1", "pass@1": "high", "greedy": 0.5}, "eval.json.pass@1: must be a number, got 'high'"),
])
def test_an_old_foreign_or_malformed_file_is_a_one_line_error_naming_file_and_key(tmp_path, content, message):
    (tmp_path / "eval.json").write_text(json.dumps(content))
    with pytest.raises(RecordError) as error:
        read_record(tmp_path / "eval.json", EvalRecord)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_nested_error_names_the_key_path(tmp_path):
    record = {"schema": "sft/1", "variant": "full", "samples_per_problem": 3, "examples": 2, "coverage": None,
              "diversity": 1.0, "fpr": None}
    (tmp_path / "sft.json").write_text(json.dumps(record))
    with pytest.raises(RecordError, match=r"sft.json.coverage: must be float, got null"):
        read_record(tmp_path / "sft.json", SftRecord)
    (tmp_path / "sft.json").write_text("[1, 2]")
    with pytest.raises(RecordError, match="not a computematch record"):
        read_record(tmp_path / "sft.json", SftRecord)
