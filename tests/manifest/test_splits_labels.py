"""Deterministic splits (hash / list / identity) and label files."""

from __future__ import annotations

import json

import pytest
from scipy import stats

from styleinv_data.manifest import BuildConfig, ManifestError, SplitConfig, build_manifest, parse_fractions
from styleinv_data.manifest.labels import label_index, read_identities, read_label_names
from styleinv_data.manifest.splits import assign_splits, split_by_hash

IDS = [f"video_{i:05d}" for i in range(3000)]


def test_hash_split_fractions_follow_the_binomial():
    splits = split_by_hash(IDS, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    counts = [sum(1 for s in splits.values() if s == name) for name in ("train", "val", "test")]
    chi2 = stats.chisquare(counts, [2400, 300, 300])
    assert chi2.pvalue > 1e-3, counts


def test_hash_split_is_deterministic_and_stable_when_videos_are_added():
    a = split_by_hash(IDS[:1000], {"train": 0.5, "val": 0.5}, seed=0)
    b = split_by_hash(IDS, {"train": 0.5, "val": 0.5}, seed=0)
    assert all(b[k] == v for k, v in a.items())
    c = split_by_hash(IDS[:1000], {"train": 0.5, "val": 0.5}, seed=1)
    assert sum(a[k] != c[k] for k in a) > 300  # another seed reshuffles


def test_identity_keeps_all_its_videos_in_one_split():
    identities = {vid: f"person_{i // 7}" for i, vid in enumerate(IDS)}
    splits = assign_splits(IDS, SplitConfig(fractions={"train": 0.7, "val": 0.3}, identities=identities))
    by_person: dict[str, set[str]] = {}
    for vid, split in splits.items():
        by_person.setdefault(identities[vid], set()).add(split)
    assert all(len(s) == 1 for s in by_person.values())
    assert {"train", "val"} == set(splits.values())


def test_split_list_file(tmp_path):
    listing = tmp_path / "splits.txt"
    listing.write_text("# id split\nvideo_00000 test\nvideo_00001,train\n")
    out = assign_splits(IDS[:2], SplitConfig(list_path=listing))
    assert out == {"video_00000": "test", "video_00001": "train"}
    with pytest.raises(ManifestError, match=r"video 'video_00002' has no split"):
        assign_splits(IDS[:3], SplitConfig(list_path=listing))
    js = tmp_path / "splits.json"
    js.write_text(json.dumps({"video_00000": "val"}))
    assert assign_splits(IDS[:1], SplitConfig(list_path=js)) == {"video_00000": "val"}


def test_split_list_that_breaks_an_identity_is_refused(tmp_path):
    listing = tmp_path / "splits.csv"
    listing.write_text("id,split\na,train\nb,val\n")
    with pytest.raises(ManifestError, match=r"identity 'p1' is in split 'train' \(video 'a'\) and 'val'"):
        assign_splits(["a", "b"], SplitConfig(list_path=listing, identities={"a": "p1", "b": "p1"}))


@pytest.mark.parametrize("text", ["train=0.5,val=0.4", "train=1.2", "train", "a=0.5,a=0.5", "bad name=1"])
def test_bad_fractions(text):
    with pytest.raises(ManifestError):
        parse_fractions(text)


def test_build_with_identities_and_list(frames_dataset, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("id,identity\nclip_a,p1\nclip_b,p1\nclip_c,p2\n")
    m = build_manifest(frames_dataset.root, BuildConfig(identities_path=ids,
                                                        split=SplitConfig(fractions={"train": 0.5, "val": 0.5})))
    assert [r.identity for r in m.records] == ["p1", "p1", "p2"]
    assert m.records[0].split == m.records[1].split
    assert m.header.split_method["key"] == "identity"
    assert sum(m.header.splits.values()) == 3


CELEBVHQ_INFO = {
    "meta_info": {"appearance_mapping": ["blurry", "male", "young"], "action_mapping": ["talk", "smile"]},
    "clips": {
        "clip_a": {"ytb_id": "AAA", "duration": {"start_sec": 10.0, "end_sec": 14.5},
                   "attributes": {"appearance": [0, 1, 1], "action": [1, 0],
                                  "emotion": {"sep_flag": False, "labels": "neutral"}}},
        "clip_b": {"ytb_id": "BBB", "duration": {"start_sec": 3.0, "end_sec": 9.0},
                   "attributes": {"appearance": [0, 0, 1], "action": [1, 1],
                                  "emotion": {"sep_flag": True, "labels": [
                                      {"emotion": "happy", "start_sec": 3.0, "end_sec": 4.0},
                                      {"emotion": "sad", "start_sec": 4.0, "end_sec": 9.0}]}}},
        "clip_c": {"ytb_id": "CCC", "duration": {"start_sec": 0.0, "end_sec": 2.0},
                   "attributes": {"appearance": [1, 0, 0], "action": [0, 0],
                                  "emotion": {"sep_flag": False, "labels": "neutral"}}},
    },
}


def test_celebvhq_labels(tmp_path, frames_dataset):
    path = tmp_path / "celebvhq_info.json"
    path.write_text(json.dumps(CELEBVHQ_INFO))
    assert read_label_names(path) == {"clip_a": "neutral", "clip_b": "sad", "clip_c": "neutral"}
    assert read_label_names(path, "appearance:male") == {"clip_a": "male", "clip_b": "not_male", "clip_c": "not_male"}
    assert read_label_names(path, "action:smile")["clip_b"] == "smile"
    with pytest.raises(ManifestError, match="appearance attribute 'bald' is not in meta_info.appearance_mapping"):
        read_label_names(path, "appearance:bald")
    # no crop sidecars: the CelebV-HQ time span becomes the source span
    import shutil

    shutil.rmtree(frames_dataset.root / "_meta")
    m = build_manifest(frames_dataset.root, BuildConfig(labels_path=path))
    assert m.header.label_names == ["neutral", "sad"]
    b = m.by_id("clip_b")
    assert (b.label, b.label_name, b.source.video, b.source.start_sec, b.source.stop_sec) == (1, "sad", "youtube:BBB", 3.0, 9.0)


def test_label_files_and_codes(tmp_path):
    csv_path = tmp_path / "l.csv"
    csv_path.write_text("video_id,cls\nx,3\ny,0\n")
    assert read_label_names(csv_path, "cls") == {"x": "3", "y": "0"}
    assert label_index(["3", "0"]) == ["0", "1", "2", "3"]
    assert label_index(["b", "a", "b"]) == ["a", "b"]
    with pytest.raises(ManifestError, match=r"no column 'label'"):
        read_label_names(csv_path)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ManifestError, match=r"expected a JSON object"):
        read_label_names(bad)
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps({"x": "p"}))
    assert read_identities(ids) == {"x": "p"}


def test_bundled_example_label_files_parse():
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "manifests" / "examples"
    assert read_label_names(examples / "celebvhq_info_format.json") == {"clipA_0": "neutral", "clipB_3": "sad"}
    assert read_label_names(examples / "labels.csv") == {"carphone": "talking"}
    assert read_identities(examples / "identities.csv") == {"carphone": "carphone_man"}
    assert assign_splits(["carphone"], SplitConfig(list_path=examples / "splits.txt")) == {"carphone": "train"}
