"""Local benchmark files (task.files): broken rows are skipped and counted with where they are; a file that
cannot be read at all is a one-line ConfigError naming it."""

import json

import pytest

from computematch.errors import ConfigError

from computematch.config import TaskConfig
from computematch.tasks.gsm8k import GSM8KTask
from computematch.tasks.hub import load_rows

ROW = {"question": "q", "answer": "1+1=<<1+1=2>>2\n#### 2"}


def _load(path, split="train"):
    return load_rows(TaskConfig(name="gsm8k", files={split: str(path)}), split)


def _write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _fails_in_one_line(path, *fragments):
    with pytest.raises(ConfigError) as error:
        _load(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith("task.files.train: ") and str(path) in message
    assert all(fragment in message for fragment in fragments), message


def test_a_truncated_last_line_is_skipped_and_named_by_file_and_line(tmp_path):
    path = _write_lines(tmp_path / "train.jsonl", [json.dumps(ROW)] * 3 + [json.dumps(ROW)[:25]])
    rows, skipped = _load(path)
    assert rows == [ROW] * 3
    assert skipped == {f"broken row (not a JSON object): {path}:4": 1}


def test_rows_that_are_not_objects_are_skipped_and_the_first_three_named(tmp_path):
    lines = [json.dumps(ROW), "[1, 2]", "", '"text"', "17", json.dumps(ROW), "null", "[" * 100000]
    rows, skipped = _load(_write_lines(tmp_path / "train.jsonl", lines))
    path = tmp_path / "train.jsonl"
    assert rows == [ROW, ROW]  # the blank line is no row, and not counted
    assert skipped == {f"broken row (not a JSON object): {path}:2, {path}:4, {path}:5, ...": 5}


def test_skipped_lines_reach_the_task_counts_beside_skipped_problems(tmp_path):
    lines = [json.dumps(ROW)] * 6 + ["{not json", json.dumps({"question": "no answer field"})]
    path = _write_lines(tmp_path / "rows.jsonl", lines)
    task = GSM8KTask(TaskConfig(name="gsm8k", files={"train": str(path), "test": str(path)}, train_size=2,
                                val_size=1, test_size=2, corpus_size=0, fewshot=0))
    task.make_splits()
    assert task.skipped["train"] == {f"broken row (not a JSON object): {path}:7": 1,
                                     "broken row (missing or malformed field)": 1}


def test_line_separators_inside_strings_do_not_split_a_row(tmp_path):
    row = {"question": "a\u2028b\x1cc", "answer": "#### 2"}
    path = tmp_path / "train.jsonl"
    path.write_text("\ufeff" + json.dumps(row, ensure_ascii=False) + "\r\n", encoding="utf-8")  # BOM, CRLF
    assert _load(path) == ([row], {})


def test_an_empty_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("")
    _fails_in_one_line(path, "no rows")


def test_a_file_of_broken_lines_is_a_one_line_error(tmp_path):
    _fails_in_one_line(_write_lines(tmp_path / "train.jsonl", ["[1]", "{oops"]), "no rows", "train.jsonl:1")


def test_binary_garbage_is_a_one_line_error(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(bytes(range(256)) * 4)
    _fails_in_one_line(path, "not UTF-8")


def test_a_missing_file_is_a_one_line_error(tmp_path):
    _fails_in_one_line(tmp_path / "train.jsonl", "does not exist")


def test_a_directory_is_a_one_line_error(tmp_path):
    (tmp_path / "train.jsonl").mkdir()
    _fails_in_one_line(tmp_path / "train.jsonl", "directory")


def test_an_unknown_suffix_is_a_one_line_error(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("question,answer\n")
    _fails_in_one_line(path, "not one of .jsonl, .json, .parquet")


def test_an_unreadable_file_is_a_one_line_error(tmp_path, monkeypatch):
    path = _write_lines(tmp_path / "train.jsonl", [json.dumps(ROW)])

    def denied(self):  # chmod 0 would not stop root, so the refusal is simulated
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "read_bytes", denied)
    _fails_in_one_line(path, "cannot be read (Permission denied)")


def test_a_json_list_loads_and_its_non_objects_are_skipped_by_index(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps([ROW, [1, 2], ROW]))
    assert _load(path) == ([ROW, ROW], {f"broken row (not a JSON object): {path}[1]": 1})


@pytest.mark.parametrize("key", ["data", "rows"])
def test_a_json_object_holding_the_rows_loads(tmp_path, key):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"version": 1, key: [ROW, ROW]}))
    assert _load(path) == ([ROW, ROW], {})


def test_json_lines_saved_as_json_load(tmp_path):
    assert _load(_write_lines(tmp_path / "train.json", [json.dumps(ROW)] * 2)) == ([ROW, ROW], {})


@pytest.mark.parametrize("text, fragment", [
    ('[{"question": "q"', "not valid JSON"), ('{"other": 1}', "a list of rows"), ("[]", "no rows"),
])
def test_a_broken_json_document_is_a_one_line_error(tmp_path, text, fragment):
    path = tmp_path / "train.json"
    path.write_text(text)
    _fails_in_one_line(path, fragment)


def test_parquet_loads_and_a_broken_one_is_a_one_line_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist([ROW, ROW]), path)
    assert _load(path) == ([ROW, ROW], {})
    path.write_bytes(path.read_bytes()[:40])
    _fails_in_one_line(path, "not a readable parquet file")
