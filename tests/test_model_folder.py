"""The model folder: a whole pipeline as plain data, loaded only once every check passes.

Hostile folders (what a crafted or tampered folder could hold) must be refused with one
line, and must run nothing: each payload would create a marker file, and every test checks
that the marker was not made. A prediction must depend on the patient and the model only.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from xgboost import XGBClassifier

from ramultimodal.cli import main
from ramultimodal.fusion import CohortPipeline, ModelFolderError, load_model, save_model
from ramultimodal.io import read_cohort
from ramultimodal.models import make_pipeline
from ramultimodal.synthetic import make_cohort, write_cohort
from ramultimodal.workflows import predict_dataset

pytestmark = pytest.mark.slow

CNN = {"image_size": 32, "max_epochs": 2, "batch_size": 16}
SOURCES = ("csv", "fhir-ndjson", "fhir-bundles")


class Payload:
    """Unpickling this creates `marker`: proof that something ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    cohort = make_cohort(40, image_size=32, seed=3)
    return write_cohort(cohort, root / "cohort")


@pytest.fixture(scope="module")
def records(cohort_dir):
    return read_cohort(cohort_dir, source="csv")


@pytest.fixture(scope="module")
def pristine(records, tmp_path_factory):
    """A saved stacking pipeline with every kind of file: JSON, LightGBM text, XGBoost
    JSON, and a bag of fold CNNs (safetensors + JSON each)."""
    meta = XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1)
    pipeline = make_pipeline(
        "stacking", image_params=CNN, fusion_params={"cv": 2, "final_estimator": meta}
    ).fit(records, records.labels.to_numpy())
    folder = save_model(pipeline, tmp_path_factory.mktemp("models") / "pristine")
    return pipeline, folder


@pytest.fixture
def copy(pristine, tmp_path):
    """A fresh copy of the pristine folder to damage."""
    return Path(shutil.copytree(pristine[1], tmp_path / "model"))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "ran"
    yield path
    assert not path.exists(), "something in the model folder was executed"


def rehash(folder: Path) -> None:
    """Make the manifest's sha256s match the files again, as an attacker would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in manifest["files"]
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def refused(folder: Path, match: str) -> str:
    with pytest.raises(ModelFolderError, match=match) as caught:
        load_model(folder)
    message = str(caught.value)
    assert "\n" not in message
    return message


def write_root(folder: Path, root: dict) -> None:
    (folder / "model.json").write_text(json.dumps(root))
    rehash(folder)


# -- a pipeline, saved whole ------------------------------------------------------------------


def test_the_folder_holds_the_whole_pipeline(pristine, records):
    pipeline, folder = pristine
    loaded = load_model(folder)
    assert isinstance(loaded, CohortPipeline)
    np.testing.assert_array_equal(loaded.predict_proba(records), pipeline.predict_proba(records))
    pd.testing.assert_frame_equal(
        loaded.predict_modalities(records), pipeline.predict_modalities(records)
    )
    # The fitted featurizer came back with what it learned, and without any patient data.
    saved, fitted = loaded.named_steps["features"].ehr_, pipeline.named_steps["features"].ehr_
    np.testing.assert_array_equal(saved.get_feature_names_out(), fitted.get_feature_names_out())
    assert saved.events is None
    text = (folder / "model.json").read_text()
    assert not any(subject in text for subject in records.subject_ids)
    # The loaded pipeline is a scikit-learn estimator like the one that was saved.
    assert clone(loaded).get_params()["model__cv"] == 2
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["saved_by"]["ramultimodal"] and manifest["terminology"]
    assert manifest["saved_by"]["scikit-learn"] and manifest["saved_by"]["torch"]


def test_saved_folders_get_the_users_normal_permissions(pristine):
    umask = os.umask(0)
    os.umask(umask)
    assert pristine[1].stat().st_mode & 0o777 == 0o777 & ~umask


# -- a prediction depends on the patient and the model only ------------------------------


def single_patient_cohort(cohort_dir: Path, subject: str, out: Path) -> Path:
    """The cohort folder of one patient, in every format, as another export would hold it."""
    out.mkdir()
    for name in ("patients.csv", "labels.csv", "events.csv", "images.csv"):
        table = pd.read_csv(cohort_dir / name, dtype=str)
        table = table[table["subject_id"] == subject]
        if name == "images.csv":
            table["path"] = [str(cohort_dir / path) for path in table["path"]]
        table.to_csv(out / name, index=False)
    (out / "fhir" / "ndjson").mkdir(parents=True)
    for path in (cohort_dir / "fhir" / "ndjson").iterdir():
        lines = [line for line in path.read_text().splitlines() if subject in line]
        (out / "fhir" / "ndjson" / path.name).write_text("".join(f"{x}\n" for x in lines))
    (out / "fhir" / "bundles").mkdir()
    shutil.copy(cohort_dir / "fhir" / "bundles" / f"{subject}.json", out / "fhir" / "bundles")
    return out


@pytest.mark.parametrize("gbm", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("kind", ["late", "stacking", "early"])
def test_a_patients_probability_does_not_depend_on_the_others(
    kind, gbm, cohort_dir, records, tmp_path
):
    params = {"cv": 2} if kind != "early" else {}
    pipeline = make_pipeline(kind, image_params=CNN, fusion_params=params, gbm=gbm)
    pipeline.fit(records, records.labels.to_numpy())
    folder = save_model(pipeline, tmp_path / "model")
    in_memory = pd.Series(pipeline.predict_proba(records)[:, 1], index=records.subject_ids)
    images = dict(zip(records.subject_ids, records.image_lists(), strict=True))
    # One patient with a radiograph, one without.
    chosen = [next(s for s, i in images.items() if i), next(s for s, i in images.items() if not i)]
    for source in SOURCES:
        full = predict_dataset(folder, cohort_dir, source=source)["proba"]
        np.testing.assert_allclose(full, in_memory, atol=1e-6, rtol=0)
        for subject in chosen:
            alone = single_patient_cohort(cohort_dir, subject, tmp_path / f"{source}-{subject}")
            one = predict_dataset(folder, alone, source=source)["proba"]
            assert one.index.tolist() == [subject]
            assert abs(one.iloc[0] - full[subject]) <= 1e-6, (source, subject)


# -- hostile folders ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, params",
    [
        ("numpy.testing._private.utils.subprocess.Popen", {"args": ["touch", "{marker}"]}),
        ("ramultimodal.cli.subprocess.Popen", {"args": ["touch", "{marker}"]}),
        ("scipy._lib._testutils.subprocess.Popen", {"args": ["touch", "{marker}"]}),
        ("builtins.eval", {"source": "open('{marker}', 'w')"}),
        ("os.system", {"command": "touch {marker}"}),
        ("numpy.load", {"file": "{marker}.npy", "allow_pickle": True}),
    ],
)
def test_a_class_outside_the_table_is_refused(name, params, copy, marker):
    params = json.loads(json.dumps(params).replace("{marker}", str(marker)))
    if name == "numpy.load":
        np.save(f"{marker}.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    node = {"estimator": {"class": name, "id": 0, "params": params, "state": {}}}
    write_root(copy, node)
    refused(copy, "which a model folder may not hold")


def test_a_hidden_class_deep_in_the_model_is_refused(pristine, copy, marker):
    root = json.loads((pristine[1] / "model.json").read_text())
    text = json.dumps(root).replace(
        '"class": "sklearn.linear_model.LogisticRegression"', '"class": "posix.system"'
    )
    text = text.replace('"class": "lightgbm.LGBMClassifier"', '"class": "os.system"', 1)
    write_root(copy, json.loads(text))
    refused(copy, "may not hold")


def test_a_pickle_under_every_file_name_is_refused(pristine, tmp_path, marker):
    payload = pickle.dumps(Payload(marker))
    names = [*json.loads((pristine[1] / "manifest.json").read_text())["files"], "manifest.json"]
    assert any(name.endswith(".txt") for name in names)  # LightGBM
    assert any(name.endswith(".safetensors") for name in names)  # the CNN
    for name in names:
        folder = Path(shutil.copytree(pristine[1], tmp_path / name.replace("/", "_")))
        (folder / name).write_bytes(payload)
        if name != "manifest.json":
            rehash(folder)
        refused(folder, ".")


def test_a_pickle_in_the_safetensors_header_is_refused(pristine, copy, marker):
    from safetensors.torch import load_file, save_file

    # Two fold networks (the cross-fitted image model, cv=2): the last one is damaged.
    weights = sorted(copy.rglob("model.safetensors"))[-1]
    reduce = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    save_file(load_file(weights), str(weights), metadata={"__reduce__": reduce})
    rehash(copy)
    refused(copy, "unexpected metadata")


def test_an_array_read_from_a_file_is_refused(copy, marker):
    np.save(copy / "estimators" / "x.npy", np.array([Payload(marker)]), allow_pickle=True)
    root = json.loads((copy / "model.json").read_text())
    root["estimator"]["state"]["extra_"] = {"ndarray": {"file": "estimators/x.npy"}}
    write_root(copy, root)
    refused(copy, "malformed array")


def test_a_parameter_the_class_does_not_have_is_refused(pristine, copy):
    text = (pristine[1] / "model.json").read_text()
    assert '"lookback_days":' in text
    write_root(copy, json.loads(text.replace('"lookback_days":', '"lookback":', 1)))
    refused(copy, "EHRFeaturizer has no parameter 'lookback'")


def test_a_dunder_attribute_is_refused(copy):
    root = json.loads((copy / "model.json").read_text())
    root["estimator"]["state"]["__class__"] = "x"
    write_root(copy, root)
    refused(copy, "may not hold the attribute '__class__'")


def test_paths_must_stay_inside_the_folder(pristine, copy, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("tree\n")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["../outside.txt"] = hashlib.sha256(outside.read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    refused(copy, "not a file inside the model folder")
    manifest["files"].pop("../outside.txt")
    manifest["files"][str(outside)] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    refused(copy, "not a file inside the model folder")
    # A node pointing at a file the manifest does not list.
    shutil.rmtree(copy)
    shutil.copytree(pristine[1], copy)
    text = (copy / "model.json").read_text()
    booster = text.split('"lightgbm_booster": "')[1].split('"')[0]
    write_root(copy, json.loads(text.replace(booster, "../outside.txt")))
    refused(copy, "which the manifest lacks")
    # A listed file that is a symbolic link out of the folder.
    shutil.rmtree(copy)
    shutil.copytree(pristine[1], copy)
    shutil.copy(copy / booster, outside)
    (copy / booster).unlink()
    (copy / booster).symlink_to(outside)
    refused(copy, "symbolic link")


def test_a_truncated_booster_is_refused_without_aborting_the_process(pristine, copy, tmp_path):
    text = (pristine[1] / "model.json").read_text()
    booster = copy / text.split('"lightgbm_booster": "')[1].split('"')[0]
    booster.write_text(booster.read_text()[: len(booster.read_text()) // 2])
    rehash(copy)
    # In a child process: if LightGBM read this, it would abort (exit 134) or crash.
    cohort = tmp_path / "none"
    command = (
        "import sys; from ramultimodal.cli import main; sys.exit(main(['predict', '--model', "
        f"{str(copy)!r}, '--data', {str(cohort)!r}, '--out', {str(tmp_path / 'p.csv')!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "truncated" in done.stderr
    assert "[LightGBM]" not in done.stderr


def test_an_xgboost_tree_pointing_outside_itself_is_refused(pristine, copy):
    text = (pristine[1] / "model.json").read_text()
    name = text.split('"xgboost_booster": "')[1].split('"')[0]
    model = json.loads((copy / name).read_text())
    model["learner"]["gradient_booster"]["model"]["trees"][0]["left_children"][0] = 99999
    (copy / name).write_text(json.dumps(model))
    rehash(copy)
    refused(copy, "child outside the tree")


def test_one_flipped_byte_in_any_file_is_found_by_its_hash(pristine, tmp_path):
    for name in json.loads((pristine[1] / "manifest.json").read_text())["files"]:
        folder = Path(shutil.copytree(pristine[1], tmp_path / name.replace("/", "_")))
        data = bytearray((folder / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (folder / name).write_bytes(bytes(data))
        # (How long the refusal takes is in benchmarks/bench_model_folder.py.)
        message = refused(folder, "does not match its sha256")
        assert name in message


def test_other_format_versions_are_refused_with_what_to_do(copy, marker):
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "format_version": 3}))
    refused(copy, r"ramultimodal .* \(model format 3\); this is ramultimodal .*upgrade")
    # A folder of the previous format, skops state and all: refused before it is opened.
    legacy = {
        "format": "ramultimodal.fusion",
        "format_version": 1,
        "class": "StackingFusionClassifier",
        "versions": {"ramultimodal": "0.1.0.dev0"},
    }
    (copy / "manifest.json").write_text(json.dumps(legacy))
    (copy / "state.skops").write_bytes(pickle.dumps(Payload(marker)))
    message = refused(copy, "model format 1")
    assert "skops" in message and "ramultimodal train" in message


def test_a_model_saved_with_other_library_versions_warns(copy):
    from ramultimodal.fusion import ModelVersionWarning

    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["saved_by"]["scikit-learn"] = "0.1"
    manifest["terminology"] = "0" * 16
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(ModelVersionWarning) as warned:
        load_model(copy)
    messages = " ".join(str(w.message) for w in warned)
    assert "scikit-learn 0.1" in messages and "terminology" in messages


def test_the_cli_refuses_a_damaged_model_in_one_line(copy, cohort_dir, tmp_path, capsys):
    (copy / "model.json").write_text("{")
    out = tmp_path / "p.csv"
    args = ["predict", "--model", str(copy), "--data", str(cohort_dir), "--out", str(out)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sha256" in err and "Traceback" not in err
    assert not out.exists()


# -- outputs ------------------------------------------------------------------------------


def test_force_replaces_only_what_ramultimodal_wrote(cohort_dir, tmp_path, capsys, monkeypatch):
    import ramultimodal.workflows._model_dir as workflows

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")

    def no_training(*args, **kwargs):
        raise AssertionError("the output should be refused before the data are read")

    monkeypatch.setattr(workflows, "read_cohort", no_training)
    args = ["train", "--data", str(cohort_dir), "--model", "late", "--out", str(mine), "--force"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "not written by ramultimodal" in err and err.count("\n") == 1
    assert (mine / "thesis.tex").read_text() == "years of work"

    # A predictions file: replaced only if it is one.
    (tmp_path / "notes.csv").write_text("my,own\n1,2\n")
    (tmp_path / "old.csv").write_text("subject_id,proba\nx,0.5\n")
    model = tmp_path / "no-model"
    for name, status in (("notes.csv", 1), ("old.csv", 1)):
        predict = ["predict", "--model", str(model), "--data", str(cohort_dir)]
        assert main([*predict, "--out", str(tmp_path / name), "--force"]) == status
    err = capsys.readouterr().err
    assert "is not a file ramultimodal wrote" in err  # notes.csv, refused before loading
    assert "not a saved model" in err  # old.csv passed the check; the model is missing
    assert (tmp_path / "notes.csv").read_text() == "my,own\n1,2\n"


def test_a_second_writer_fails_clearly(cohort_dir, tmp_path, capsys):
    out = tmp_path / "model"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from ramultimodal._staging import output_lock\n"
            f"with output_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        args = ["train", "--data", str(cohort_dir), "--model", "late", "--out", str(out)]
        assert main(args) == 1
        err = capsys.readouterr().err
        assert f"being written by another ramultimodal process (pid {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()
    # The writer died without cleaning up: its lock went with it.
    from ramultimodal._staging import output_lock

    with output_lock(out):
        assert (tmp_path / ".model.lock").read_text() == str(os.getpid())
    assert not (tmp_path / ".model.lock").exists()


def test_one_thread_at_a_time_writes_an_output(tmp_path):
    from ramultimodal._staging import OutputError, output_lock

    out, errors = tmp_path / "report", []
    with output_lock(out), output_lock(out):  # the same thread may take it again

        def other():
            try:
                with output_lock(out):
                    pass
            except OutputError as error:
                errors.append(str(error))

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert errors and "another thread" in errors[0]
    # Another spelling of the same path is the same lock.
    with output_lock(out), output_lock(tmp_path / "x" / ".." / "report"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_sigterm_cleans_up_as_ctrl_c_does(tmp_path):
    out = tmp_path / "big"
    command = [
        sys.executable,
        "-c",
        "import sys; from ramultimodal.cli import main; "
        f"sys.exit(main(['synth', {str(out)!r}, '--n-patients', '600', '--image-size', '64', "
        "'-q']))",
    ]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not any(p.name.startswith(".big.partial") for p in tmp_path.iterdir()):
        assert time.time() < deadline and child.poll() is None, "synth never started writing"
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 143, err
    assert "terminated" in err
    assert list(tmp_path.iterdir()) == []  # no half-written cohort, no lock file


def test_config_mistakes_are_one_line(cohort_dir, tmp_path, capsys):
    config = tmp_path / "config.json"
    for part, key, expected in (
        ("image_params", "max_epoch", "CNNImageClassifier has no parameter 'max_epoch' (did you "
         "mean 'max_epochs'?)"),
        ("fusion_params", "cv_folds", "StackingFusionClassifier has no parameter 'cv_folds'"),
        ("featurizer_params", "lookback", "EHRFeaturizer has no parameter 'lookback'"),
        ("ehr_params", "n_estimator", "LGBMClassifier has no parameter 'n_estimator'"),
    ):  # fmt: skip
        config.write_text(json.dumps({part: {key: 3}}))
        args = ["train", "--data", str(cohort_dir), "--model", "stacking"]
        assert main([*args, "--config", str(config), "--out", str(tmp_path / "m")]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and part in err and expected in err, err
    assert not (tmp_path / "m").exists()


def test_a_bare_fusion_folder_cannot_predict_a_cohort(records, cohort_dir, tmp_path):
    pipeline = make_pipeline("late", image_params=CNN, fusion_params={"cv": 2})
    features = pipeline.named_steps["features"].fit_transform(records)
    fusion = pipeline.named_steps["model"].fit(features, records.labels.to_numpy())
    folder = save_model(fusion, tmp_path / "bare")
    np.testing.assert_array_equal(
        load_model(folder).predict_proba(features), fusion.predict_proba(features)
    )
    with pytest.raises(ModelFolderError, match="without its feature extraction"):
        predict_dataset(folder, cohort_dir)


def test_gzip_is_not_a_way_in(copy, marker):
    # A gzipped pickle renamed to model.json is neither JSON nor anything else we read.
    (copy / "model.json").write_bytes(gzip.compress(pickle.dumps(Payload(marker))))
    rehash(copy)
    refused(copy, "not valid JSON")


def test_force_says_what_it_replaces_before_training(cohort_dir, tmp_path, capfd):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"image_params": CNN, "fusion_params": {"cv": 2}}))
    out = tmp_path / "model"
    args = ["train", "--data", str(cohort_dir), "--model", "late", "--config", str(config)]
    assert main([*args, "--out", str(out)]) == 0
    capfd.readouterr()
    assert main([*args, "--out", str(out), "--force"]) == 0
    captured = capfd.readouterr()
    assert "holds a model saved by ramultimodal; it will be replaced" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model"]


def test_a_model_that_computes_otherwise_than_when_saved_is_refused(pristine, copy):
    # A consistent, well-formed change (as another library version could make, or a hand
    # with a valid hash): the folder loads, but its check patients' answers differ.
    text = (pristine[1] / "model.json").read_text()
    name = text.split('"xgboost_booster": "')[1].split('"')[0]
    model = json.loads((copy / name).read_text())
    model["learner"]["learner_model_param"]["base_score"] = "[9E-1]"
    (copy / name).write_text(json.dumps(model))
    rehash(copy)
    refused(copy, "does not give its saved answers for the check patients")
    manifest = json.loads((pristine[1] / "manifest.json").read_text())
    assert len(manifest["check"]) == 2 and all(len(row) == 2 for row in manifest["check"])


def test_mutated_model_json_is_refused_or_predicts(pristine, records, tmp_path):
    """Random edits of model.json (with matching hashes): a ModelFolderError, or a model
    that predicts; never another exception."""
    rng = np.random.default_rng(0)
    values = [None, 0, -1, 2.5, "x", [], {}, {"tuple": 5}, {"ref": 999}, {"dtype": "M8"}]
    values += [{"ndarray": {"dtype": "<f8", "shape": [2], "data": ["a", 1]}}]
    root = json.loads((pristine[1] / "model.json").read_text())

    def paths(node, path=()):
        yield path
        children = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, child in children:
            yield from paths(child, (*path, key))

    every = list(paths(root))[1:]
    outcomes = {"refused": 0, "predicted": 0}
    for case in range(40):
        mutated = json.loads(json.dumps(root))
        *parents, last = every[rng.integers(len(every))]
        node = mutated
        for key in parents:
            node = node[key]
        node[last] = json.loads(json.dumps(values[rng.integers(len(values))]))
        folder = Path(shutil.copytree(pristine[1], tmp_path / str(case)))
        write_root(folder, mutated)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = load_model(folder)
        except ModelFolderError as error:
            assert "\n" not in str(error)
            outcomes["refused"] += 1
            continue
        assert loaded.predict_proba(records).shape == (len(records), 2)
        outcomes["predicted"] += 1
    assert outcomes["refused"] > 20


def test_force_never_replaces_a_users_file_put_into_an_output(pristine, tmp_path):
    folder = Path(shutil.copytree(pristine[1], tmp_path / "model"))
    (folder / "my notes.txt").write_text("do not lose")
    with pytest.raises(FileExistsError, match=r"ramultimodal did not write .*'my notes.txt'"):
        save_model(pristine[0], folder, overwrite=True)
    assert (folder / "my notes.txt").read_text() == "do not lose"
    (folder / "my notes.txt").unlink()
    save_model(pristine[0], folder, overwrite=True)  # only what it wrote: replaced


def test_a_predictions_file_is_replaced_only_if_it_is_one(tmp_path):
    from ramultimodal._staging import OutputError, staged_file

    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    lookalike = tmp_path / "mine.csv"
    lookalike.write_text("subject_id,probability_of_rain\nx,1\n")
    for path in (fifo, lookalike):
        with pytest.raises(OutputError, match="not a file ramultimodal wrote"):
            with staged_file(path, header="subject_id,proba", overwrite=True):
                raise AssertionError("never reached")
    ours = tmp_path / "ours.csv"
    ours.write_text("subject_id,proba,has_ehr\nx,0.5,True\n")
    with staged_file(ours, header="subject_id,proba", overwrite=True) as partial:
        partial.write_text("subject_id,proba\ny,0.25\n")
    assert ours.read_text() == "subject_id,proba\ny,0.25\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo.csv", "mine.csv", "ours.csv"]


def test_an_interrupt_between_the_renames_puts_the_old_output_back(tmp_path, monkeypatch):
    from ramultimodal._staging import staged_folder

    out = tmp_path / "report"
    with staged_folder(out, "report") as folder:
        (folder / "first.txt").write_text("1")
    real_rename = Path.rename

    def interrupted(self, target):
        if self.name.startswith(".report.partial-"):
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with staged_folder(out, "report", overwrite=True) as folder:
            (folder / "second.txt").write_text("2")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert (out / "first.txt").read_text() == "1"


def test_a_model_moved_to_a_cpu_of_another_kind_passes_its_check(pristine, monkeypatch):
    # Saved where the CPU computes bf16 (or not), loaded where it does not (or does): the
    # check patients are answered in float32 on the CPU both times.
    import ramultimodal.image._classifier as classifier

    here = classifier._cpu_has_native_bf16()
    monkeypatch.setattr(classifier, "_cpu_has_native_bf16", lambda: not here)
    assert isinstance(load_model(pristine[1]), CohortPipeline)
