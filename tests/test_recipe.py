"""Reading a recipe: YAML, base recipes, --key=value overrides, and loud errors for typos.

The training recipe (:class:`~livegen.config.TrainConfig`, through :func:`load_config`) is
the real recipe these readers serve, so it is the one read here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from livegen.config import DataConfig, TrainConfig, load_config
from livegen.recipe import ConfigError, from_dict, to_dict


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_base_recipe_is_read_first_and_the_file_wins_key_by_key(tmp_path):
    write(tmp_path, "data:\n  source: bach\n  limit: 7\ncodec:\n  name: poly\n", "under.yaml")
    path = write(tmp_path, "base: under.yaml\ndata:\n  limit: 3\n", "over.yaml")
    cfg = load_config(path, ["--train.epochs=2"])
    assert (cfg.data.source, cfg.data.limit, cfg.codec.name) == ("bach", 3, "poly")
    assert cfg.train.name == "over" and cfg.train.epochs == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("base: nowhere.yaml\n", "base recipe .*nowhere.yaml not found"),
        ("base: 3\n", "base must name a recipe file"),
        ("base: loop.yaml\n", "leads back to this recipe"),
        ("base: under.yaml\ndata:\n  sorce: bach\n", "unknown key 'data.sorce'"),
    ],
)
def test_a_bad_base_is_one_line_naming_the_recipe(tmp_path, text, words):
    write(tmp_path, "model:\n  n_hidden: 8\n", "under.yaml")
    path = write(tmp_path, text, "loop.yaml")
    with pytest.raises(ConfigError, match=words) as err:
        load_config(path, [])
    assert "loop.yaml" in str(err.value) and "\n" not in str(err.value)


def test_overrides_dotted_and_flat(tmp_path):
    path = write(tmp_path, "train:\n  lr: 0.01\n  epochs: 5\n")
    cfg = load_config(
        path,
        [
            "--train.lr=1e-3",
            "--epochs=3",
            "--limit=null",
            "--dropout=0.2",
            "--amp=false",
            "--grad_clip=2",  # an int is fine for a float field
            "--codec.params.ticks_per_quarter=8",
            "--data.source=some/folder",
        ],
    )
    assert cfg.train.lr == pytest.approx(1e-3)
    assert cfg.train.epochs == 3 and cfg.data.limit is None and cfg.model.dropout == 0.2
    assert cfg.train.amp is False
    assert cfg.train.grad_clip == 2.0 and isinstance(cfg.train.grad_clip, float)
    assert cfg.codec.params == {"ticks_per_quarter": 8}
    assert cfg.data.source == "some/folder"
    # later overrides win
    assert load_config(path, ["--lr=1", "--train.lr=0.5"]).train.lr == 0.5


def test_ambiguous_flat_override():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["--seed=3"])
    assert "--data.seed" in str(e.value) and "--train.seed" in str(e.value)


def test_unknown_key_in_yaml(tmp_path):
    path = write(tmp_path, "model:\n  n_hiden: 128\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, [])
    msg = str(e.value)
    assert str(path) in msg and "model.n_hiden" in msg
    assert "n_hidden" in msg and "n_layer" in msg  # lists the valid keys


def test_unknown_section_in_yaml(tmp_path):
    path = write(tmp_path, "optim:\n  lr: 1\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, [])
    assert str(path) in str(e.value) and "'optim'" in str(e.value) and "train" in str(e.value)


@pytest.mark.parametrize("arg", ["--train.lrr=1", "--lrr=1", "--trian.lr=1", "--train.lr.x=1"])
def test_unknown_key_in_override(arg):
    with pytest.raises(ConfigError) as e:
        load_config(None, [arg])
    assert arg in str(e.value)


def test_unknown_override_lists_valid_keys():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["--train.lrr=1"])
    msg = str(e.value)
    assert "train.lrr" in msg and "weight_decay" in msg and "did you mean 'train.lr'" in msg


@pytest.mark.parametrize("arg", ["--lr", "lr=1", "--=1"])
def test_malformed_override(arg):
    with pytest.raises(ConfigError, match="override"):
        load_config(None, [arg])


def test_wrong_type_in_yaml(tmp_path):
    path = write(tmp_path, "train:\n  epochs: ten\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, [])
    msg = str(e.value)
    assert str(path) in msg and "train.epochs" in msg and "int" in msg and "'ten'" in msg


@pytest.mark.parametrize(
    "arg, words",
    [
        ("--amp=1", ["train.amp", "bool", "1"]),  # bool must be a bool
        ("--epochs=2.5", ["train.epochs", "int", "2.5"]),
        ("--lr=true", ["train.lr", "float", "True"]),
        ("--limit=many", ["data.limit", "int or null", "'many'"]),
        ("--codec.params=3", ["codec.params", "mapping"]),
    ],
)
def test_wrong_type_in_override(arg, words):
    with pytest.raises(ConfigError) as e:
        load_config(None, [arg])
    for word in words:
        assert word in str(e.value)
    assert arg in str(e.value)


def test_broken_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "train:\n  lr: 0.1\n  epochs: [1, 2\nmodel:\n  n_layer: 1\n")
    with pytest.raises(ConfigError) as e:
        load_config(path, [])
    msg = str(e.value)
    assert msg.startswith(f"{path}:") and "broken YAML" in msg
    line = int(msg[len(str(path)) + 1 :].split(":")[0])
    assert 3 <= line <= 5


def test_yaml_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- 1\n- 2\n"), [])
    with pytest.raises(ConfigError, match="train"):
        load_config(write(tmp_path, "train: 3\n"), [])
    assert load_config(write(tmp_path, "# nothing\n", "empty.yaml"), []).train.name == "empty"


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", [])


def test_to_dict_from_dict_round_trip():
    cfg = load_config(None, ["--lr=0.5", "--limit=7", "--codec.params.low=40"])
    tree = to_dict(cfg)
    assert tree["train"]["lr"] == 0.5 and tree["codec"]["params"] == {"low": 40}
    assert from_dict(TrainConfig, tree, "test") == cfg


def test_from_dict_generic():
    assert from_dict(DataConfig, {"limit": 3}, "live.yaml", "data.").limit == 3
    with pytest.raises(ConfigError) as e:
        from_dict(DataConfig, {"limt": 3}, "live.yaml", "data.")
    assert "live.yaml" in str(e.value) and "data.limt" in str(e.value)


def test_a_style_is_added_or_repointed_from_the_command_line(tmp_path):
    # configs/style_poly.yaml's piano source is only where this project keeps the file: a
    # user points it at their copy with --data.styles.piano=PATH (a `dict | None` field).
    path = write(tmp_path, "data:\n  styles: {folk: essen-erk, piano: here.json}\n")
    cfg = load_config(path, ["--data.styles.piano=/my/piano_midi.json"])
    assert cfg.data.styles == {"folk": "essen-erk", "piano": "/my/piano_midi.json"}
    assert load_config(None, ["--data.styles.folk=essen-erk"]).data.styles == {
        "folk": "essen-erk"
    }  # from `styles: null`, the default
    with pytest.raises(ConfigError, match="data.styles"):
        load_config(path, ["--data.styles.piano=3"])  # a source is a path or a name
